"""Run one benchmark: ``python bench/run.py <name> [options]`` (``--help`` after a name lists
its options; ``python bench/run.py`` lists the names).

The one place that sets up the import path, gives each run a temporary folder (logs, data;
kept only when the run fails), writes ``bench/results/<name>.json`` and stops every process the
run started — also when it fails or is sent SIGTERM/SIGHUP (``timeout``, a closed terminal).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCHMARKS = {
    "quiet": "CPU and messages per followed job while the relay is silent (the clock)",
    "concurrency": "N visitors each start one T-second job; the app's own clock; /my_videos",
    "latency": "a progress line's added latency, relay send → visitor's wire",
    "polling": "1,000 task-format jobs polled; CPU, memory; no poll storm after a restart",
    "download": "a 200 MB video through the app vs in-process; one copy on disk",
    "memory": "10,000 cheap API calls and 1,000 finished jobs: does RSS creep?",
    "history": "100,000 jobs in the store: My videos' first page and start-up",
    "profile": "py-spy on the app and the load generator during a concurrency run",
}


@dataclass
class Context:
    """What a benchmark gets from the runner."""

    name: str
    tmp: Path
    results: dict[str, Any] = field(default_factory=dict)
    suffix: str = ""  # "-quick" for a quick run: results/<name>-quick.json


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in BENCHMARKS:
        parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.splitlines()[0])
        parser.add_argument("name", choices=sorted(BENCHMARKS))
        parser.print_help()
        print("\n" + "\n".join(f"  {k:12} {v}" for k, v in BENCHMARKS.items()))
        return 2
    from bench import procs
    from bench.stats import machine, write_results

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    name = argv[0]
    module = importlib.import_module(f"bench.{name}")
    ctx = Context(name, Path(tempfile.mkdtemp(prefix=f"suxi-bench-{name}-")))
    ctx.results = {"benchmark": name, "argv": argv[1:], "machine": machine()}
    code, save = 0, True
    try:
        code = module.main(argv[1:], ctx) or 0
    except SystemExit as stop:  # argparse: --help (0) and usage errors (2)
        code = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        save = False
    except BaseException:
        traceback.print_exc()
        ctx.results["error"] = traceback.format_exc()
        code = 1
    finally:
        procs.stop_all()
        if save:
            write_results(name + ctx.suffix, ctx.results)
        if code:
            print(f"logs kept in {ctx.tmp}")
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    return code


if __name__ == "__main__":
    rc = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # gradio_client leaves non-daemon pool threads behind; their streams were cut with the app.
    import os

    os._exit(rc)
