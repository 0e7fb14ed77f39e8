"""How many visitors can generate at once: N visitors each start one T-second generation.

For each N a fresh ``python app.py`` (local mode, SUXI_SHARED=0; SUXI_MAX_JOBS = N + 8 so that
every chat stream gets a slot, SUXI_MAX_QUEUE ≥ 512) runs against the simulated relay in its own
process, whose every job lasts T seconds with a progress line each second. All N visitors press
Generate at once (``--via``: ``raw`` = ``/generate`` over httpx, ``page`` = the page's Generate
and ``POST /suxi/follow``, ``gc`` = gradio_client, for small N) and follow their job to the end.
Meanwhile ``bench/probe.py`` (its own process) times ``/my_videos`` and ``POST /suxi/library``
back to back.

Reported per N: the app's own clock (its SQLite file: each job's created → finished, the
slowest one and the span first created → last finished, ÷ T), how many started, finished,
failed and were refused, when the last one started (its first update on the wire), the
progress-line latency, ``/my_videos`` p95, and CPU of the app, the relay and the load generator.

    python bench/run.py concurrency                       # N = 64, 256, 1024 (raw), T = 20 s
    python bench/run.py concurrency --quick               # N = 16, 64, T = 10 s
    python bench/run.py concurrency --ns 16 --via gc      # gradio_client visitors
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import procs
from bench.stats import ms_summary, print_table, print_targets, r
from bench.wave import latencies, run_wave, stamps

TARGET_OVER_T = 1.15
TARGET_LIGHT_P95_S = 1.0


def run_one(ctx, relay: procs.Proc, relay_url: str, n: int, seconds: float, args) -> dict:
    app = procs.start_app(
        ctx.tmp,
        relay_url,
        name=f"app-n{n}-{args.via}",
        SUXI_MAX_JOBS=n + 8,
        SUXI_MAX_QUEUE=max(512, n),
    )
    probe = procs.start_probe(ctx.tmp, app.url, every=args.probe_every, name=f"probe-n{n}")
    try:
        time.sleep(2.0)  # the probe's first, idle calls
        idle_rss = procs.rss_bytes(app.pid)
        usage = procs.Usage({"app": app.pid, "relay": relay.pid})
        t0 = time.time()
        seen = run_wave(app.url, n, args.via, timeout=args.cap * seconds, spread=args.spread)
        t_end = time.time()
        used = usage.end()
        light = procs.stop_probe(probe)
        server = procs.server_side_jobs(app.data_dir)
    finally:
        probe.stop()
        app.stop()
    return summarize(n, seconds, seen, server, light, used, relay, t0, t_end, idle_rss, args)


def summarize(n, seconds, seen, server, light, used, relay, t0, t_end, idle_rss, args) -> dict:
    started = [s.first - t0 for s in seen if s.first is not None]
    ok = [s for s in seen if s.ok]
    failures = [s for s in seen if not s.ok and not s.refused]
    kinds = sorted({str(s.error)[:120] for s in failures})[:8]
    during = {
        name: [d for t, d, e in rows if t0 <= t <= t_end and d is not None and not e]
        for name, rows in light.items()
    }
    light_errors = sum(1 for rows in light.values() for _t, _d, e in rows if e)
    lat = latencies(seen, stamps(relay.lines(), t0))
    slowest = server.get("job_s_max")
    span = server.get("first_created_to_last_done_s")
    return {
        "n": n,
        "via": args.via,
        "seconds": seconds,
        "started": len(started),
        "all_started_s": r(max(started)) if len(started) == n else None,
        "finished_ok": len(ok),
        "failures": len(failures),
        "refused": sum(s.refused for s in seen),
        "failure_kinds": kinds,
        "server_side": server,
        "slowest_job_over_T": r(slowest / seconds) if slowest else None,
        "span_over_T": r(span / seconds) if span else None,
        "client_wall_over_T": r((max(s.completed for s in ok) - t0) / seconds)
        if len(ok) == n
        else None,
        "updates_per_visitor": r(sum(s.updates for s in seen) / max(n, 1), 1),
        "progress_latency_wire": ms_summary(lat),
        "my_videos": ms_summary(during.get("my_videos", [])),
        "library": ms_summary(during.get("library", [])),
        "light_errors": light_errors,
        "app_idle_rss_mb": procs.mb(idle_rss),
        "usage": used,
    }


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py concurrency", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 16, 64 with T = 10 s")
    parser.add_argument("-T", "--seconds", type=float, default=None, help="job length (20)")
    parser.add_argument("--ns", default=None, help="comma-separated N (64,256,1024)")
    parser.add_argument("--via", choices=("raw", "page", "gc"), default="raw")
    parser.add_argument("--cap", type=float, default=4.0, help="give up after cap × T")
    parser.add_argument("--spread", type=float, default=0.0, help="seconds to start all N")
    parser.add_argument("--probe-every", type=float, default=0.25)
    args = parser.parse_args(argv)
    seconds = args.seconds or (10.0 if args.quick else 20.0)
    ns = [int(x) for x in (args.ns or ("16,64" if args.quick else "64,256,1024")).split(",")]
    ctx.suffix = ("-quick" if args.quick else "") + ("" if args.via == "raw" else f"-{args.via}")
    ctx.results["params"] = {"seconds": seconds, "ns": ns, "via": args.via, "cap": args.cap}
    relay, relay_url = procs.start_relay(ctx.tmp, "--seconds", str(seconds), "--every", "1")
    runs: list[dict[str, Any]] = []
    ctx.results["runs"] = runs
    for n in ns:
        print(f"… N={n} T={seconds:g}s via {args.via}", flush=True)
        run = run_one(ctx, relay, relay_url, n, seconds, args)
        runs.append(run)
        print(
            f"  ok {run['finished_ok']}/{n}, failed {run['failures']}, refused {run['refused']},"
            f" slowest job {run['slowest_job_over_T']}×T, /my_videos p95"
            f" {run['my_videos']['p95_ms']} ms",
            flush=True,
        )
    relay.stop()
    print()
    print_table(
        ["N", "via", "started", "all_started_s", "ok", "fail", "refused", "slowest/T", "span/T",
         "lat_p50_ms", "lat_p95_ms", "my_videos_p95_ms", "library_p95_ms", "app_cpu_%",
         "app_peak_MB", "loadgen_cpu_%"],
        [
            [x["n"], x["via"], x["started"], x["all_started_s"], x["finished_ok"], x["failures"],
             x["refused"], x["slowest_job_over_T"], x["span_over_T"],
             x["progress_latency_wire"]["p50_ms"], x["progress_latency_wire"]["p95_ms"],
             x["my_videos"]["p95_ms"], x["library"]["p95_ms"],
             x["usage"]["app"]["cpu_pct_of_one_core"], x["usage"]["app"]["rss_peak_mb"],
             x["usage"]["loadgen"]["cpu_pct_of_one_core"]]
            for x in runs
        ],
    )  # fmt: skip
    targets: dict[str, Any] = {}
    for x in runs:
        light_ok = x["my_videos"]["p95_ms"] is not None and x["my_videos"]["p95_ms"] < 1000
        clean = x["failures"] == 0 and x["refused"] == 0 and x["started"] == x["n"]
        if x["n"] == 256:
            targets["256_within_1.15T_app_clock"] = (
                x["slowest_job_over_T"] is not None and x["slowest_job_over_T"] <= TARGET_OVER_T
            )
        if x["n"] == 1024:
            targets["1024_all_started_no_failures_none_refused"] = clean
        targets[f"{x['n']}_my_videos_p95_below_1s"] = light_ok
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0
