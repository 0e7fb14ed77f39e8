"""Start-up time: ``python app.py`` until its page answers HTTP 200, against a bare Gradio app.

The bare app is ``gr.Interface(lambda x: x, "text", "text").launch()`` written to a temp file.
Both start with the same environment (a fresh data dir, analytics off, a free port), alternating,
``--runs`` times each (5); the clock starts before ``Popen`` and stops at the first 200 on ``/``
(polled every 20 ms). Reported: median and min per app and the difference. Target: the app is at
most 0.5 s slower than bare Gradio.

    python bench/startup.py
    python bench/startup.py --quick      # 2 runs each
    python bench/startup.py --importtime # also: the app's slowest imports (python -X importtime)
"""

from __future__ import annotations

import argparse
import subprocess
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
    Proc,
    base_env,
    cpu_seconds,
    finish,
    free_port,
    machine,
    mb,
    print_table,
    rss_bytes,
    run_main,
    wait_http,
)

TARGET_OVER_BARE_S = 0.5
BARE = 'import gradio as gr\n\ngr.Interface(lambda x: x, "text", "text").launch()\n'


def start_once(kind: str, tmp: Path, bare: Path, run: int) -> dict[str, Any]:
    port = free_port()
    env = base_env(
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(tmp / f"gradio-tmp-{kind}-{run}"),
        SUXI_API_KEY=KEY,
        SUXI_BASE_URL="http://127.0.0.1:9",  # never called: nothing is generated
        SUXI_DATA_DIR=str(tmp / f"data-{run}"),
    )
    args = [sys.executable, "app.py"] if kind == "app" else [sys.executable, str(bare)]
    t0 = time.time()
    proc = Proc(f"{kind}-{run}", args, env, tmp, cwd=APP_ROOT)
    try:
        ready = wait_http(f"http://127.0.0.1:{port}/", proc, timeout=60, every=0.02)
        return {
            "kind": kind,
            "run": run,
            "seconds": round(ready - t0, 3),
            "cpu_s": round(cpu_seconds(proc.pid), 3),
            "rss_mb": mb(rss_bytes(proc.pid)),
        }
    finally:
        proc.stop()


def import_profile(tmp: Path, top: int = 15) -> list[dict[str, Any]]:
    """``python -X importtime -c 'import app'``: the slowest imports (cumulative)."""
    env = base_env(SUXI_API_KEY=KEY, SUXI_DATA_DIR=str(tmp / "data-imp"))
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=APP_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        self_us, cumulative_us, name = line.split(":", 1)[1].split("|", 2)
        if not self_us.strip().isdigit():
            continue  # the header line
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        rows.append(
            {
                "module": name.strip(),
                "depth": depth,
                "self_ms": int(self_us) / 1000,
                "cumulative_ms": int(cumulative_us) / 1000,
            }
        )
    top_level = [r for r in rows if r["depth"] <= 1]  # app and its direct imports
    return sorted(top_level, key=lambda r: -r["cumulative_ms"])[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs each")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    runs = args.runs or (2 if args.quick else 5)

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-startup-"))
    bare = tmp / "bare_gradio.py"
    bare.write_text(BARE)
    results: dict[str, Any] = {
        "benchmark": "startup",
        "machine": machine(),
        "params": {"runs": runs},
        "runs": [],
    }
    code = 0
    try:
        for run in range(runs):
            order = ("bare", "app") if run % 2 == 0 else ("app", "bare")
            for kind in order:
                r = start_once(kind, tmp, bare, run)
                results["runs"].append(r)
                print(f"  {kind:4} #{run}: {r['seconds']:.2f} s", flush=True)
        if args.importtime:
            results["importtime_top"] = import_profile(tmp)
    except Exception:
        traceback.print_exc()
        results["error"] = traceback.format_exc()
        code = 1

    summary = {}
    for kind in ("bare", "app"):
        times = sorted(r["seconds"] for r in results["runs"] if r["kind"] == kind)
        cpus = sorted(r["cpu_s"] for r in results["runs"] if r["kind"] == kind)
        rss = sorted(r["rss_mb"] for r in results["runs"] if r["kind"] == kind)
        if times:
            summary[kind] = {
                "median_s": round(
                    times[len(times) // 2]
                    if len(times) % 2
                    else sum(times[len(times) // 2 - 1 : len(times) // 2 + 1]) / 2,
                    3,
                ),
                "min_s": times[0],
                "max_s": times[-1],
                "median_cpu_s": cpus[len(cpus) // 2],
                "median_rss_mb": rss[len(rss) // 2],
            }
    results["summary"] = summary
    print()
    print_table(
        ["", "median_s", "min_s", "max_s", "cpu_s", "rss_MB"],
        [
            [k, v["median_s"], v["min_s"], v["max_s"], v["median_cpu_s"], v["median_rss_mb"]]
            for k, v in summary.items()
        ],
    )
    if "app" in summary and "bare" in summary:
        over_median = round(summary["app"]["median_s"] - summary["bare"]["median_s"], 3)
        over_min = round(summary["app"]["min_s"] - summary["bare"]["min_s"], 3)
        met = over_median <= TARGET_OVER_BARE_S
        results["targets"] = {
            "app_minus_bare_median_s": over_median,
            "app_minus_bare_min_s": over_min,
            "within_0.5s_of_bare": met,
        }
        print(
            f"app − bare: median {over_median:+.2f} s, min {over_min:+.2f} s → target ≤ 0.5 s "
            f"{'met' if met else 'MISSED'}"
        )
    if results.get("importtime_top"):
        print("\nslowest imports of app.py and its direct imports (cumulative ms):")
        for r in results["importtime_top"]:
            print(f"  {r['cumulative_ms']:8.1f}  {r['module']}")
    return finish("startup", results, tmp, code, quick=args.quick)


if __name__ == "__main__":
    run_main(main)
