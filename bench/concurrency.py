"""How many visitors can generate at once: N visitors each start one T-second generation.

For each N (default 1, 16, 64, 256) a fresh ``python app.py`` (SUXI_MAX_JOBS=256,
SUXI_MAX_QUEUE=512) runs against the simulated relay in its own process, whose every job lasts
T seconds with a progress line each second. N gradio_client Clients (separate sessions) are
built first, then all press Generate at once. Reported per N: the time until every job was
running (its first output had arrived), the total wall time ÷ T, failures, and the app's peak
RSS and CPU seconds over the phase. A baseline runs the same N=16 with SUXI_MAX_JOBS=1 (Gradio's
one-at-a-time default), stopped after ``--cap`` × T.

    python bench/concurrency.py            # N = 1, 16, 64, 256 with T = 20 s, plus the baseline
    python bench/concurrency.py --quick    # N = 1, 16 with T = 5 s, plus the baseline
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    STREAMS,
    Phase,
    Proc,
    close_clients,
    finish,
    machine,
    make_clients,
    mb,
    median,
    pct,
    print_table,
    rss_bytes,
    run_main,
    server_side_jobs,
    start_app,
    start_relay,
    submit_all,
    wait_visits,
)

TARGET_WALL_OVER_T_AT_64 = 1.15


def run_one(
    tmp: Path, relay_url: str, relay: Proc, n: int, seconds: float, max_jobs: int, cap: float
) -> dict[str, Any]:
    label = f"n{n}-jobs{max_jobs}"
    app, url = start_app(tmp, relay_url, max_jobs=max_jobs, max_queue=512, name=f"app-{label}")
    clients: list[Any] = []
    try:
        idle_rss = rss_bytes(app.pid)
        t = time.time()
        clients = make_clients(url, n)
        setup = time.time() - t
        phase = Phase({"app": app.pid, "relay": relay.pid})
        visits = submit_all(clients)
        t0 = visits[0].submitted
        submit_s = time.time() - t0
        wait_visits(visits, timeout=t0 + cap - time.time())
        usage = phase.end()
        server = server_side_jobs(app.data_dir)
        streams = [dict(x) for x in STREAMS if x.get("t", x.get("opened", 0)) >= t0 - 1]
        STREAMS.clear()
        firsts = [v.first_output for v in visits]
        running = [f - t0 for f in firsts if f is not None]
        finished = [v for v in visits if v.finished is not None and v.ok]
        durations = [v.finished - v.submitted for v in finished]
        all_done = len(finished) == n
        wall = max(v.finished for v in finished) - t0 if all_done else None
        errors = sorted(
            {
                v.error or (str(v.result[0])[:120] if v.result else "?")
                for v in visits
                if not v.ok and v.error != "unfinished"
            }
        )
        from latency import samples, summary  # the same measure as bench/latency.py

        wire = [x for v in visits for x in samples(v)[0]]
        return {
            "n": n,
            "max_jobs": max_jobs,
            "progress_latency_wire": summary(wire),
            "server_side": server,
            "seconds": seconds,
            "cap_s": cap,
            "client_setup_s": round(setup, 2),
            "submit_loop_s": round(submit_s, 3),
            "running": len(running),
            "all_running_s": round(max(running), 3) if len(running) == n else None,
            "first_output_p50_s": _r(pct(running, 50)),
            "finished_ok": len(finished),
            "unfinished_at_cap": sum(1 for v in visits if v.error == "unfinished"),
            "failures": sum(1 for v in visits if not v.ok and v.error != "unfinished"),
            "failure_kinds": errors[:10],
            "wall_s": _r(wall),
            "wall_over_T": _r(wall / seconds if wall else None),
            "job_s_p50": _r(median(durations)),
            "job_s_max": _r(max(durations) if durations else None),
            "app_idle_rss_mb": mb(idle_rss),
            "usage": usage,
            "visits": [v.timeline(t0) for v in visits],
            "streams_closed_early": [
                {
                    k: (round(v - t0, 3) if k in ("opened", "closed", "t") else v)
                    for k, v in x.items()
                }
                for x in streams
                if x.get("pending_at_close") or x.get("error") or "message" in x
            ][:50],
            "app_log_tail": app.tail(40),
        }
    finally:
        close_clients(clients)
        app.stop()


def _r(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 16 with T = 5 s")
    parser.add_argument("--seconds", "-T", type=float, default=None, help="job length (20)")
    parser.add_argument("--ns", default=None, help="comma-separated N (1,16,64,256)")
    parser.add_argument("--cap", type=float, default=3.0, help="stop a run after cap × T")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    seconds = args.seconds or (5.0 if args.quick else 20.0)
    spec = args.ns if args.ns is not None else ("1,16" if args.quick else "1,16,64,256")
    ns = [int(x) for x in spec.split(",") if x.strip()]  # --ns "" runs only the baseline
    cap = args.cap * seconds

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-concurrency-"))
    results: dict[str, Any] = {
        "benchmark": "concurrency",
        "machine": machine(),
        "params": {"seconds": seconds, "every": 1.0, "ns": ns, "cap_s": cap},
        "runs": [],
    }
    relay: Proc | None = None
    code = 0
    try:
        relay, relay_url = start_relay(tmp, seconds, 1.0)
        plan = [(n, 256) for n in ns]
        if not args.no_baseline:
            plan.append((16, 1))
        for n, max_jobs in plan:
            print(f"… N={n} SUXI_MAX_JOBS={max_jobs} T={seconds:g}s", flush=True)
            run = run_one(tmp, relay_url, relay, n, seconds, max_jobs, cap)
            results["runs"].append(run)
            print(
                f"  running after {run['all_running_s']} s, wall {run['wall_s']} s, "
                f"ok {run['finished_ok']}/{n}, failures {run['failures']}",
                flush=True,
            )
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        code = 1
    finally:
        if relay is not None:
            relay.stop()

    rows = []
    for r in results["runs"]:
        app = r["usage"]["app"]
        rows.append(
            [
                r["n"],
                r["max_jobs"],
                r["client_setup_s"],
                r["all_running_s"],
                r["wall_s"],
                r["wall_over_T"],
                f"{r['finished_ok']}/{r['n']}",
                r["failures"],
                r["unfinished_at_cap"],
                app["rss_peak_mb"],
                app["cpu_s"],
                r["usage"]["relay"]["cpu_s"],
                r["usage"]["bench_process_cpu_s"],
                r["usage"]["other_processes_cpu_s"],
            ]
        )
    print()
    print_table(
        [
            "N",
            "max_jobs",
            "setup_s",
            "all_running_s",
            "wall_s",
            "wall/T",
            "ok",
            "fail",
            "unfinished",
            "app_peak_MB",
            "app_cpu_s",
            "relay_cpu_s",
            "bench_cpu_s",
            "others_cpu_s",
        ],
        rows,
    )
    verdicts = {}
    for r in results["runs"]:
        if r["max_jobs"] == 256 and r["n"] == 64:
            verdicts["64_within_1.15T"] = bool(
                r["wall_over_T"] is not None and r["wall_over_T"] <= TARGET_WALL_OVER_T_AT_64
            )
        if r["max_jobs"] == 256 and r["n"] == 256:
            verdicts["256_no_failures"] = r["failures"] == 0 and r["finished_ok"] == 256
    results["targets"] = verdicts
    if verdicts:
        print(
            "targets:", ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in verdicts.items())
        )
    return finish("concurrency", results, tmp, code, quick=args.quick)


if __name__ == "__main__":
    run_main(main)
