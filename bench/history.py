"""History at scale: 100,000 jobs in the store, against an empty store.

The big store is written with the app's own code (``suxi.store.Store.create``, in one
transaction): ``--jobs`` finished, failed and cancelled jobs of 500 visitors over a year, with
realistic lines and messages. Then, alternating between the two data folders:

* **start-up** — ``python app.py`` until its page answers 200 (``--starts`` times each);
* **My videos' first page** — ``POST /suxi/library`` (24 cards, newest first; also with the
  "failed" filter and with a search word) and ``/my_videos`` through Gradio's queue (100 jobs),
  ``--calls`` times each, one after another, in local mode (SUXI_SHARED=0: every job is listed).

Target: each stays within 200 ms of the empty store.

    python bench/run.py history                  # 100,000 jobs
    python bench/run.py history --quick          # 20,000 jobs, fewer repetitions
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

from bench import procs
from bench.stats import median, ms_summary, print_table, print_targets, r
from bench.visitors import GradioApp, my_videos, new_http, new_visitor

TARGET_MS = 200.0
WORDS = [
    "corgi",
    "surfing",
    "sunset",
    "paper",
    "boats",
    "rainy",
    "street",
    "panda",
    "bamboo",
    "guitar",
    "city",
    "night",
    "neon",
]
LIBRARY_BODIES = {
    "library": {},
    "library_failed": {"filter": "failed"},
    "library_search": {"search": "neon"},
}


def fill_store(data_dir: Path, n: int) -> float:
    """``n`` ended jobs written with the store's own code; returns the seconds it took."""
    from suxi.generation import GenerationOptions
    from suxi.job import Job
    from suxi.kinds import Kind, State
    from suxi.store import Store

    rng = random.Random(7)
    owners = [uuid.uuid4().hex for _ in range(500)]
    options = [GenerationOptions("sora-2"), GenerationOptions("veo3.1-fast", format="unified")]
    ended = [State.DONE] * 8 + [State.FAILED, State.CANCELLED]
    now = time.time()
    t = time.time()
    store = Store(data_dir / "jobs.sqlite3")
    store._db.execute("BEGIN")  # one transaction: the app writes one job at a time
    for i in range(n):
        created = now - 365 * 86400 * (1 - i / n)
        state = rng.choice(ended)
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(4, 14)))
        token = secrets.token_urlsafe(16)
        job = Job(
            id=uuid.uuid4().hex,
            owner=rng.choice(owners),
            created=created,
            prompt=prompt,
            options=rng.choice(options),
            media_token=token,
            route="chat",
            state=state,
            updated=created + 60,
            started=created,
            finished=created + rng.uniform(40, 400),
            percent=100.0 if state == State.DONE else 40.0,
            lines=tuple(f"> 🏃 进度：{p}%" for p in range(0, 100, 10)),
            file=f"videos/{token}/clip.mp4" if state == State.DONE else None,
            size_bytes=5_000_000 if state == State.DONE else None,
            error_kind=None if state == State.DONE else Kind.RELAY,
            answer="> ✅ 视频生成成功 " * 10,
            messages=({"role": "user", "content": prompt},),
        )
        store.create(job)
    store._db.execute("COMMIT")
    store.close()
    return time.time() - t


async def light_calls(url: str, calls: int) -> dict[str, list[float]]:
    app = GradioApp(url)
    visitor = new_visitor()
    out: dict[str, list[float]] = {name: [] for name in (*LIBRARY_BODIES, "my_videos")}
    async with new_http() as http:
        for _ in range(calls):
            for name, extra in LIBRARY_BODIES.items():
                t = time.time()
                reply = await http.post(f"{url}suxi/library", json={"visitor": visitor, **extra})
                reply.raise_for_status()
                out[name].append(time.time() - t)
            call = await my_videos(http, app)
            if call.error or call.latency is None:
                raise RuntimeError(f"/my_videos: {call.error}")
            out["my_videos"].append(call.latency)
    return out


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py history", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20,000 jobs")
    parser.add_argument("--jobs", type=int, default=None, help="jobs in the big store (100,000)")
    parser.add_argument("--starts", type=int, default=None, help="start-ups of each (5)")
    parser.add_argument("--calls", type=int, default=None, help="calls of each kind (30)")
    args = parser.parse_args(argv)
    n = args.jobs or (20000 if args.quick else 100000)
    starts = args.starts or (2 if args.quick else 5)
    calls = args.calls or (10 if args.quick else 30)
    ctx.suffix = "-quick" if args.quick else ""
    ctx.results["params"] = {"jobs": n, "starts": starts, "calls": calls}
    folders = {"empty": ctx.tmp / "empty-data", "full": ctx.tmp / "full-data"}
    print(f"… writing {n} jobs", flush=True)
    fill_s = fill_store(folders["full"], n)
    db = folders["full"] / "jobs.sqlite3"
    ctx.results["fill"] = {"seconds": round(fill_s, 1), "db_mb": procs.mb(db.stat().st_size)}
    # Nothing is generated: the relay is only where the settings point.
    relay, relay_url = procs.start_relay(ctx.tmp)
    ready: dict[str, list[float]] = {"empty": [], "full": []}
    timings: dict[str, dict[str, list[float]]] = {"empty": {}, "full": {}}
    for i in range(starts):
        order = ("empty", "full") if i % 2 == 0 else ("full", "empty")
        for kind in order:
            app = procs.start_app(ctx.tmp, relay_url, name=f"app-{kind}", data_dir=folders[kind])
            ready[kind].append(app.ready_s)
            try:
                got = asyncio.run(light_calls(app.url, calls + 1)) if i == 0 else {}
            finally:
                app.stop()
            for name, values in got.items():
                timings[kind][name] = values[1:]  # the first call of each warms the app up
            print(f"  {kind} #{i}: ready in {app.ready_s:.2f} s", flush=True)
    relay.stop()
    rows: list[list[Any]] = [
        ["start-up (s)", r(median(ready["empty"])), r(median(ready["full"])),
         r(1000 * (median(ready["full"]) - median(ready["empty"])), 1)],
    ]  # fmt: skip
    summary: dict[str, Any] = {"startup_s": {k: v for k, v in ready.items()}}
    for name in timings["empty"]:
        e, f = ms_summary(timings["empty"][name]), ms_summary(timings["full"][name])
        summary[name] = {"empty": e, "full": f}
        rows.append([f"{name} p50 (ms)", e["p50_ms"], f["p50_ms"], r(f["p50_ms"] - e["p50_ms"], 1)])
        rows.append([f"{name} p95 (ms)", e["p95_ms"], f["p95_ms"], r(f["p95_ms"] - e["p95_ms"], 1)])
    ctx.results["summary"] = summary
    print()
    print_table(["", "empty", f"{n} jobs", "difference_ms"], rows)
    targets = {
        "startup_within_200ms": 1000 * (median(ready["full"]) - median(ready["empty"])) < TARGET_MS,
        "library_first_page_within_200ms": summary["library"]["full"]["p95_ms"]
        - summary["library"]["empty"]["p95_ms"]
        < TARGET_MS,
        "my_videos_within_200ms": summary["my_videos"]["full"]["p95_ms"]
        - summary["my_videos"]["empty"]["p95_ms"]
        < TARGET_MS,
    }
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0
