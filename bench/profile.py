"""Where the CPU goes: ``py-spy record`` on the app — and on the load generator itself — while
a wave of N visitors runs (``bench/wave.py``).

Starts the relay and the app as the other benchmarks do, starts the wave in a thread, waits
``--settle`` seconds, then samples both processes at 100 Hz for ``--duration`` seconds (idle
frames dropped). Prints the share of on-CPU samples by package and the top frames by self and
inclusive time, per process, of the samples that were not waiting. Needs ``pip install py-spy``
(bench/requirements.txt).

    python bench/run.py profile --n 64 --via raw
    python bench/run.py profile --n 1024 --via raw -T 40 --duration 15
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench import procs
from bench.stats import RESULTS
from bench.wave import run_wave

GROUPS = (
    ("suxi (app code)", ("(suxi/", "(app.py")),
    ("bench (load generator)", ("(bench/",)),
    ("gradio", ("(gradio/",)),
    ("gradio_client", ("(gradio_client/",)),
    ("pydantic", ("(pydantic",)),
    ("starlette/fastapi/uvicorn/h11", ("(starlette/", "(fastapi/", "(uvicorn/", "(h11/")),
    ("httpx/httpcore/anyio", ("(httpx/", "(httpcore/", "(anyio/")),
    ("json/orjson", ("(json/", "orjson")),
    ("sqlite3", ("(sqlite3/",)),
    ("asyncio", ("(asyncio/", "(selectors.py")),
)


# Leaves that mean "waiting": py-spy samples every thread, the idle worker threads included.
IDLE = ("Condition.wait (threading.py", "EpollSelector.select (selectors.py", "Event.wait (")


def spy(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    args = ["py-spy", "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "100"]
    args += ["--format", "raw", "-o", str(out)]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


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
    """Shares of the samples on the CPU (stacks that end in a wait are left out)."""
    waiting = sum(c for frames, c in stacks if frames and frames[-1].startswith(IDLE))
    stacks = [(f, c) for f, c in stacks if f and not f[-1].startswith(IDLE)]
    total = sum(c for _, c in stacks) or 1
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    groups: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        if not frames:
            continue
        self_time[frames[-1]] += count
        groups[group_of(frames[-1])] += count
        for frame in set(frames):
            inclusive[frame] += count

    def table(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [{"pct": round(100 * c / total, 1), "frame": f} for f, c in counter.most_common(top)]

    return {
        "samples": total,
        "waiting_samples": waiting,
        "by_package_self_pct": {g: round(100 * c / total, 1) for g, c in groups.most_common()},
        "top_self": table(self_time),
        "top_inclusive": table(inclusive),
    }


def show(name: str, data: dict[str, Any], usage: dict[str, Any]) -> None:
    print(
        f"\n== {name}: {usage.get('cpu_pct_of_one_core')} % of one core, {data['samples']} samples"
    )
    for group, share in data["by_package_self_pct"].items():
        print(f"  {share:5.1f}%  {group}")
    print("  top self:")
    for row in data["top_self"][:15]:
        print(f"    {row['pct']:5.1f}%  {row['frame'][:130]}")
    print("  top inclusive:")
    for row in data["top_inclusive"][:25]:
        print(f"    {row['pct']:5.1f}%  {row['frame'][:130]}")


def main(argv: list[str], ctx) -> int:
    parser = argparse.ArgumentParser(prog="run.py profile", description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--via", choices=("raw", "page", "gc"), default="raw")
    parser.add_argument("-T", "--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=4.0)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds sampled")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    if shutil.which("py-spy") is None:
        print("py-spy is not installed: pip install -r bench/requirements.txt")
        return 2
    ctx.suffix = f"-{args.via}-{args.n}"
    ctx.results["params"] = vars(args)
    relay, relay_url = procs.start_relay(ctx.tmp, "--seconds", str(args.seconds))
    app = procs.start_app(
        ctx.tmp, relay_url, SUXI_MAX_JOBS=args.n + 8, SUXI_MAX_QUEUE=max(512, args.n)
    )
    wave = threading.Thread(
        target=run_wave, args=(app.url, args.n, args.via, 3 * args.seconds), daemon=True
    )
    wave.start()
    time.sleep(args.settle)
    outs = {"app": ctx.tmp / "app.txt", "loadgen": ctx.tmp / "loadgen.txt"}
    usage = procs.Usage({"app": app.pid, "relay": relay.pid})
    spies = {"app": spy(app.pid, args.duration, outs["app"])}
    spies["loadgen"] = spy(os.getpid(), args.duration, outs["loadgen"])
    for name, process in spies.items():
        _, err = process.communicate(timeout=args.duration + 60)
        if process.returncode != 0:
            raise RuntimeError(f"py-spy on {name} failed: {err.decode()[-2000:]}")
    used = usage.end()
    ctx.results["usage"] = used
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name, path in outs.items():
        data = analyse(parse_raw(path), args.top)
        ctx.results[name] = data
        shutil.copy(path, RESULTS / f"profile-{name}-{args.via}-{args.n}.collapsed.txt")
        show(name, data, used[name])
    app.stop()
    relay.stop()
    return 0
