"""Time to play: saving the finished video.

Part 1 (in-process): ``RelayClient.download()`` on asyncio, from the simulated relay (own
process) serving a 10 MB and a 200 MB file of random bytes. Reported per size: seconds, MB/s and
the peak RSS growth of this process during the download (RSS sampled every 10 ms in a background
thread, against the RSS just before). Target: growth < 20 MB for 200 MB.

Part 2 (whole path, optional: ``--no-app`` skips it): a one-visitor generation through
``python app.py`` whose relay hands out the same file as the video; reported is the time from the
relay sending the video URL to the visitor receiving the finished job (state done, video set),
and the app's RSS growth and CPU over that time.

    python bench/download.py
    python bench/download.py --quick     # 10 MB and 50 MB, one repetition, no app
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    APP_ROOT,
    KEY,
    Phase,
    RssSampler,
    close_clients,
    finish,
    machine,
    make_clients,
    mb,
    print_table,
    rss_bytes,
    run_main,
    start_app,
    start_relay,
    submit_all,
    wait_visits,
)

sys.path.insert(0, str(APP_ROOT))  # suxi of the app under test

STAMP = re.compile(r"⏱(\d{9,11}\.\d+)")
TARGET_GROWTH_MB_200 = 20.0


def make_file(path: Path, size_mb: int) -> Path:
    """Random bytes, written 1 MB at a time (so this process never holds the file)."""
    if path.exists() and path.stat().st_size == size_mb * 2**20:
        return path
    with path.open("wb") as f:
        for _ in range(size_mb):
            f.write(os.urandom(2**20))
    return path


async def in_process(relay_url: str, tmp: Path, sizes: list[int], reps: int) -> list[dict]:
    from suxi.client import RelayClient
    from suxi.settings import Settings

    settings = Settings(
        api_key=KEY,
        base_url=relay_url,
        data_dir=tmp / "inproc-data",
        download_timeout=600.0,
    )
    client = RelayClient(settings)
    dest_dir = tmp / "inproc-data" / "videos"
    rows = []
    try:
        # Warm up: the HTTP client, the CA bundle and the code paths are loaded once.
        await client.download(f"{relay_url}/files/sample.mp4", dest_dir / "warm.mp4")
        sampler = RssSampler(os.getpid(), every=0.01).start()
        try:
            for size in sizes:
                for rep in range(reps):
                    dest = dest_dir / f"v{size}-{rep}.mp4"
                    await asyncio.sleep(0.05)
                    before = sampler.reset()
                    t = time.perf_counter()
                    result = await client.download(f"{relay_url}/files/v{size}.mp4", dest)
                    seconds = time.perf_counter() - t
                    await asyncio.sleep(0.03)  # one more sample after the end
                    growth = sampler.peak - before
                    assert result.size == size * 2**20, result
                    dest.unlink()
                    rows.append(
                        {
                            "size_mb": size,
                            "rep": rep,
                            "seconds": round(seconds, 3),
                            "mb_per_s": round(size / seconds, 1),
                            "rss_before_mb": mb(before),
                            "rss_growth_peak_mb": mb(growth),
                            "rss_samples": sampler.samples,
                        }
                    )
                    print(f"  {size} MB #{rep}: {seconds:.2f} s, +{mb(growth)} MB", flush=True)
        finally:
            sampler.stop()
    finally:
        await client.aclose()
    return rows


def through_app(tmp: Path, size: int, path: Path) -> dict[str, Any]:
    """One generation whose video is the big file: URL sent → visitor sees the job done."""
    relay, relay_url = start_relay(
        tmp, 2.0, 1.0, files={f"v{size}.mp4": path}, video=f"/files/v{size}.mp4"
    )
    clients: list[Any] = []
    app = None
    try:
        app, url = start_app(tmp, relay_url, name=f"app-dl{size}")
        clients = make_clients(url, 1)
        idle = rss_bytes(app.pid)
        phase = Phase({"app": app.pid})
        visits = submit_all(clients)
        wait_visits(visits, timeout=120)
        usage = phase.end()
        v = visits[0]
        stamps = [
            float(s)
            for o in v.outputs
            if isinstance(o, (list, tuple)) and len(o) > 2
            for s in STAMP.findall(str(o[2]))
        ]
        url_sent = max(stamps) if stamps else None  # the video line follows the last stamp
        done = v.completed_wire
        return {
            "size_mb": size,
            "ok": v.ok,
            "error": v.error,
            "url_to_done_s": round(done - url_sent, 3) if done and url_sent else None,
            "app_rss_idle_mb": mb(idle),
            "app_rss_growth_peak_mb": round(usage["app"]["rss_peak_mb"] - mb(idle), 1),
            "app_cpu_s_whole_job": usage["app"]["cpu_s"],
            "usage": usage,
        }
    finally:
        close_clients(clients)
        if app is not None:
            app.stop()
        relay.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--no-app", action="store_true", help="skip the whole-path part")
    args = parser.parse_args()
    sizes = [10, 50] if args.quick else [10, 200]
    reps = args.reps or (1 if args.quick else 3)

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-download-"))
    files = {size: make_file(tmp / f"v{size}.bin", size) for size in sizes}
    results: dict[str, Any] = {
        "benchmark": "download",
        "machine": machine(),
        "params": {"sizes_mb": sizes, "reps": reps, "chunk_kb": 256},
        "in_process": [],
        "through_app": [],
    }
    code = 0
    relay = None
    try:
        relay, relay_url = start_relay(
            tmp, 1.0, 1.0, files={f"v{s}.mp4": p for s, p in files.items()}
        )
        print("… RelayClient.download() in this process", flush=True)
        results["in_process"] = asyncio.run(in_process(relay_url, tmp, sizes, reps))
        relay.stop()
        relay = None
        if not (args.no_app or args.quick):
            for size in sizes:
                print(f"… whole path through app.py, {size} MB", flush=True)
                results["through_app"].append(through_app(tmp, size, files[size]))
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        code = 1
    finally:
        if relay is not None:
            relay.stop()
        for p in files.values():
            p.unlink(missing_ok=True)

    print()
    print_table(
        ["size_MB", "rep", "seconds", "MB/s", "rss_growth_MB"],
        [
            [r["size_mb"], r["rep"], r["seconds"], r["mb_per_s"], r["rss_growth_peak_mb"]]
            for r in results["in_process"]
        ],
    )
    if results["through_app"]:
        print()
        print_table(
            ["size_MB", "ok", "url→done_s", "app_rss_growth_MB", "app_cpu_s"],
            [
                [
                    r["size_mb"],
                    r["ok"],
                    r["url_to_done_s"],
                    r["app_rss_growth_peak_mb"],
                    r["app_cpu_s_whole_job"],
                ]
                for r in results["through_app"]
            ],
        )
    big = [r for r in results["in_process"] if r["size_mb"] == 200]
    if big:
        worst = max(r["rss_growth_peak_mb"] for r in big)
        met = worst < TARGET_GROWTH_MB_200
        results["targets"] = {"growth_below_20mb_at_200mb": met, "worst_growth_mb": worst}
        print(f"target RSS growth < 20 MB for 200 MB: {'met' if met else 'MISSED'} ({worst} MB)")
    return finish("download", results, tmp, code, quick=args.quick)


if __name__ == "__main__":
    run_main(main)
