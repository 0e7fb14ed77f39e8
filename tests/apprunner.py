"""Run ``python app.py`` as a real subprocess and talk to it as its users do.

Used by the app-level tests (``test_app``, ``test_api_formats``, ``test_shared``, ``test_keys``,
``test_abuse``) and, as ``browser_support.AppServer``, by ``tests/test_browser.py``. The app gets
its whole configuration from the environment built here (every ``SUXI_*`` variable that matters
is set explicitly, so a stray ``.env`` cannot change a test); each app has its own page port and
its own port for the offline demo's simulated relay, so apps running side by side never collide.
Its stdout and stderr go to a log file the tests can read, and every output any call returned is
kept in :attr:`AppProcess.seen` so a test can scan all of them at once.

Two doors, as in production: the documented Gradio API through ``gradio_client``, and the page's
own routes (``/suxi/follow``, ``/suxi/act``, ``/suxi/library``, ``/suxi/zip``, ``/media/…``,
``/s/…``) through plain HTTP.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from gradio_client import Client
from gradio_client.exceptions import AppError

from suxi.simrelay import CHAT_PATH, RecordedRequest, Script, SimRelay, demo_script, user_prompt

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0  # importing gradio takes ~3 s; on a loaded 2-core machine 30 s was seen
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
    demo_port: int,
    speed: float = 200,
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
            "SUXI_FORMAT": "auto",
            "SUXI_DATA_DIR": str(data_dir),
            "SUXI_SHARED": "0",
            "SUXI_DEMO_SPEED": str(speed),
            "SUXI_DEMO_PORT": str(demo_port),
            "SUXI_CONNECT_TIMEOUT": "5",
            "SUXI_READ_TIMEOUT": "20",
            "SUXI_TOTAL_TIMEOUT": "120",
            "SUXI_DOWNLOAD_TIMEOUT": "20",
            "SUXI_POLL_INTERVAL": "0.05",
            "SUXI_POLL_MAX_INTERVAL": "0.2",
            "SUXI_MIN_FREE_MB": "0",
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
    """One ``python app.py`` process on loopback (it can be killed and started again on the
    same address and data folder)."""

    start_timeout = START_TIMEOUT  # what :meth:`wait_ready` waits by default

    def __init__(
        self,
        workdir: Path,
        *,
        api_key: str,
        base_url: str = "",
        speed: float = 200,
        **extra_env: str,
    ) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.log_path = workdir / "app.log"
        self.port = free_port()
        self.demo_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = app_env(
            api_key=api_key,
            base_url=base_url,
            data_dir=self.data_dir,
            port=self.port,
            demo_port=self.demo_port,
            speed=speed,
            **extra_env,
        )
        self.seen: list[Any] = []  # every output of every call and route, for leak scans
        self.http = httpx.Client(base_url=self.url, timeout=30.0, trust_env=False)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None
        self._closers: list[threading.Thread] = []

    # — lifecycle —

    def launch(self) -> AppProcess:
        """Start the process without waiting for it (see :meth:`wait_ready`); a second launch
        appends to the same log."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log_file = self.log_path.open("ab")
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
            time.sleep(0.1)

    def start(self) -> AppProcess:
        return self.launch().wait_ready()

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs, as when a machine loses power."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self._close_log()

    def terminate(self) -> None:
        """Ask the app to stop (SIGTERM) without waiting for it: it waits up to 5 s for open
        connections, so :func:`stop_all` asks every app first and then waits."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()

    def stop(self) -> None:
        self.terminate()
        for closer in self._closers:
            closer.join(timeout=5)
        self._closers.clear()
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.http.close()

    def exit_reason(self) -> str:
        code = self._proc.poll() if self._proc is not None else None
        if code is None:
            return "is running"
        if code < 0:
            return f"was killed by signal {-code}"
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

    # — the Gradio API —

    def client(self, headers: dict[str, str] | None = None) -> Client:
        """A new API session. Files are not downloaded: outputs carry the server's path and URL
        (what a test checks), and nothing is copied on the test's side."""
        try:
            return Client(
                self.url,
                verbose=False,
                analytics_enabled=False,
                download_files=False,
                httpx_kwargs={"trust_env": False},
                # Loopback HTTP: no certificate store loaded for each request (~30 ms each).
                ssl_verify=False,
                headers=headers,
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

    def call(
        self,
        *args: Any,
        api_name: str = "/generate",
        headers: dict[str, str] | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> Any:
        """One call in its own client session; the final output (an AppError is raised)."""
        return self.stream(*args, api_name=api_name, headers=headers, timeout=timeout)[-1]

    def stream(
        self,
        *args: Any,
        api_name: str = "/generate",
        headers: dict[str, str] | None = None,
        timeout: float = CALL_TIMEOUT,
    ) -> list[Any]:
        """Every output a call produced, the final one last."""
        client = self.client(headers)
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

    def begin(self, client: Client, *args: Any) -> tuple[Any, tuple]:
        """Submit ``/generate`` on ``client``; the call (still following) and its first output
        (a refusal, or the new job with its id)."""
        call = client.submit(*args, api_name="/generate")
        first = first_output(call, lambda out: True, timeout=CALL_TIMEOUT)
        self.seen.append(first)
        return call, first

    def my_videos(self, visitor: str | None = None) -> list[dict[str, Any]]:
        jobs = self.call(visitor, api_name="/my_videos")
        return jobs

    def job(self, job_id: str, visitor: str | None = None) -> dict[str, Any] | None:
        """The job as ``/my_videos`` lists it (None when the visitor cannot see it)."""
        return next((j for j in self.my_videos(visitor) if j["id"] == job_id), None)

    # — the page's own routes —

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.post(path, json=body, headers=headers)
        if "json" in response.headers.get("content-type", ""):
            self.seen.append(response.text)
        return response

    def act(self, visitor: str, action: str, job_id: str, **extra: Any) -> dict[str, Any]:
        body = {"visitor": visitor, "action": action, "id": job_id, **extra}
        response = self.post("/suxi/act", body)
        assert response.status_code == 200, response.text
        return response.json()

    def library(self, visitor: str | None, **body: Any) -> dict[str, Any]:
        response = self.post("/suxi/library", {"visitor": visitor, **body})
        assert response.status_code == 200, response.text
        return response.json()

    def follow(self, visitor: str | None, ids: list[str], timeout: float = 30.0) -> list[dict]:
        """Every frame of ``POST /suxi/follow`` until the stream ends (every job has ended)."""
        frames: list[dict] = []
        body = {"visitor": visitor, "ids": ids}
        with self.http.stream("POST", "/suxi/follow", json=body, timeout=timeout) as response:
            assert response.status_code == 200, response.read()
            for line in response.iter_lines():
                if line.startswith("data: "):
                    frames.append(json.loads(line[len("data: ") :]))
        self.seen.append(frames)
        return frames


def stop_all(*apps: AppProcess) -> None:
    """Stop several apps at once (their shutdowns overlap)."""
    for app in apps:
        app.terminate()
    for app in apps:
        app.stop()


def inputs(
    prompt: str,
    *,
    max_tokens: float = 1000,
    stream: bool = True,
    visitor: str | None = None,
    key: str = "",
    model: str = "",
    duration: str = "auto",
    image: Any = None,
    fmt: str = "auto",
) -> tuple:
    """``/generate``'s positional inputs in the documented order (orientation and the picture
    link at their defaults; size, watermark, private and count left out)."""
    return (prompt, max_tokens, stream, visitor, key, model, "auto", duration, image, "", fmt)


def _file_data(video: Any) -> dict[str, Any] | None:
    if isinstance(video, dict) and isinstance(video.get("video"), dict):
        video = video["video"]  # a Video output with subtitles
    assert video is None or (isinstance(video, dict) and video.get("url")), video
    return video


def video_url(video: Any) -> str | None:
    """The URL of a Video output as the API returned it (None when there is no video)."""
    data = _file_data(video)
    return data["url"] if data else None


def video_server_path(video: Any) -> Path | None:
    """The file on the server a Video output names."""
    data = _file_data(video)
    return Path(data["path"]) if data else None


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
    """The first streamed output of a running ``gradio_client`` job that ``accept`` likes."""
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
            raise AssertionError(f"the call ended without such an output; last: {outputs[-1:]}")
        return None

    (output,) = wait_for(look, timeout, interval=0.01)
    return output


# ── the relay's side: scripts chosen by prompt, what was sent for a prompt ─────────────────────


def new_prompt(text: str) -> str:
    """A prompt no other test uses: the relay's records are matched to a test by it."""
    return f"{text} #{uuid.uuid4().hex[:10]}"


def sent_prompt(request: RecordedRequest) -> str:
    """The prompt a create request carried, whatever its format (chat: the last user text)."""
    if request.path == CHAT_PATH:
        return user_prompt(request).split("\n\n（")[0]  # without the app's option hints
    if request.form:
        return str(request.form.get("prompt", ""))
    try:
        body = request.json()
    except ValueError:
        return ""
    return str(body.get("prompt", "")) if isinstance(body, dict) else ""


def creates_for(relay: SimRelay, prompt: str) -> list[RecordedRequest]:
    """Every create the relay received for ``prompt`` (refused ones included), in order."""
    return [r for r in relay.creates() if sent_prompt(r) == prompt]


class ScriptsByPrompt:
    """A relay's default chat script: the one registered for the request's prompt, else the
    demo's. Tests register a script under a prompt of their own, so no test can eat another's."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}

    def __call__(self, request: RecordedRequest, base_url: str) -> Script:
        script = self.scripts.get(sent_prompt(request))
        return list(script) if script is not None else demo_script(request, base_url)
