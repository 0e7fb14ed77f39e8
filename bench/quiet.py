"""The clock ticks in the browser: what a followed job costs while its relay is silent.

The relay (own process) answers every chat generation with one "queued" line and then nothing
for ``--silence`` seconds. K visitors each start one job and follow it; once every one is
followed, the app's CPU time is read over ``--window`` seconds of that silence, and every
message each visitor receives in the window is counted. Before that, the same app runs
``--idle`` seconds with nothing to follow: its own idle CPU, subtracted for the "net" figure.

Variants, side by side in one sitting, each in a fresh app process:

* ``before`` — the previous app (commit a2d64a7; ``--before DIR``): one Gradio streaming event per
  visitor (``/generate``), which re-sent the panel every second so its clock moved;
* ``page`` — this app as the page uses it: Generate (the page's Gradio event), then
  ``POST /suxi/follow``;
* ``api`` — this app's ``/generate``, streamed through Gradio's queue.

Figures: app CPU-seconds per followed job-minute (raw, and net of the idle app), and messages
per visitor per minute on the wire, split into updates and keep-alives (the page's ``:
keep-alive`` comment; Gradio's ``heartbeat`` message on the queue stream).

    python bench/run.py quiet                 # K = 64, window 60 s
    python bench/run.py quiet --quick         # K = 16, window 30 s
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.stats import print_table, print_targets, r
from bench.visitors import (
    Addresses,
    Follow,
    GradioApp,
    follow_page,
    generate,
    new_call,
    new_visitor,
    page_start,
)

BEFORE_COMMIT = "a2d64a7"
KEEPALIVE_S = 15.0


async def _visitors(kind: str, app: procs.App, k: int) -> tuple[list[Any], list[asyncio.Task]]:
    """Start K visitors of ``kind``; returns their live records and tasks."""
    gapp = GradioApp(app.url)
    pool = Addresses()
    records: list[Any] = []
    tasks = []

    async def page(i: int, follow: Follow) -> None:
        http = pool.for_visitor(i)
        call, ids = await page_start(http, gapp, f"A quiet sea #{i}", follow.visitor)
        if call.error:
            follow.error = f"start: {call.error}"
            return
        follow.ids = ids
        await follow_page(http, app.url, follow.visitor, ids, follow=follow)

    for i in range(k):
        if kind == "page":
            record: Any = Follow(new_visitor(), [])
            tasks.append(asyncio.create_task(page(i, record)))
        else:
            record = new_call("generate")
            http = pool.for_visitor(i)
            coro = generate(http, gapp, f"A quiet sea #{i}", call=record, keep_outputs=False)
            tasks.append(asyncio.create_task(coro))
        records.append(record)
    return records, tasks


def _following(kind: str, record: Any) -> bool:
    if kind == "page":
        return bool(record.cards())
    return record.count("process_generating") > 0


def _counts(kind: str, record: Any, t0: float, t1: float) -> tuple[int, int]:
    """(updates, keep-alives) in [t0, t1)."""
    if kind == "page":
        return record.count(t0, t1)
    return record.count("process_generating", t0, t1), record.count("heartbeat", t0, t1)


async def measure(kind: str, app: procs.App, k: int, idle: float, window: float) -> dict:
    usage = procs.Usage({"app": app.pid})
    await asyncio.sleep(idle)
    idle_usage = usage.end()
    records, tasks = await _visitors(kind, app, k)
    started = time.time()
    while time.time() - started < 60 and not all(_following(kind, x) for x in records):
        await asyncio.sleep(0.2)
    following = sum(_following(kind, x) for x in records)
    errors = sorted({x.error for x in records if x.error})[:5]
    await asyncio.sleep(3.0)  # the starts' own work is over
    usage = procs.Usage({"app": app.pid})
    t0 = time.time()
    await asyncio.sleep(window)
    t1 = time.time()
    busy = usage.end()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    counts = [_counts(kind, x, t0, t1) for x in records]
    minutes = (t1 - t0) / 60
    cpu = busy["app"]["cpu_s"]
    idle_rate = idle_usage["app"]["cpu_s"] / idle_usage["wall_s"]
    net = max(cpu - idle_rate * (t1 - t0), 0.0)
    job_minutes = max(following, 1) * minutes
    return {
        "variant": kind,
        "k": k,
        "following": following,
        "errors": errors,
        "window_s": round(t1 - t0, 2),
        "app_cpu_s": cpu,
        "app_idle_cpu_pct": round(100 * idle_rate, 2),
        "cpu_s_per_job_minute": r(cpu / job_minutes, 5),
        "net_cpu_s_per_job_minute": r(net / job_minutes, 5),
        "updates_per_visitor_minute": r(sum(u for u, _ in counts) / max(following, 1) / minutes, 3),
        "keepalives_per_visitor_minute": r(
            sum(a for _, a in counts) / max(following, 1) / minutes, 3
        ),
        "max_keepalives_in_window": max((a for _, a in counts), default=0),
        "usage": busy,
        "idle_usage": idle_usage,
    }


def before_root(path: Path) -> Path:
    """The previous app, frozen: ``git archive`` of it unpacked once (read-only for git)."""
    if not (path / "app.py").is_file():
        import subprocess
        import tarfile
        import tempfile

        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as tar:
            subprocess.run(
                ["git", "-C", str(procs.ROOT), "archive", BEFORE_COMMIT], stdout=tar, check=True
            )
            tar.seek(0)
            with tarfile.open(fileobj=tar) as archive:
                archive.extractall(path, filter="data")
        (path / ".bench-commit").write_text(BEFORE_COMMIT + "\n")
    return path


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py quiet", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="K = 16, window 30 s")
    parser.add_argument("-k", type=int, default=None, help="visitors (64)")
    parser.add_argument("--window", type=float, default=None, help="seconds measured (60)")
    parser.add_argument("--idle", type=float, default=20.0, help="idle seconds measured first")
    parser.add_argument("--variants", default="before,page,api")
    parser.add_argument("--before", type=Path, default=Path("/tmp/before"))
    args = parser.parse_args(argv)
    k = args.k or (16 if args.quick else 64)
    window = args.window or (30.0 if args.quick else 60.0)
    silence = args.idle + window + 60.0  # starting K jobs, settling, the window, margin
    ctx.suffix = "-quick" if args.quick else ""
    variants = [v for v in args.variants.split(",") if v]
    ctx.results["params"] = {"k": k, "window_s": window, "idle_s": args.idle, "silence_s": silence}
    relay, relay_url = procs.start_relay(ctx.tmp, "--chat", "silent", "--seconds", str(silence))
    runs = []
    for kind in variants:
        root = before_root(args.before) if kind == "before" else None
        print(f"… {kind}: {k} visitors, relay silent, {window:g} s measured", flush=True)
        app = procs.start_app(
            ctx.tmp,
            relay_url,
            name=f"app-{kind}",
            root=root,
            SUXI_READ_TIMEOUT=silence + 60,
            SUXI_MAX_JOBS=max(k, 16),
        )
        try:
            runs.append(asyncio.run(measure(kind, app, k, args.idle, window)))
        finally:
            app.stop()
        if root is not None:
            runs[-1]["code"] = {"root": str(root), "commit": BEFORE_COMMIT}
    relay.stop()
    ctx.results["runs"] = runs
    print()
    print_table(
        ["variant", "K", "following", "app_cpu_s", "cpu_s/job-min", "net/job-min", "upd/min",
         "keepalive/min", "idle_cpu_%"],
        [
            [x["variant"], x["k"], x["following"], x["app_cpu_s"], x["cpu_s_per_job_minute"],
             x["net_cpu_s_per_job_minute"], x["updates_per_visitor_minute"],
             x["keepalives_per_visitor_minute"], x["app_idle_cpu_pct"]]
            for x in runs
        ],
    )  # fmt: skip
    targets: dict[str, Any] = {}
    by = {x["variant"]: x for x in runs}
    for kind in ("page", "api"):
        if kind in by:
            x = by[kind]
            allowed = window / KEEPALIVE_S + 1
            targets[f"{kind}_only_changes_and_one_keepalive_per_15s"] = (
                x["updates_per_visitor_minute"] == 0 and x["max_keepalives_in_window"] <= allowed
            )
            if "before" in by and by["before"]["net_cpu_s_per_job_minute"]:
                targets[f"{kind}_cpu_vs_before"] = (
                    f"{x['net_cpu_s_per_job_minute']} vs {by['before']['net_cpu_s_per_job_minute']}"
                    " CPU-s per job-minute"
                )
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0 if all(x["following"] == x["k"] for x in runs) else 1
