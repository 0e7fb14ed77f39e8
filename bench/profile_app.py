"""Where the app's CPU goes under load: py-spy on ``python app.py`` while N generations run.

Starts the relay and the app as the other benchmarks do, starts N generations (default 128,
T = 30 s), waits until they run, then samples the app with ``py-spy record`` (100 Hz, ``--gil``
off, idle frames dropped) for ``--duration`` seconds. Prints the functions with the most samples
on-CPU, by self time and by inclusive time, and a grouping by package (suxi / gradio / starlette
and uvicorn / asyncio / …). Needs ``pip install py-spy`` (bench/requirements.txt).

    python bench/profile_app.py                  # N = 128
    python bench/profile_app.py --n 64 --duration 10
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    RESULTS,
    Phase,
    Proc,
    close_clients,
    finish,
    machine,
    make_clients,
    run_main,
    start_app,
    start_relay,
    submit_all,
)

GROUPS = (
    ("suxi (app code)", ("(suxi/", "(app.py")),
    ("gradio", ("(gradio/",)),
    ("pydantic", ("(pydantic",)),
    ("starlette/fastapi/uvicorn", ("(starlette/", "(fastapi/", "(uvicorn/", "(h11/")),
    ("httpx/httpcore/anyio", ("(httpx/", "(httpcore/", "(anyio/")),
    ("sqlite3", ("(sqlite3/",)),
    ("idle: selector/thread waits", ("select (selectors.py", "Condition.wait (threading")),
    ("asyncio", ("(asyncio/",)),
)


def parse_raw(path: Path) -> list[tuple[list[str], int]]:
    """py-spy's raw (collapsed) format: ``frame;frame;… count`` per line, root first."""
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks.append((stack.split(";"), int(count)))
    return stacks


def group_of(frame: str) -> str:
    for name, needles in GROUPS:
        if any(n in frame for n in needles):
            return name
    return "other"


def analyse(stacks: list[tuple[list[str], int]], top: int) -> dict[str, Any]:
    total = sum(c for _, c in stacks) or 1
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        if not frames:
            continue
        leaf = frames[-1]
        self_time[leaf] += count
        groups[group_of(leaf)] += count
        for frame in set(frames):
            inclusive[frame] += count

    def table(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"share_pct": round(100 * c / total, 1), "frame": f}
            for f, c in counter.most_common(top)
        ]

    return {
        "samples": total,
        "by_package_self_pct": {g: round(100 * c / total, 1) for g, c in groups.most_common()},
        "top_self": table(self_time),
        "top_inclusive": table(inclusive),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--seconds", "-T", type=float, default=30.0)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds sampled")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        print("py-spy is not installed: pip install -r bench/requirements.txt")
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="suxi-bench-profile-"))
    raw = tmp / "profile.txt"
    results: dict[str, Any] = {
        "benchmark": "profile_app",
        "machine": machine(),
        "params": vars(args),
    }
    relay: Proc | None = None
    app: Proc | None = None
    clients: list[Any] = []
    code = 0
    try:
        relay, relay_url = start_relay(tmp, args.seconds, 1.0)
        app, url = start_app(tmp, relay_url, max_jobs=256, max_queue=512)
        clients = make_clients(url, args.n)
        visits = submit_all(clients)
        t0 = visits[0].submitted
        while time.time() < t0 + 15 and any(not v.job.communicator.job.outputs for v in visits):
            time.sleep(0.1)
        time.sleep(2.0)
        phase = Phase({"app": app.pid})
        spy = subprocess.run(
            [
                "py-spy",
                "record",
                "-p",
                str(app.pid),
                "-d",
                str(int(args.duration)),
                "-r",
                "100",
                "--format",
                "raw",
                "-o",
                str(raw),
                "--nonblocking",
            ],
            capture_output=True,
            text=True,
            timeout=args.duration + 60,
        )
        results["usage"] = phase.end()
        results["running_when_sampled"] = sum(bool(v.job.communicator.job.outputs) for v in visits)
        if spy.returncode != 0:
            raise RuntimeError(f"py-spy failed: {spy.stderr[-2000:]}")
        results.update(analyse(parse_raw(raw), args.top))
        RESULTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(raw, RESULTS / "profile_app.collapsed.txt")
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

    if "top_self" in results:
        u = results["usage"]["app"]
        print(
            f"\napp CPU while sampled: {u['cpu_s']} s in {results['usage']['wall_s']} s "
            f"({u['cpu_pct_of_one_core']}% of one core), {results['running_when_sampled']} "
            f"generations running, {results['samples']} samples"
        )
        print("\nself time by package:")
        for g, p in results["by_package_self_pct"].items():
            print(f"  {p:5.1f}%  {g}")
        print("\ntop self:")
        for r in results["top_self"]:
            print(f"  {r['share_pct']:5.1f}%  {r['frame']}")
        print("\ntop inclusive:")
        for r in results["top_inclusive"]:
            print(f"  {r['share_pct']:5.1f}%  {r['frame']}")
    return finish("profile_app", results, tmp, code)


if __name__ == "__main__":
    run_main(main)
