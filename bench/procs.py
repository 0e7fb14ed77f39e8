"""The processes a benchmark starts — the app and the simulated relay — and what /proc says
about them (RSS, CPU time). Linux only; psutil is not needed.

Every process is started in its own session and recorded in :data:`STARTED`; ``bench/run.py``
stops whatever is still running when a benchmark ends, fails or is sent SIGTERM/SIGHUP, each by
its own process group id.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# The app under test: this checkout, or a frozen copy (``git archive <commit> | tar -x -C DIR``)
# so that every figure of a session comes from the same code while the tree is being edited.
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT") or ROOT).resolve()
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KEY = "sk-bench-key"
STARTED: list[Proc] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own session; ``stop()`` ends it (and only it) by its group id."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.started = time.time()
        STARTED.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()
        if self in STARTED:
            STARTED.remove(self)

    def lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.lines()[-n:])


def stop_all() -> None:
    """Stop every process a benchmark started and did not stop (newest first)."""
    for proc in reversed(list(STARTED)):
        with contextlib.suppress(Exception):
            proc.stop()


def base_env(**extra: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUXI_", "GRADIO_"))}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_SERVER_NAME": "127.0.0.1",
        }
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_http(url: str, proc: Proc, timeout: float = 90.0, every: float = 0.02) -> float:
    """Poll until ``url`` answers 200; returns when it did (time.time())."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if http_ok(url, timeout=max(1.0, every)):
            return time.time()
        time.sleep(every)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{proc.tail()}")


# ── the relay and the app ─────────────────────────────────────────────────────────────────────


def start_relay(log_dir: Path, *args: str, name: str = "relay", timeout: float = 20.0):
    """``bench/relay_proc.py`` in its own process (``args`` are its options); returns the
    process and its base URL."""
    cmd = [sys.executable, "-m", "bench.relay_proc", *args]
    proc = Proc(name, cmd, base_env(), log_dir)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise RuntimeError(f"relay exited:\n{proc.tail()}")
        for line in proc.lines():
            if line.startswith("READY "):
                return proc, line.split(" ", 1)[1].strip()
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError("relay did not start")


@dataclass
class App:
    proc: Proc
    url: str  # ends with "/"
    port: int
    data_dir: Path
    ready_s: float  # Popen → the page answers 200

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.stop()


def start_app(
    log_dir: Path,
    relay_url: str,
    *,
    name: str = "app",
    data_dir: Path | None = None,
    port: int | None = None,
    root: Path | None = None,
    **env: object,
) -> App:
    """``python app.py`` against the relay, local mode (SUXI_SHARED=0); ``env`` adds or
    overrides settings (``SUXI_MAX_JOBS=1024``). A given ``data_dir`` is reused (a restart)."""
    port = port or free_port()
    data = data_dir or log_dir / f"{name}-data"
    settings: dict[str, object] = {
        "SUXI_API_KEY": KEY,
        "SUXI_BASE_URL": relay_url,
        "SUXI_DATA_DIR": data,
        "SUXI_SHARED": 0,
        "SUXI_MAX_JOBS": 256,
        "SUXI_MAX_QUEUE": 512,
        "GRADIO_SERVER_PORT": port,
        "GRADIO_TEMP_DIR": log_dir / f"{name}-gradio-tmp",
    }
    settings.update(env)
    t0 = time.time()
    proc = Proc(name, [sys.executable, "app.py"], base_env(**settings), log_dir, root or APP_ROOT)
    url = f"http://127.0.0.1:{port}/"
    try:
        ready = wait_http(url, proc)
    except BaseException:
        proc.stop()
        raise
    return App(proc, url, port, Path(data), round(ready - t0, 3))


def server_side_jobs(data_dir: Path) -> dict[str, Any]:
    """The app's own view of its jobs (its SQLite file): states, and created → finished.
    Independent of the load generator: when the client lags, these do not."""
    path = data_dir / "jobs.sqlite3"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT state, created, finished FROM jobs").fetchall()
    except sqlite3.Error as err:
        return {"error": str(err)}
    finally:
        db.close()
    states: dict[str, int] = {}
    for state, _, _ in rows:
        states[state] = states.get(state, 0) + 1
    done = [(c, f) for s, c, f in rows if s == "done" and f]
    durations = [f - c for c, f in done]
    return {
        "jobs": len(rows),
        "states": states,
        "job_s_p50": round(statistics.median(durations), 3) if durations else None,
        "job_s_max": round(max(durations), 3) if durations else None,
        "first_created_to_last_done_s": (
            round(max(f for _, f in done) - min(c for _, c, _ in rows), 3) if done else None
        ),
    }


# ── /proc ─────────────────────────────────────────────────────────────────────────────────────


def rss_bytes(pid: int) -> int:
    """Resident set size (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process, all its threads included."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def machine_busy_seconds() -> float:
    """CPU seconds every process spent busy (/proc/stat): the noise on a shared machine."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


def mb(n: float) -> float:
    return round(n / 2**20, 1)


class RssSampler:
    """A process's RSS every ``every`` seconds in a thread: peak, last and the series."""

    def __init__(self, pid: int, every: float = 0.05, keep: bool = False) -> None:
        self.pid, self.every, self.keep = pid, every, keep
        self.peak = self.last = rss_bytes(pid)
        self.series: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)
        self._thread.start()

    def reset(self) -> int:
        self.peak = self.last = rss_bytes(self.pid)
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            value = rss_bytes(self.pid)
            self.last = value
            self.peak = max(self.peak, value)
            if self.keep:
                self.series.append((time.time(), value))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class Usage:
    """CPU and RSS of the named processes, of this process and of the whole machine, from
    construction to :meth:`end`."""

    def __init__(self, procs: dict[str, int], rss_every: float = 0.05) -> None:
        self.procs = procs
        self.samplers = {name: RssSampler(pid, rss_every) for name, pid in procs.items()}
        self.t0 = time.time()
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in procs.items()}
        self.self0 = self_cpu()
        self.busy0 = machine_busy_seconds()

    def end(self) -> dict[str, Any]:
        wall = time.time() - self.t0
        busy = machine_busy_seconds() - self.busy0
        out: dict[str, Any] = {"wall_s": round(wall, 3)}
        ours = 0.0
        for name, pid in self.procs.items():
            sampler = self.samplers[name]
            sampler.stop()
            cpu = cpu_seconds(pid) - self.cpu0[name]
            ours += cpu
            out[name] = {
                "cpu_s": round(cpu, 3),
                "cpu_pct_of_one_core": round(100 * cpu / wall, 1) if wall else 0.0,
                "rss_peak_mb": mb(sampler.peak),
                "rss_end_mb": mb(rss_bytes(pid)),
            }
        bench = self_cpu() - self.self0
        out["loadgen"] = {
            "cpu_s": round(bench, 3),
            "cpu_pct_of_one_core": round(100 * bench / wall, 1) if wall else 0.0,
        }
        out["others_cpu_s"] = round(max(busy - ours - bench, 0.0), 3)
        return out


def start_probe(log_dir: Path, url: str, every: float = 0.25, name: str = "probe") -> Proc:
    """``bench/probe.py`` timing /my_videos and /suxi/library from its own process."""
    out = log_dir / f"{name}.json"
    cmd = [sys.executable, "-m", "bench.probe", "--url", url, "--out", str(out)]
    proc = Proc(name, [*cmd, "--every", str(every)], base_env(), log_dir)
    proc.out = out  # type: ignore[attr-defined]
    return proc


def stop_probe(proc: Proc) -> dict[str, list]:
    """Stop the probe and read its timings: name → [(sent, seconds, error)]."""
    import json

    proc.stop(grace=60)
    try:
        return json.loads(proc.out.read_text())  # type: ignore[attr-defined]
    except (OSError, ValueError):
        return {"error": [[0, 0, proc.tail(10)]]}
