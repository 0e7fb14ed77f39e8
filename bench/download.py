"""One copy of each video: the time to keep a big video, in-process and through the app, and
the disk it takes.

Part 1, in-process: ``suxi.relay.fetch.fetch_file`` on asyncio, from the simulated relay (own
process) serving a 10 MB and a 200 MB file of random bytes: seconds, MB/s and this process's
peak RSS growth (sampled every 10 ms).

Part 2, through the app: one generation whose relay hands out the same file as the video, for
each kind of visitor (``raw``: ``/generate``; ``page``: the cards over ``POST /suxi/follow``).
Time to play = the visitor receives the finished job − the relay sent the video link (the link
follows the last stamped progress line at once, ``bench/relay_scripts.py``). Then the disk:
every file under the app's data folder and under GRADIO_TEMP_DIR (Gradio's cache), so a second
copy of the video would show.

    python bench/run.py download
    python bench/run.py download --quick      # 10 and 50 MB, one repetition
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.stats import print_table, print_targets, r
from bench.wave import run_wave, stamps


def make_file(path: Path, size_mb: int) -> Path:
    """Random bytes, written 1 MB at a time (this process never holds the file)."""
    with path.open("wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(2**20))
    return path


async def in_process(relay_url: str, tmp: Path, sizes: list[int], reps: int) -> list[dict]:
    from suxi.relay.fetch import fetch_file
    from suxi.relay.http import RelayHTTP
    from suxi.settings import Settings

    settings = Settings(
        api_key=procs.KEY, base_url=relay_url, data_dir=tmp / "inproc", download_timeout=600.0
    )
    http = RelayHTTP(settings)
    rows = []
    try:
        await fetch_file(http, f"{relay_url}/files/sample.mp4", tmp / "inproc" / "warm.mp4")
        sampler = procs.RssSampler(os.getpid(), every=0.01)
        try:
            for size in sizes:
                for rep in range(reps):
                    dest = tmp / "inproc" / f"v{size}-{rep}.mp4"
                    await asyncio.sleep(0.05)
                    before = sampler.reset()
                    t = time.perf_counter()
                    got = await fetch_file(http, f"{relay_url}/files/v{size}.mp4", dest)
                    seconds = time.perf_counter() - t
                    await asyncio.sleep(0.03)  # one more sample after the end
                    assert got.size == size * 2**20, got
                    dest.unlink()
                    rows.append(
                        {
                            "size_mb": size,
                            "rep": rep,
                            "seconds": round(seconds, 3),
                            "mb_per_s": round(size / seconds, 1),
                            "rss_growth_peak_mb": procs.mb(sampler.peak - before),
                        }
                    )
                    print(f"  {size} MB #{rep}: {seconds:.2f} s", flush=True)
        finally:
            sampler.stop()
    finally:
        await http.aclose()
    return rows


def disk(folder: Path) -> dict[str, Any]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    big = [p for p in files if p.stat().st_size > 2**20]
    return {
        "files": len(files),
        "mb": procs.mb(sum(p.stat().st_size for p in files)),
        "files_over_1mb": [str(p.relative_to(folder)) for p in big],
    }


def through_app(ctx, size: int, path: Path, via: str) -> dict[str, Any]:
    served = ("--file", f"v{size}.mp4={path}", "--video", f"/files/v{size}.mp4")
    relay, relay_url = procs.start_relay(
        ctx.tmp, "--seconds", "2", *served, name=f"relay-{size}-{via}"
    )
    app = procs.start_app(ctx.tmp, relay_url, name=f"app-{size}-{via}")
    try:
        idle = procs.rss_bytes(app.pid)
        usage = procs.Usage({"app": app.pid}, rss_every=0.01)
        t0 = time.time()
        seen = run_wave(app.url, 1, via, timeout=300)[0]
        used = usage.end()
        sent = stamps(relay.lines(), t0)
        url_sent = max(sent.values()) if sent else None
        data = disk(app.data_dir)
        cache = disk(ctx.tmp / f"app-{size}-{via}-gradio-tmp")
    finally:
        app.stop()
        relay.stop()
    done = seen.completed
    return {
        "size_mb": size,
        "via": via,
        "ok": seen.ok,
        "error": seen.error,
        "url_to_done_s": r(done - url_sent) if done and url_sent else None,
        "app_rss_growth_peak_mb": r(used["app"]["rss_peak_mb"] - procs.mb(idle), 1),
        "app_cpu_s": used["app"]["cpu_s"],
        "data_dir": data,
        "gradio_cache": cache,
        "copies_on_disk": len(data["files_over_1mb"]) + len(cache["files_over_1mb"]),
    }


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py download", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 and 50 MB, one repetition")
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args(argv)
    sizes = [10, 50] if args.quick else [10, 200]
    reps = args.reps or (1 if args.quick else 3)
    ctx.suffix = "-quick" if args.quick else ""
    ctx.results["params"] = {"sizes_mb": sizes, "reps": reps}
    files = {size: make_file(ctx.tmp / f"v{size}.bin", size) for size in sizes}
    relay, relay_url = procs.start_relay(
        ctx.tmp, *(a for s, p in files.items() for a in ("--file", f"v{s}.mp4={p}"))
    )
    print("… fetch_file in this process", flush=True)
    rows = asyncio.run(in_process(relay_url, ctx.tmp, sizes, reps))
    relay.stop()
    apps = []
    for size in sizes:
        for via in ("raw", "page"):
            print(f"… through the app, {size} MB, via {via}", flush=True)
            apps.append(through_app(ctx, size, files[size], via))
    ctx.results.update({"in_process": rows, "through_app": apps})
    print()
    print_table(
        ["size_MB", "rep", "seconds", "MB/s", "rss_growth_MB"],
        [[x["size_mb"], x["rep"], x["seconds"], x["mb_per_s"], x["rss_growth_peak_mb"]]
         for x in rows],
    )  # fmt: skip
    print()
    print_table(
        ["size_MB", "via", "ok", "url→done_s", "app_rss_growth_MB", "app_cpu_s", "data_MB",
         "gradio_cache_MB", "copies"],
        [[x["size_mb"], x["via"], x["ok"], x["url_to_done_s"], x["app_rss_growth_peak_mb"],
          x["app_cpu_s"], x["data_dir"]["mb"], x["gradio_cache"]["mb"], x["copies_on_disk"]]
         for x in apps],
    )  # fmt: skip
    targets = {
        "one_copy_on_disk": all(x["ok"] and x["copies_on_disk"] == 1 for x in apps),
        "nothing_in_gradio_cache": all(not x["gradio_cache"]["files_over_1mb"] for x in apps),
    }
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0
