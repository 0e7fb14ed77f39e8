"""Memory that does not creep: the app's RSS across 10,000 cheap API calls and 1,000 jobs.

The app runs against the simulated relay (jobs of ``--job-seconds``, a line every half second).
After a warm-up round, ``--rounds`` rounds each make ``calls / rounds`` calls to ``/my_videos``
(each a new session through Gradio's queue protocol, with its heartbeat stream, as a new
gradio_client would: ``--parallel`` at a time) and finish ``jobs / rounds`` generations through
``/generate``. The app's RSS is read after each round, once the app is idle again (1 s).

Reported: RSS after the warm-up and after every round, the growth over all rounds and over the
last half of them (flat means ≈ 0), and the call latencies.

    python bench/run.py memory                   # 10,000 calls, 1,000 jobs, 5 rounds
    python bench/run.py memory --quick           # 2,000 calls, 200 jobs
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from bench import procs
from bench.stats import ms_summary, print_table, print_targets, r
from bench.visitors import Addresses, GradioApp, generate, my_videos

TARGET_GROWTH_MB = 50.0


async def one_round(url: str, calls: int, jobs: int, parallel: int, tag: str) -> dict[str, Any]:
    app = GradioApp(url)
    pool = Addresses(per_address=4)
    gate = asyncio.Semaphore(parallel)
    latencies: list[float] = []
    errors: list[str] = []
    done = 0

    async def call(i: int) -> None:
        async with gate:
            result = await my_videos(pool.for_visitor(i), app, heartbeat=True)
        if result.error or result.latency is None:
            errors.append(str(result.error)[:200])
        else:
            latencies.append(result.latency)

    async def job(i: int) -> None:
        nonlocal done
        async with gate:
            result = await generate(pool.for_visitor(i), app, f"Memory {tag} #{i}")
        if result.success and result.result and result.result[1]:
            done += 1
        else:
            errors.append(f"job: {result.error or str(result.result)[:150]}")

    await asyncio.gather(*(call(i) for i in range(calls)), *(job(i) for i in range(jobs)))
    await pool.aclose()
    return {"calls": len(latencies), "jobs_done": done, "errors": errors, "latency": latencies}


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py memory", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2,000 calls, 200 jobs")
    parser.add_argument("--calls", type=int, default=None, help="/my_videos calls (10,000)")
    parser.add_argument("--jobs", type=int, default=None, help="generations (1,000)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--job-seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    calls = args.calls if args.calls is not None else (2000 if args.quick else 10000)
    jobs = args.jobs if args.jobs is not None else (200 if args.quick else 1000)
    ctx.suffix = "-quick" if args.quick else ""
    ctx.results["params"] = {"calls": calls, "jobs": jobs, "rounds": args.rounds}
    relay, relay_url = procs.start_relay(
        ctx.tmp, "--seconds", str(args.job_seconds), "--every", "0.5"
    )
    app = procs.start_app(ctx.tmp, relay_url, SUXI_MAX_JOBS=args.parallel + 8)
    start_rss = procs.rss_bytes(app.pid)
    usage = procs.Usage({"app": app.pid})
    rounds: list[dict[str, Any]] = []
    per_calls, per_jobs = calls // args.rounds, jobs // args.rounds
    for i in range(args.rounds + 1):  # round 0 is the warm-up
        t = time.time()
        got = asyncio.run(one_round(app.url, per_calls, per_jobs, args.parallel, str(i)))
        time.sleep(1.0)
        rss = procs.rss_bytes(app.pid)
        rounds.append(
            {
                "round": i,
                "seconds": round(time.time() - t, 1),
                "calls": got["calls"],
                "jobs_done": got["jobs_done"],
                "errors": len(got["errors"]),
                "error_kinds": sorted(set(got["errors"]))[:3],
                "my_videos": ms_summary(got["latency"]),
                "rss_mb": procs.mb(rss),
            }
        )
        print(f"  round {i}: RSS {procs.mb(rss)} MB, {got['calls']} calls, "
              f"{got['jobs_done']} jobs", flush=True)  # fmt: skip
    used = usage.end()
    app.stop()
    relay.stop()
    after_warmup = rounds[0]["rss_mb"]
    last = rounds[-1]["rss_mb"]
    half = rounds[len(rounds) // 2]["rss_mb"]
    ctx.results.update(
        {
            "rss_start_mb": procs.mb(start_rss),
            "rss_after_warmup_mb": after_warmup,
            "growth_mb": r(last - after_warmup, 1),
            "growth_last_half_mb": r(last - half, 1),
            "rounds": rounds,
            "usage": used,
        }
    )
    print()
    print_table(
        ["round", "calls", "jobs", "errors", "p50_ms", "p95_ms", "RSS_MB"],
        [[x["round"], x["calls"], x["jobs_done"], x["errors"], x["my_videos"]["p50_ms"],
          x["my_videos"]["p95_ms"], x["rss_mb"]] for x in rounds],
    )  # fmt: skip
    print(f"\nRSS {procs.mb(start_rss)} MB at start, {after_warmup} MB after the warm-up, "
          f"{last} MB at the end")  # fmt: skip
    targets = {
        "growth_below_50mb": last - after_warmup < TARGET_GROWTH_MB,
        "flat_in_the_last_half": last - half < TARGET_GROWTH_MB / 5,
        "no_errors": all(x["errors"] == 0 for x in rounds),
    }
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0
