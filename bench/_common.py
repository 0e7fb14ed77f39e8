"""Shared pieces of the benchmarks: processes, /proc metrics, gradio_client visitors, output.

Nothing here needs psutil: RSS and CPU time come from ``/proc/<pid>/status`` and
``/proc/<pid>/stat`` (Linux only).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
# The app under test: this checkout, or a frozen copy of it (``git archive HEAD | tar -x -C DIR``)
# so that every figure of a session comes from the same code while the tree is being edited.
APP_ROOT = Path(os.environ.get("BENCH_APP_ROOT") or ROOT).resolve()
RESULTS = ROOT / "bench" / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
KEY = "sk-bench-key"

# gradio_client must never phone home (it starts a telemetry thread unless this is "False").
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


# ── processes ─────────────────────────────────────────────────────────────────────────────────


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process in its own session; ``stop()`` ends it (and only it) by its id."""

    def __init__(
        self, name: str, args: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
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

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 3.0) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)  # the group we created for it
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.pid, signal.SIGKILL)
                self.popen.wait(5)
        self._log.close()

    def tail(self, n: int = 30) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])


def base_env(**extra: str) -> dict[str, str]:
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


def start_relay(
    log_dir: Path,
    seconds: float,
    every: float = 1.0,
    files: dict[str, Path] | None = None,
    video: str = "",
    timeout: float = 20.0,
) -> tuple[Proc, str]:
    """``bench/_relay.py`` in its own process; returns it and its base URL."""
    port = free_port()
    args = [sys.executable, str(ROOT / "bench" / "_relay.py"), "--port", str(port)]
    args += ["--seconds", str(seconds), "--every", str(every)]
    for name, path in (files or {}).items():
        args += ["--file", f"{name}={path}"]
    if video:
        args += ["--video", video]
    proc = Proc("relay", args, base_env(), log_dir)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise RuntimeError(f"relay exited:\n{proc.tail()}")
        for line in proc.log_path.read_text(errors="replace").splitlines():
            if line.startswith("READY "):
                return proc, line.split(" ", 1)[1].strip()
        time.sleep(0.05)
    proc.stop()
    raise RuntimeError("relay did not start")


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_http(url: str, proc: Proc, timeout: float = 60.0, every: float = 0.02) -> float:
    """Poll until ``url`` answers 200; returns the time it did (time.time())."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        if http_ok(url, timeout=max(1.0, every)):
            return time.time()
        time.sleep(every)
    raise RuntimeError(f"{proc.name} did not answer {url} within {timeout:.0f} s:\n{proc.tail()}")


def start_app(
    log_dir: Path,
    relay_url: str,
    *,
    max_jobs: int = 256,
    max_queue: int = 512,
    name: str = "app",
    extra_env: dict[str, str] | None = None,
) -> tuple[Proc, str]:
    """``python app.py`` against the relay, with a fresh data dir; returns it and its URL."""
    port = free_port()
    data = log_dir / f"{name}-data"
    env = base_env(
        SUXI_API_KEY=KEY,
        SUXI_BASE_URL=relay_url,
        SUXI_DATA_DIR=str(data),
        SUXI_MAX_JOBS=str(max_jobs),
        SUXI_MAX_QUEUE=str(max_queue),
        GRADIO_SERVER_PORT=str(port),
        GRADIO_TEMP_DIR=str(log_dir / f"{name}-gradio-tmp"),
        **(extra_env or {}),
    )
    proc = Proc(name, [sys.executable, "app.py"], env, log_dir, cwd=APP_ROOT)
    proc.data_dir = data  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, proc, timeout=90)
    except BaseException:
        proc.stop()
        raise
    return proc, url


def server_side_jobs(data_dir: Path) -> dict[str, Any]:
    """The app's own view of the jobs (its SQLite store): states, and created → finished times.

    Independent of the load generator: when the client process is saturated its timestamps lag,
    these do not.
    """
    import sqlite3

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


# ── /proc metrics ─────────────────────────────────────────────────────────────────────────────


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc (0 if the process is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process (its threads included), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def system_busy_seconds() -> float:
    """CPU seconds all processes spent busy (from /proc/stat): the noise on a shared machine."""
    with open("/proc/stat") as f:
        parts = f.readline().split()[1:]
    values = [int(x) for x in parts]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / CLK_TCK


class RssSampler:
    """Samples a process's RSS in a background thread; ``peak`` since the last ``reset``."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid = pid
        self.every = every
        self.peak = 0
        self.last = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rss-{pid}", daemon=True)

    def start(self) -> RssSampler:
        self.reset()
        self._thread.start()
        return self

    def reset(self) -> int:
        self.last = self.peak = rss_bytes(self.pid)
        self.samples = 0
        return self.last

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            value = rss_bytes(self.pid)
            self.last = value
            self.samples += 1
            if value > self.peak:
                self.peak = value

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


class Phase:
    """CPU and RSS of the watched processes (and of the whole machine) over one phase."""

    def __init__(self, procs: dict[str, int]) -> None:
        self.procs = procs
        self.samplers = {name: RssSampler(pid).start() for name, pid in procs.items()}
        self.t0 = time.time()
        self.cpu0 = {name: cpu_seconds(pid) for name, pid in procs.items()}
        self.self0 = _self_cpu()
        self.busy0 = system_busy_seconds()
        self.rss0 = {name: s.last for name, s in self.samplers.items()}

    def end(self) -> dict[str, Any]:
        wall = time.time() - self.t0
        busy = system_busy_seconds() - self.busy0
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
                "rss_start_mb": mb(self.rss0[name]),
                "rss_peak_mb": mb(sampler.peak),
                "rss_end_mb": mb(rss_bytes(pid)),
            }
        bench_cpu = _self_cpu() - self.self0
        out["bench_process_cpu_s"] = round(bench_cpu, 3)
        out["other_processes_cpu_s"] = round(max(busy - ours - bench_cpu, 0.0), 3)
        out["machine_busy_cpu_s"] = round(busy, 3)
        return out


def _self_cpu() -> float:
    t = os.times()
    return t.user + t.system


def mb(n: float) -> float:
    return round(n / 2**20, 1)


# ── gradio_client visitors ────────────────────────────────────────────────────────────────────

# When each SSE message reached the client's stream reader: event_id -> [(time, msg kind)].
# gradio_client hands messages from its reader thread to the job thread through a deque that
# the job thread polls every 50 ms (gradio_client/utils.py, stream_sse_v1plus), so the time a
# Job's outputs appear is up to 50 ms later than the bytes arrived. We record both.
ARRIVALS: dict[str, list[tuple[float, str]]] = {}
# Each SSE stream a client opened: (opened, closed, session, messages without an event id).
STREAMS: list[dict[str, Any]] = []
_patched = False


class _StampDeque(deque):
    def append(self, item: Any) -> None:  # called by the stream-reader thread on arrival
        if isinstance(item, dict) and "event_id" in item:
            ARRIVALS.setdefault(item["event_id"], []).append((time.time(), str(item.get("msg"))))
        elif item is not None:
            STREAMS.append({"t": time.time(), "message": str(item)[:200]})
        super().append(item)


class _StampList(list):
    """job.outputs: remembers when each output became visible to Job users."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.time())
        super().append(item)


def install_stamps() -> None:
    """Patch gradio_client (in this process only) to timestamp every message it receives."""
    global _patched
    if _patched:
        return
    import gradio_client.client as gc
    from gradio_client.utils import JobStatus

    class StampJobStatus(JobStatus):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.outputs = _StampList(self.outputs)

    gc.deque = _StampDeque
    gc.JobStatus = StampJobStatus
    original = gc.Client.stream_messages

    def stream_messages(self: Any, protocol: str, session_hash: str) -> None:
        record: dict[str, Any] = {"opened": time.time(), "session": session_hash[:8]}
        STREAMS.append(record)
        try:
            return original(self, protocol, session_hash)
        except BaseException as err:
            record["error"] = f"{type(err).__name__}: {err}"[:200]
            raise
        finally:
            record["closed"] = time.time()
            with self.pending_lock:
                record["pending_at_close"] = len(self.pending_event_ids)

    gc.Client.stream_messages = stream_messages
    _patched = True


def new_client(url: str):
    from gradio_client import Client

    return Client(
        url,
        verbose=False,
        download_files=False,  # the video stays on the server: measure the app, not copies
        analytics_enabled=False,
        max_workers=4,
        httpx_kwargs={"timeout": 60},
    )


def make_clients(url: str, n: int, workers: int = 8) -> list[Any]:
    """n independent visitors (each its own session, heartbeat and SSE stream)."""
    from concurrent.futures import ThreadPoolExecutor

    install_stamps()
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: new_client(url), range(n)))


def close_clients(clients: list[Any]) -> None:
    for c in clients:
        with contextlib.suppress(Exception):
            c.close()


@dataclass
class Visit:
    """One visitor's generation: what it saw and when."""

    index: int
    submitted: float = 0.0
    job: Any = None
    done_at: float | None = None
    result: Any = None
    error: str | None = None
    outputs: list[Any] = field(default_factory=list)
    seen_times: list[float] = field(default_factory=list)  # when gradio_client exposed each
    wire_times: list[float] = field(default_factory=list)  # when its bytes arrived
    completed_wire: float | None = None

    def collect(self) -> None:
        job = self.job
        if job is None:
            return
        outs = job.communicator.job.outputs
        self.outputs = list(outs)
        self.seen_times = list(getattr(outs, "times", []))
        event_id = getattr(job.communicator, "event_id", None)
        arrivals = ARRIVALS.get(event_id or "", [])
        self.wire_times = [t for t, kind in arrivals if kind == "process_generating"]
        done = [t for t, kind in arrivals if kind == "process_completed"]
        self.completed_wire = done[0] if done else None
        if len(self.wire_times) != len(self.outputs):  # should not happen; fall back
            self.wire_times = list(self.seen_times)
        if job.done():
            try:
                self.result = job.result(timeout=0)
            except Exception as err:
                self.error = f"{type(err).__name__}: {err}"[:300]
        elif self.error is None:
            self.error = "unfinished"

    def timeline(self, t0: float) -> dict[str, Any]:
        """This visit's moments relative to ``t0`` (seconds), for the JSON results."""

        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - t0, 3)

        return {
            "i": self.index,
            "submitted": rel(self.submitted),
            "first_output": rel(self.first_output),
            "outputs": len(self.outputs),
            "finished": rel(self.completed_wire),
            "ok": self.ok,
            "error": self.error,
            "last_status": str(self.outputs[-1][0])[:80] if self.outputs else None,
        }

    @property
    def first_output(self) -> float | None:
        return self.wire_times[0] if self.wire_times else None

    @property
    def finished(self) -> float | None:
        return self.completed_wire or self.done_at

    @property
    def ok(self) -> bool:
        if self.error or not isinstance(self.result, (list, tuple)) or len(self.result) < 2:
            return False
        status, video = self.result[0], self.result[1]
        return isinstance(status, str) and status.startswith("Done") and bool(video)


def submit_all(clients: list[Any], prompt: str = "A corgi surfing a wave") -> list[Visit]:
    """Every visitor presses Generate now (as close to at once as one thread can)."""
    visits = []
    for i, client in enumerate(clients):
        visit = Visit(i)
        visit.submitted = time.time()
        visit.job = client.submit(
            prompt=f"{prompt} #{i}", max_tokens=1000, stream=True, api_name="/generate"
        )

        def done(_fut: Any, v: Visit = visit) -> None:
            v.done_at = time.time()

        visit.job.add_done_callback(done)
        visits.append(visit)
    return visits


def wait_visits(visits: list[Visit], timeout: float) -> None:
    from concurrent.futures import wait

    wait([v.job.future for v in visits if v.job is not None], timeout=max(timeout, 0))
    for v in visits:
        v.collect()


def on_sigterm() -> None:
    """Make ``timeout``/``kill`` run the finally blocks (which stop the app and the relay)."""

    def handler(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


# ── numbers and output ────────────────────────────────────────────────────────────────────────


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        total_kb = int(f.readline().split()[1])
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "cpus": os.cpu_count(),
        "mem_gib": round(total_kb / 2**20, 1),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
        "gradio": _version("gradio"),
        "gradio_client": _version("gradio_client"),
        "httpx": _version("httpx"),
        "app_under_test": code_version(),
    }


def code_version() -> dict[str, Any]:
    """Which code was measured: the app root, its git commit (if any) and a digest of the files."""
    import hashlib

    digest = hashlib.sha256()
    for path in [APP_ROOT / "app.py", *sorted((APP_ROOT / "suxi").glob("*.py"))]:
        with contextlib.suppress(OSError):
            digest.update(path.name.encode() + path.read_bytes())
    info: dict[str, Any] = {"root": str(APP_ROOT), "sha256_app_and_suxi": digest.hexdigest()[:16]}
    try:
        head = subprocess.run(
            ["git", "-C", str(APP_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        dirty = subprocess.run(
            ["git", "-C", str(APP_ROOT), "status", "--porcelain", "--", "app.py", "suxi"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        if head.returncode == 0:
            info["git_head"] = head.stdout.strip()
            info["uncommitted_changes"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    marker = APP_ROOT / ".bench-commit"  # written next to a frozen copy: which commit it is
    if "git_head" not in info and marker.is_file():
        info["git_head"] = marker.read_text().strip()
    return info


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = os.environ.get("BENCH_TAG", "").strip()  # e.g. a variant of the app under test
    path = RESULTS / (f"{name}.{tag}.json" if tag else f"{name}.json")
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nresults: {path.relative_to(ROOT)}")
    return path


def hard_exit(code: int = 0) -> None:
    """Leave without waiting for gradio_client's non-daemon pool threads (their streams were
    cut when the app was stopped, but an unlucky one could still be blocked)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cleanup(tmp: Path, failed: bool) -> None:
    """Remove a run's temp dir (logs, data, videos); keep it when the run failed."""
    import shutil

    if failed:
        print(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


def finish(name: str, results: dict[str, Any], tmp: Path, code: int, quick: bool = False) -> int:
    """End a run: drop its temp dir (kept when it failed), write ``bench/results/NAME.json``
    (``NAME-quick.json`` for a quick run) and return the exit code."""
    cleanup(tmp, failed=bool(code))
    write_results(f"{name}-quick" if quick else name, results)
    return code


def run_main(main: Callable[[], int]) -> NoReturn:
    """A benchmark's entry point: SIGTERM/SIGHUP run its finally blocks, any escaping exception
    is printed and exits 1, and the process leaves without waiting for stray threads."""
    on_sigterm()
    try:
        rc = main()
    except SystemExit as stop:  # argparse's --help (0) and usage errors (2)
        if stop.code is None or isinstance(stop.code, int):
            rc = stop.code or 0
        else:
            print(stop.code, file=sys.stderr)
            rc = 1
    except BaseException:
        traceback.print_exc()
        rc = 1
    hard_exit(rc)
