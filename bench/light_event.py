"""A light request while the app is busy: 50 calls during 64 running generations.

A light endpoint is called ``--calls`` times (50), one after another, first with the app idle and
then while 64 visitors' generations run (T = 30 s, a progress line every second). The endpoint is
``/my_videos`` (the visitor's job list) when the app has it, else ``/stop`` with an empty job id
(which returns at once). Each call is timed twice, alternating:

* through gradio_client (``Client.predict``), as the brief asks; gradio_client polls for results
  every 50 ms, so up to 50 ms of each figure is the client's own;
* over plain HTTP with httpx: Gradio's two-step ``/gradio_api/call/<name>`` (POST, then read the
  event stream until ``complete``), or ``/gradio_api/run/<name>`` for an unqueued endpoint.

Target: p95 < 1 s under load.

    python bench/light_event.py
    python bench/light_event.py --quick   # 16 generations, T = 12 s, 20 calls
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Phase,
    Proc,
    close_clients,
    finish,
    machine,
    make_clients,
    new_client,
    pct,
    print_table,
    run_main,
    start_app,
    start_relay,
    submit_all,
    wait_visits,
)

TARGET_P95_S = 1.0


def pick_endpoint(client: Any) -> tuple[str, tuple, bool]:
    """(api name, arguments, queued?) of the light endpoint this app offers."""
    named = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    queued = {
        e.api_name: e.dependency.get("queue", True) is not False
        for e in client.endpoints.values()
        if getattr(e, "api_name", None)
    }
    if "/my_videos" in named:
        return "/my_videos", (), queued.get("/my_videos", True)
    return "/stop", ("",), queued.get("/stop", False)


def raw_call(http: httpx.Client, base: str, name: str, args: tuple, queued: bool) -> Any:
    """One call without gradio_client."""
    data = {"data": list(args) or [None]}
    if not queued:
        r = http.post(f"{base}gradio_api/run/{name}", json=data)
        r.raise_for_status()
        return r.json()
    r = http.post(f"{base}gradio_api/call/{name}", json=data)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    with http.stream("GET", f"{base}gradio_api/call/{name}/{event_id}") as s:
        event = ""
        for line in s.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(line)
                return line[5:]
    raise RuntimeError("stream ended without a result")


def measure(
    client: Any, http: httpx.Client, base: str, endpoint: tuple, calls: int, until: float
) -> dict[str, list[float]]:
    name, args, queued = endpoint
    times: dict[str, list[float]] = {"gradio_client": [], "http": [], "errors": []}
    for _ in range(calls):
        if time.time() > until:
            break
        t = time.perf_counter()
        try:
            client.predict(*args, api_name=name)
            times["gradio_client"].append(time.perf_counter() - t)
        except Exception as err:
            times["errors"].append(f"gradio_client: {err}"[:200])
        t = time.perf_counter()
        try:
            raw_call(http, base, name.lstrip("/"), args, queued)
            times["http"].append(time.perf_counter() - t)
        except Exception as err:
            times["errors"].append(f"http: {err}"[:200])
    return times


def stats(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {
        "count": len(ms),
        "p50_ms": _r(pct(ms, 50)),
        "p95_ms": _r(pct(ms, 95)),
        "max_ms": _r(max(ms) if ms else None),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=None, help="generations running (64)")
    parser.add_argument("--seconds", "-T", type=float, default=None, help="job length (30)")
    parser.add_argument("--calls", type=int, default=None, help="light calls (50)")
    args = parser.parse_args()
    n = args.n or (16 if args.quick else 64)
    seconds = args.seconds or (12.0 if args.quick else 30.0)
    calls = args.calls or (20 if args.quick else 50)

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-light-"))
    results: dict[str, Any] = {
        "benchmark": "light_event",
        "machine": machine(),
        "params": {"n": n, "seconds": seconds, "calls": calls},
    }
    relay: Proc | None = None
    app: Proc | None = None
    clients: list[Any] = []
    code = 0
    try:
        relay, relay_url = start_relay(tmp, seconds, 1.0)
        app, url = start_app(tmp, relay_url, max_jobs=256, max_queue=512)
        light = new_client(url)
        endpoint = pick_endpoint(light)
        results["endpoint"] = {"name": endpoint[0], "queued": endpoint[2]}
        print(f"… light endpoint {endpoint[0]} (queued: {endpoint[2]})", flush=True)
        with httpx.Client(timeout=30) as http:
            light.predict(*endpoint[1], api_name=endpoint[0])  # warm-up
            raw_call(http, url, endpoint[0].lstrip("/"), endpoint[1], endpoint[2])
            print(f"… {calls} calls, idle", flush=True)
            idle = measure(light, http, url, endpoint, calls, time.time() + 60)
            clients = make_clients(url, n)
            phase = Phase({"app": app.pid, "relay": relay.pid})
            visits = submit_all(clients)
            t0 = visits[0].submitted
            # Calls begin once every job is running, and stop before the first could end.
            while time.time() < t0 + 10 and any(
                v.job.communicator.job.outputs == [] for v in visits
            ):
                time.sleep(0.1)
            running_after = time.time() - t0
            print(f"… {calls} calls, {n} generations running", flush=True)
            busy = measure(light, http, url, endpoint, calls, t0 + seconds - 1.0)
            busy_window = time.time() - t0
            wait_visits(visits, timeout=t0 + 2 * seconds - time.time())
            usage = phase.end()
        results.update(
            {
                "idle": {
                    "gradio_client": stats(idle["gradio_client"]),
                    "http": stats(idle["http"]),
                },
                "busy": {
                    "gradio_client": stats(busy["gradio_client"]),
                    "http": stats(busy["http"]),
                },
                "errors": idle["errors"] + busy["errors"],
                "all_running_after_s": round(running_after, 2),
                "calls_ended_at_s": round(busy_window, 2),
                "generations_ok": sum(v.ok for v in visits),
                "usage": usage,
            }
        )
        light.close()
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        code = 1
    finally:
        close_clients(clients)
        if app is not None:
            app.stop()
        if relay is not None:
            relay.stop()

    if "busy" in results:
        rows = []
        for phase_name in ("idle", "busy"):
            for via in ("gradio_client", "http"):
                s = results[phase_name][via]
                rows.append([phase_name, via, s["count"], s["p50_ms"], s["p95_ms"], s["max_ms"]])
        print()
        print_table(["app", "via", "calls", "p50_ms", "p95_ms", "max_ms"], rows)
        print(f"generations ok: {results['generations_ok']}/{n}; errors: {len(results['errors'])}")
        p95 = results["busy"]["gradio_client"]["p95_ms"]
        met = p95 is not None and p95 < TARGET_P95_S * 1000
        results["targets"] = {"p95_below_1s_under_load": met}
        print(f"target p95 < 1 s under load (gradio_client): {'met' if met else 'MISSED'}")
    return finish("light_event", results, tmp, code, quick=args.quick)


if __name__ == "__main__":
    run_main(main)
