"""Run ``python app.py`` as a real subprocess and talk to it through ``gradio_client``.

Used by ``tests/test_app.py`` and ``tests/test_shared.py``, and (as ``browser_support.AppServer``)
by ``tests/test_browser.py``. The app gets its whole configuration from the environment built
here (every ``SUXI_*`` variable is set explicitly, so a stray ``.env`` cannot change a test), its
stdout and stderr go to a log file the tests can read, and every output any call returned is
kept in :attr:`AppProcess.seen` so a test can scan all of them at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client
from gradio_client.exceptions import AppError

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0  # importing gradio takes ~4 s; on a loaded 2-core machine 30 s was seen
CALL_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(
    *,
    api_key: str,
    base_url: str = "",
    data_dir: Path,
    port: int,
    speed: float = 20,
    **extra: str,
) -> dict[str, str]:
    """The app's environment: the caller's, minus anything that configures the app or Gradio,
    plus every setting spelled out (a real variable always wins over ``.env``). An empty
    ``base_url`` means the app's default relay; ``speed`` is the offline demo's speed-up."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SUXI_", "GRADIO_")) and k != "SPACE_ID"
    }
    env.update(
        {
            "SUXI_API_KEY": api_key,
            "SUXI_BASE_URL": base_url,
            "SUXI_MODEL": "sora-2",
            "SUXI_DATA_DIR": str(data_dir),
            "SUXI_SHARED": "0",
            "SUXI_DEMO_SPEED": str(speed),
            "SUXI_CONNECT_TIMEOUT": "5",
            "SUXI_READ_TIMEOUT": "20",
            "SUXI_TOTAL_TIMEOUT": "60",
            "SUXI_DOWNLOAD_TIMEOUT": "20",
            "SUXI_MAX_VIDEO_MB": "500",
            "SUXI_MAX_PROMPT_CHARS": "4000",
            "SUXI_MAX_JOBS": "16",
            "SUXI_MAX_QUEUE": "64",
            "SUXI_VISITOR_KEYS": "0",
            "GRADIO_SERVER_NAME": "127.0.0.1",
            "GRADIO_SERVER_PORT": str(port),
            "GRADIO_ANALYTICS_ENABLED": "False",
            "GRADIO_TEMP_DIR": str(data_dir.parent / "gradio-tmp"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.update(extra)
    return env


class AppProcess:
    """One ``python app.py`` process on loopback."""

    start_timeout = START_TIMEOUT  # what :meth:`wait_ready` waits by default

    def __init__(
        self,
        workdir: Path,
        *,
        api_key: str,
        base_url: str = "",
        speed: float = 20,
        **extra_env: str,
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.downloads = workdir / "client-downloads"
        self.log_path = workdir / "app.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = app_env(
            api_key=api_key,
            base_url=base_url,
            data_dir=self.data_dir,
            port=self.port,
            speed=speed,
            **extra_env,
        )
        self.seen: list[Any] = []  # every output of every call, for leak scans
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        self._closers: list[threading.Thread] = []

    # — lifecycle —

    def launch(self) -> AppProcess:
        """Start the process without waiting for it (see :meth:`wait_ready`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        return self

    def wait_ready(self, timeout: float | None = None) -> AppProcess:
        """Return once the page answers; raise (with the log) if the app died or never did."""
        assert self._proc is not None, "launch() first"
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"app.py {self.exit_reason()} before answering:\n{self.log()}")
            try:
                if httpx.get(self.url, timeout=2.0, trust_env=False).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"app.py did not answer within {timeout}s:\n{self.log()}")
            time.sleep(0.2)

    def start(self) -> AppProcess:
        return self.launch().wait_ready()

    def stop(self) -> None:
        for closer in self._closers:
            closer.join(timeout=5)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def exit_reason(self) -> str:
        code = self._proc.poll() if self._proc is not None else None
        if code is None:
            return "is running"
        if code < 0:
            return f"was killed by signal {-code} (not by this test: it stops its app last)"
        return f"exited with {code}"

    def check_alive(self, err: BaseException) -> None:
        """Turn a failed call into a clear report when the app itself has died."""
        if self._proc is not None and self._proc.poll() is not None:
            raise RuntimeError(f"app.py {self.exit_reason()}:\n{self.log()[-3000:]}") from err

    def log(self, tail: int | None = None) -> str:
        """What the app wrote so far (its last ``tail`` characters, when given)."""
        if self._log_file is not None:
            self._log_file.flush()
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        return text if tail is None else text[-tail:]

    # — talking to it —

    def client(self, **kw: Any) -> Client:
        try:
            return Client(
                self.url,
                verbose=False,
                analytics_enabled=False,
                download_files=str(self.downloads),
                httpx_kwargs={"trust_env": False},
                **kw,
            )
        except Exception as err:
            self.check_alive(err)
            raise

    def close_later(self, client: Client) -> None:
        """``Client.close`` waits up to 1 s for its heartbeat thread: do it in the background
        (joined when the app stops) so loops of many sessions stay fast."""
        closer = threading.Thread(target=client.close, daemon=True)
        closer.start()
        self._closers.append(closer)

    def call(self, *args: Any, api_name: str = "/generate", timeout: float = CALL_TIMEOUT) -> Any:
        """One call in its own client session; the final output (an AppError is raised)."""
        client = self.client()
        try:
            result = client.submit(*args, api_name=api_name).result(timeout=timeout)
        except AppError:
            raise
        except Exception as err:
            self.check_alive(err)
            raise
        finally:
            self.close_later(client)
        self.seen.append(result)
        return result

    def stream(
        self, *args: Any, api_name: str = "/generate", timeout: float = CALL_TIMEOUT
    ) -> list[Any]:
        """Every output a streaming call produced, the final one last."""
        client = self.client()
        try:
            job = client.submit(*args, api_name=api_name)
            final = job.result(timeout=timeout)
            outputs = list(job.outputs())
        except AppError:
            raise
        except Exception as err:
            self.check_alive(err)
            raise
        finally:
            self.close_later(client)
        self.seen.extend([*outputs, final])
        if not outputs or outputs[-1] != final:
            outputs.append(final)
        return outputs

    def my_videos(self, client: Client | None = None) -> list[dict[str, Any]]:
        own = client is None
        client = client or self.client()
        try:
            jobs = client.submit(api_name="/my_videos").result(timeout=CALL_TIMEOUT)
        finally:
            if own:
                self.close_later(client)
        self.seen.append(jobs)
        return jobs


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; return it, or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        time.sleep(interval)


def first_output(job: Any, accept: Callable[[Any], bool], timeout: float) -> Any:
    """The first streamed output of a running ``Job`` that ``accept`` likes."""
    seen = 0

    def look() -> Any:
        nonlocal seen
        finished = job.done()  # read first: outputs are appended before the job completes
        outputs = job.outputs()
        for output in outputs[seen:]:
            if accept(output):
                return (output,)
        seen = len(outputs)
        if finished:
            raise AssertionError(f"the job ended without such an output; last: {outputs[-1:]}")
        return None

    (output,) = wait_for(look, timeout, interval=0.01)
    return output
