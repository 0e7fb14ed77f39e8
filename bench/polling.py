"""Polling at scale: 1,000 task-format jobs polled at their normal interval, then a restart.

The relay (own process) gives every task a long timeline (``--task-seconds``, progress moving
once a minute: most polls change nothing) and logs every request with its time
(``REQ <time> <method> <path> <task id>``). The app runs with SUXI_MODEL=veo3.1-fast,
SUXI_FORMAT=unified and SUXI_POLL_INTERVAL=5. ``--jobs`` jobs are started through the page's
Generate event (nobody follows them: the app polls for its own sake). Once all are polling:

1. **steady state** — the app's CPU (% of one core) and RSS over ``--window`` seconds, and the
   polls per second the relay saw;
2. **restart** — the app is stopped (SIGTERM) and started again on the same data folder; the
   relay's log gives each task's first poll after the restart: their histogram over the first
   interval (0.5 s bins) shows whether they came in a storm or spread over one interval.

The relay keeps connections open between answers, as one behind a proxy does; ``--close``
measures a relay that hangs up after every answer (a new TCP connection per poll).

    python bench/run.py polling                  # 1,000 jobs, window 60 s
    python bench/run.py polling --close          # the same, one connection per poll
    python bench/run.py polling --quick          # 200 jobs, window 20 s
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from typing import Any

from bench import procs, profile
from bench.stats import RESULTS, histogram, print_table, print_targets, r
from bench.visitors import GradioApp, new_http, new_visitor, page_start

INTERVAL = 5.0
QUERY = "/v1/video/query"
TARGET_CPU_PCT = 20.0
TARGET_MEMORY_MB = 100.0


async def start_jobs(url: str, n: int, parallel: int = 32) -> tuple[int, list[str]]:
    """Press Generate ``n`` times (``parallel`` at once); returns (jobs started, errors)."""
    app = GradioApp(url)
    started, errors = 0, []
    gate = asyncio.Semaphore(parallel)
    async with new_http() as http:

        async def one(i: int) -> None:
            nonlocal started
            async with gate:
                call, ids = await page_start(http, app, f"A long task #{i}", new_visitor())
            started += len(ids)
            if call.error:
                errors.append(call.error[:200])

        await asyncio.gather(*(one(i) for i in range(n)))
    return started, errors


def polls(relay: procs.Proc, since: float, until: float = float("inf")) -> list[tuple[float, str]]:
    """(time, task id) of every status poll the relay logged in [since, until)."""
    out = []
    for line in relay.lines():
        if line.startswith("REQ ") and f" {QUERY} " in line:
            _, at, _method, _path, task = line.split(maxsplit=4)
            t = float(at)
            if since <= t < until:
                out.append((t, task))
    return out


def where(stacks: list[tuple[list[str], int]]) -> dict[str, Any]:
    """Shares of the app's on-CPU samples: by package, and inside the steps of a poll."""
    data = profile.analyse(stacks, 20)
    busy = [(f, c) for f, c in stacks if f and not f[-1].startswith(profile.IDLE)]
    total = sum(c for _, c in busy) or 1
    steps = {
        "polling (follow_task)": "follow_task (suxi/relay/polling.py",
        "opening a connection": "connect_tcp",
        "closing a connection": "_SelectorTransport.close",
        "gradio's queue loop": "Queue.start_processing",
    }
    data["inside_pct"] = {
        name: round(100 * sum(c for f, c in busy if any(needle in x for x in f)) / total, 1)
        for name, needle in steps.items()
    }
    return data


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py polling", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 jobs, window 20 s")
    parser.add_argument("--jobs", type=int, default=None, help="task-format jobs (1000)")
    parser.add_argument("--window", type=float, default=None, help="seconds measured (60)")
    parser.add_argument("--task-seconds", type=float, default=3600.0)
    parser.add_argument("--spy", action="store_true", help="py-spy the app in the window")
    parser.add_argument(
        "--close", action="store_true", help="the relay closes each connection after its answer"
    )
    args = parser.parse_args(argv)
    n = args.jobs or (200 if args.quick else 1000)
    window = args.window or (20.0 if args.quick else 60.0)
    ctx.suffix = ("-quick" if args.quick else "") + ("-close" if args.close else "")
    ctx.results["params"] = {
        "jobs": n,
        "window_s": window,
        "poll_interval_s": INTERVAL,
        "relay_keeps_connections": not args.close,
    }
    close = ["--close"] if args.close else []
    relay, relay_url = procs.start_relay(
        ctx.tmp, "--task-seconds", str(args.task_seconds), "--log-requests", *close
    )
    env = {"SUXI_MODEL": "veo3.1-fast", "SUXI_FORMAT": "unified", "SUXI_POLL_INTERVAL": INTERVAL}
    app = procs.start_app(ctx.tmp, relay_url, **env)
    time.sleep(3.0)
    idle_rss = procs.rss_bytes(app.pid)
    print(f"… starting {n} task jobs", flush=True)
    t = time.time()
    started, errors = asyncio.run(start_jobs(app.url, n))
    start_s = time.time() - t
    time.sleep(2 * INTERVAL)  # every job past its first polls
    print(f"… {started} polling; measuring {window:g} s", flush=True)
    sampler = procs.RssSampler(app.pid, every=0.5, keep=True)
    usage = procs.Usage({"app": app.pid, "relay": relay.pid})
    t0 = time.time()
    spy = profile.spy(app.pid, window, ctx.tmp / "polling.txt") if args.spy else None
    time.sleep(window)
    steady = usage.end()
    if spy is not None:
        spy.wait(60)
        ctx.results["profile"] = where(profile.parse_raw(ctx.tmp / "polling.txt"))
        shutil.copy(ctx.tmp / "polling.txt", RESULTS / "profile-app-polling.collapsed.txt")
    sampler.stop()
    steady_polls = polls(relay, t0, time.time())
    rss_end = procs.rss_bytes(app.pid)

    print("… restart", flush=True)
    app.stop()
    stopped = time.time()
    app2 = procs.start_app(ctx.tmp, relay_url, name="app-restarted", data_dir=app.data_dir, **env)
    time.sleep(3 * INTERVAL)
    after = polls(relay, stopped)
    first: dict[str, float] = {}
    for at, task in after:
        first.setdefault(task, at)
    origin = min(first.values()) if first else stopped
    bins = histogram([v - origin for v in first.values()], 0.0, 0.5, int(2 * INTERVAL) + 2)
    usage2 = procs.Usage({"app": app2.pid})
    time.sleep(window / 2)
    after_restart = usage2.end()
    app2.stop()
    relay.stop()

    even = len(first) / (2 * INTERVAL)  # per 0.5 s bin, if spread evenly over one interval
    results: dict[str, Any] = {
        "jobs_started": started,
        "start_errors": sorted(set(errors))[:5],
        "start_s": round(start_s, 1),
        "steady": {
            "app_cpu_pct_of_one_core": steady["app"]["cpu_pct_of_one_core"],
            "relay_cpu_pct_of_one_core": steady["relay"]["cpu_pct_of_one_core"],
            "polls_per_s": r(len(steady_polls) / window, 1),
            "expected_polls_per_s": r(started / INTERVAL, 1),
            "app_rss_idle_mb": procs.mb(idle_rss),
            "app_rss_end_mb": procs.mb(rss_end),
            "app_rss_peak_mb": steady["app"]["rss_peak_mb"],
            "app_rss_growth_mb": r(procs.mb(sampler.peak) - procs.mb(idle_rss), 1),
            "usage": steady,
        },
        "restart": {
            "app_ready_s": app2.ready_s,
            "tasks_polled_again": len(first),
            "first_polls_per_half_second": bins,
            "peak_bin_over_even": r(max(bins) / even, 2) if even else None,
            "first_to_last_first_poll_s": r(max(first.values()) - origin, 2) if first else None,
            "app_cpu_pct_after_restart": after_restart["app"]["cpu_pct_of_one_core"],
            "app_rss_after_restart_mb": after_restart["app"]["rss_end_mb"],
        },
    }
    ctx.results.update(results)
    s, rs = results["steady"], results["restart"]
    print()
    print_table(
        ["jobs", "app_cpu_%", "polls/s", "expected/s", "rss_idle_MB", "rss_peak_MB", "growth_MB",
         "relay_cpu_%"],
        [[started, s["app_cpu_pct_of_one_core"], s["polls_per_s"], s["expected_polls_per_s"],
          s["app_rss_idle_mb"], s["app_rss_peak_mb"], s["app_rss_growth_mb"],
          s["relay_cpu_pct_of_one_core"]]],
    )  # fmt: skip
    print(f"\nafter the restart: {rs['tasks_polled_again']} tasks polled again; first polls per")
    print(f"0.5 s from the first one: {bins} (even: {even:.0f} per bin)")
    targets = {
        "cpu_below_20pct_of_one_core": s["app_cpu_pct_of_one_core"] < TARGET_CPU_PCT,
        "memory_growth_below_100mb": s["app_rss_growth_mb"] < TARGET_MEMORY_MB,
        "restart_spread_over_one_interval": bool(
            first
            and len(first) == started
            and rs["first_to_last_first_poll_s"] <= INTERVAL + 0.5
            and rs["peak_bin_over_even"] <= 2.0
        ),
    }
    ctx.results["targets"] = targets
    print_targets(targets)
    if "profile" in ctx.results:
        print("\nwhere the app's CPU went (py-spy):", ctx.results["profile"]["inside_pct"])
        print("by package:", ctx.results["profile"]["by_package_self_pct"])
    return 0
