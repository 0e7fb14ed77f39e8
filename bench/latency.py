"""Added latency: from the relay sending a progress line to a visitor receiving it.

The simulated relay (own process) logs the moment it sends each progress line (``STAMP <time>
<visitor> <percent>``, ``bench/relay_proc.py``); each visitor stamps every message it receives
when its bytes are read. A line's latency is the first update showing its percent (or more)
minus the relay's send time — same machine, same clock — counted once per line.

For each N (1 and 64) and each kind of visitor (``page``: the cards over ``POST /suxi/follow``;
``raw``: ``/generate`` through Gradio's queue over httpx; ``gc``: gradio_client, N = 1 only) a
fresh app runs one wave of N jobs of T seconds, a line every second. Nothing else calls the app.

    python bench/run.py latency              # N = 1, 64; T = 20 s
    python bench/run.py latency --quick      # N = 1, 16; T = 8 s
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import procs
from bench.stats import ms_summary, print_table, print_targets
from bench.wave import latencies, run_wave, stamps

TARGET_P50_MS, TARGET_P95_MS = 20.0, 100.0


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py latency", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 16; T = 8 s")
    parser.add_argument("-T", "--seconds", type=float, default=None)
    parser.add_argument("--ns", default=None, help="comma-separated N (1,64)")
    parser.add_argument("--via", default="page,raw,gc", help="kinds of visitor")
    args = parser.parse_args(argv)
    seconds = args.seconds or (8.0 if args.quick else 20.0)
    ns = [int(x) for x in (args.ns or ("1,16" if args.quick else "1,64")).split(",")]
    ctx.suffix = "-quick" if args.quick else ""
    ctx.results["params"] = {"seconds": seconds, "ns": ns, "every": 1.0}
    relay, relay_url = procs.start_relay(ctx.tmp, "--seconds", str(seconds), "--every", "1")
    runs: list[dict[str, Any]] = []
    ctx.results["runs"] = runs
    for n in ns:
        for via in args.via.split(","):
            if via == "gc" and n > 16:
                continue  # a thread pair per visitor: the client, not the app, would be measured
            print(f"… N={n} via {via}", flush=True)
            app = procs.start_app(ctx.tmp, relay_url, name=f"app-n{n}-{via}")
            try:
                usage = procs.Usage({"app": app.pid, "relay": relay.pid})
                t0 = time.time()
                seen = run_wave(app.url, n, via, timeout=3 * seconds)
                used = usage.end()
            finally:
                app.stop()
            sent = stamps(relay.lines(), t0)
            values = latencies(seen, sent)
            runs.append(
                {
                    "n": n,
                    "via": via,
                    "ok": sum(s.ok for s in seen),
                    "lines_sent": len(sent),
                    "lines_seen": len(values),
                    "wire": ms_summary(values),
                    "usage": used,
                }
            )
    relay.stop()
    print()
    print_table(
        ["N", "via", "ok", "lines seen", "p50_ms", "p95_ms", "p99_ms", "max_ms", "app_cpu_%",
         "loadgen_cpu_%"],
        [
            [x["n"], x["via"], x["ok"], f"{x['lines_seen']}/{x['lines_sent']}",
             x["wire"]["p50_ms"], x["wire"]["p95_ms"], x["wire"]["p99_ms"], x["wire"]["max_ms"],
             x["usage"]["app"]["cpu_pct_of_one_core"],
             x["usage"]["loadgen"]["cpu_pct_of_one_core"]]
            for x in runs
        ],
    )  # fmt: skip
    targets = {}
    for x in runs:
        if x["n"] == 64 and x["wire"]["count"]:
            targets[f"64_{x['via']}_p50_below_20ms"] = x["wire"]["p50_ms"] < TARGET_P50_MS
            targets[f"64_{x['via']}_p95_below_100ms"] = x["wire"]["p95_ms"] < TARGET_P95_MS
    ctx.results["targets"] = targets
    print_targets(targets)
    return 0
