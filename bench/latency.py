"""Added latency: how long after the relay sends a progress line does the visitor see it.

The simulated relay (own process) stamps each progress line with its ``time.time()`` at send
(``⏱<unix time>``); the app shows the relay's latest lines, escaped, in its panel HTML. For every
progress line a visitor's panel shows, latency = the client's receive time − the relay's stamp
(same machine, same clock). A line is counted once, at the first update that shows it.

Two receive times are recorded in the client process (see ``_common.install_stamps``):

* **wire** — when the app's SSE message reached gradio_client's stream reader (what a browser
  would see): the figure the target is about;
* **gradio_client** — when ``Job.outputs`` exposed it: gradio_client polls its message deque
  every 50 ms, so this adds 0–50 ms of client-side delay.

    python bench/latency.py              # N = 1 and N = 64, T = 20 s, a line every 1 s
    python bench/latency.py --quick      # N = 1 and N = 16, T = 8 s
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Phase,
    Proc,
    Visit,
    close_clients,
    finish,
    machine,
    make_clients,
    pct,
    print_table,
    run_main,
    start_app,
    start_relay,
    submit_all,
    wait_visits,
)

STAMP = re.compile(r"⏱(\d{9,11}\.\d+)")
TARGET_P50_MS_AT_64 = 50.0
BUCKETS_MS = (50, 100, 250, 500, 1000)


def samples(visit: Visit) -> tuple[list[float], list[float], int]:
    """(wire latencies, gradio_client latencies, distinct stamps) in seconds for one visitor."""
    seen: set[str] = set()
    wire: list[float] = []
    client: list[float] = []
    for i, output in enumerate(visit.outputs):
        if not isinstance(output, (list, tuple)) or len(output) < 3:
            continue
        panel = output[2]
        if not isinstance(panel, str):
            continue
        for stamp in STAMP.findall(panel):
            if stamp in seen:
                continue
            seen.add(stamp)
            sent = float(stamp)
            if i < len(visit.wire_times):
                wire.append(visit.wire_times[i] - sent)
            if i < len(visit.seen_times):
                client.append(visit.seen_times[i] - sent)
    return wire, client, len(seen)


def summary(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    out: dict[str, Any] = {
        "count": len(ms),
        "p50_ms": _r(pct(ms, 50)),
        "p95_ms": _r(pct(ms, 95)),
        "p99_ms": _r(pct(ms, 99)),
        "max_ms": _r(max(ms) if ms else None),
        "min_ms": _r(min(ms) if ms else None),
    }
    lo = 0
    for hi in BUCKETS_MS:
        out[f"share_{lo}-{hi}ms"] = _r(sum(lo <= m < hi for m in ms) / len(ms) if ms else None, 4)
        lo = hi
    out[f"share_over_{lo}ms"] = _r(sum(m >= lo for m in ms) / len(ms) if ms else None, 4)
    return out


def _r(x: float | None, digits: int = 1) -> float | None:
    return None if x is None else round(x, digits)


def run_one(tmp: Path, relay_url: str, relay: Proc, n: int, seconds: float) -> dict[str, Any]:
    app, url = start_app(tmp, relay_url, max_jobs=256, max_queue=512, name=f"app-n{n}")
    clients: list[Any] = []
    try:
        clients = make_clients(url, n)
        phase = Phase({"app": app.pid, "relay": relay.pid})
        visits = submit_all(clients)
        t0 = visits[0].submitted
        wait_visits(visits, timeout=t0 + 3 * seconds - time.time())
        usage = phase.end()
        wire: list[float] = []
        client: list[float] = []
        lines = 0
        for v in visits:
            w, c, k = samples(v)
            wire += w
            client += c
            lines += k
        expected = n * max(1, round(seconds / 1.0))
        return {
            "n": n,
            "seconds": seconds,
            "ok": sum(v.ok for v in visits),
            "progress_lines_sent": expected,
            "progress_lines_seen": lines,
            "wire": summary(wire),
            "gradio_client": summary(client),
            "usage": usage,
        }
    finally:
        close_clients(clients)
        app.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1, 16 with T = 8 s")
    parser.add_argument("--seconds", "-T", type=float, default=None)
    parser.add_argument("--ns", default=None, help="comma-separated N (1,64)")
    args = parser.parse_args()
    seconds = args.seconds or (8.0 if args.quick else 20.0)
    ns = [int(x) for x in (args.ns or ("1,16" if args.quick else "1,64")).split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-latency-"))
    results: dict[str, Any] = {
        "benchmark": "latency",
        "machine": machine(),
        "params": {"seconds": seconds, "every": 1.0, "ns": ns},
        "runs": [],
    }
    relay: Proc | None = None
    code = 0
    try:
        relay, relay_url = start_relay(tmp, seconds, 1.0)
        for n in ns:
            print(f"… N={n} T={seconds:g}s", flush=True)
            results["runs"].append(run_one(tmp, relay_url, relay, n, seconds))
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        code = 1
    finally:
        if relay is not None:
            relay.stop()

    rows = []
    for r in results["runs"]:
        for name in ("wire", "gradio_client"):
            s = r[name]
            rows.append(
                [
                    r["n"],
                    name,
                    f"{r['progress_lines_seen']}/{r['progress_lines_sent']}",
                    s["p50_ms"],
                    s["p95_ms"],
                    s["p99_ms"],
                    s["max_ms"],
                    s["share_over_1000ms"] + s["share_500-1000ms"] if s["count"] else None,
                    r["usage"]["app"]["cpu_s"],
                ]
            )
    print()
    print_table(
        ["N", "receive", "lines", "p50_ms", "p95_ms", "p99_ms", "max_ms", ">500ms", "app_cpu_s"],
        rows,
    )
    for r in results["runs"]:
        if r["n"] == 64:
            met = r["wire"]["p50_ms"] is not None and r["wire"]["p50_ms"] < TARGET_P50_MS_AT_64
            results["targets"] = {"p50_below_50ms_at_64": met}
            print(f"target p50 < 50 ms at N=64 (wire): {'met' if met else 'MISSED'}")
    return finish("latency", results, tmp, code, quick=args.quick)


if __name__ == "__main__":
    run_main(main)
