"""A relay simulator: a real HTTP/1.1 server on loopback that answers like the sora-2 relays.

Three callers use it:

* **the offline demo** (the app runs without an API key): ``SimRelay(speed=…).start()`` and point
  the client at ``relay.base_url``. The default script, :func:`demo_script`, plays a ~45 s
  family-A generation and then serves ``assets/sample.mp4`` from ``/files/sample.mp4``;
* **the pytest suite**: ``relay.push(script)`` decides exactly what the next chat completion gets,
  faults included (stalls, dropped connections, raw bytes, error statuses), and
  ``relay.requests`` / ``relay.disconnects`` record what the client did;
* **benchmarks**: hundreds of concurrent streams of :func:`progress_script`, whose progress lines
  carry the server's send time so latency can be measured.

The transcripts are reconstructions from ``relay-protocol.md`` (public relay software and the
clients that parse it), not captures of the production relay.

A *script* is a list of steps, run in order for one ``POST /v1/chat/completions``:

* streaming (the default): the ``200 text/event-stream`` head is written lazily, just before the
  first step that produces bytes, so ``[Sleep(9), Drop()]`` is a connection that dies before any
  response and ``[Sleep(120), Reply(524, …)]`` is a proxy giving up. Each byte-producing step is
  one HTTP chunk; the terminating zero chunk follows the last step unless a ``Drop`` came first.
  An empty ``Send(b"")`` writes nothing (a zero-length chunk would end the body).
* ``"stream": false`` in the request body: Sleeps run, ``Content``/``Stamp`` texts of field
  ``content`` are joined into one ``chat.completion``; ``Drop`` and ``Reply`` are honoured.
* ``Reply`` must come before any byte-producing step (only Sleeps may precede it); steps after it
  are ignored.
* ``Stamp(template)`` is a ``Content`` whose text is ``template.format(now=time.time())``,
  evaluated when the chunk is sent (literal braces in the template must be doubled).

Run it alone with ``python -m suxi.simrelay --port 8765 --speed 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

log = logging.getLogger(__name__)

DEFAULT_VIDEO = Path(__file__).parent.parent / "assets" / "sample.mp4"
FILE_CHUNK = 64 * 1024
CHAT_PATH = "/v1/chat/completions"

# 160x90 frame of sample.mp4 (see assets/README.md); embedded so the demo needs one asset only.
THUMB_WEBP = base64.b64decode(
    "UklGRkACAABXRUJQVlA4IDQCAACQDQCdASqgAFoAPu1wrVCpvi4iqjUa68AdiUAaIMkrz9DqZSR7"
    "6rxAuIHe7FOT0eAeAlc9PdcGbTLzmSvgodTXiNYIBQ3+SI+sqQOHBqhvjbsejJ/F1XQKMp+Njugf"
    "VlIbwiEqzlVFJjcb80+EZ6F5GJPLwAAA/q4DWDQ/4Dz15yhsRgiZgSKgEEk9xhfj0foDCYRSF2oL"
    "htl1rORlmQ6Ad2vpAf9LXvnLUxA150u97fZIJ3IACLaH2jJsIQC1RW5YkdiUVKW1WiUkxzz4/ORH"
    "1H8aLAvDDDGp7G0wnkFl1nQcetvmxSjxXyPAKZetTlBVs1j6IZtZXTRqS3jk8eeX3x1e5/tlEkZf"
    "tYI0h2pM9G1Z3cN5PMYGGuNs1gjPsrurmSiJ7xLXZzKh51uqOBT5W0g600LexdMQ8pcOMFzhHlsQ"
    "vskVCN0LbtKdmCfCz4SzfxoV6plI8vSxzWri0qqWj6vIbBrkodGXUGinIj69Tdt0hLT0K9isgP3A"
    "zwFLTWhxNf5nFAno3nS+aeUCROly/OYmy6UfN1cAn7nAA1T2YPlE03e+lOg2cYIwXtyHOKPmJUDB"
    "irB3A+8MwEwUdVE7GXIHAuYAJlNF3dJqyTVAl2G0Y9BYA2LStydVi6is/z1IzU12FPq/dYYlGRR7"
    "Eig6y0P7EVzIev9gpymuDwkzMgVDL5h0/SDklE561QaRuxF5GXEikBXhYctQBh8p5inCJM6EGJw7"
    "nTHCHIb25zFcAAAAAAA="
)

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


# --------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Send:
    """Raw bytes, written as they are as one HTTP chunk (split UTF-8, odd framing, comments)."""

    data: bytes


@dataclass(frozen=True)
class Data:
    """One SSE frame: ``data: <payload>\\n\\n``."""

    payload: str


@dataclass(frozen=True)
class Content:
    """A ``chat.completion.chunk`` with ``choices[0].delta[field] = text``."""

    text: str
    field: str = "content"


@dataclass(frozen=True)
class Stamp:
    """A ``Content`` whose text is ``template.format(now=time.time())`` at send time."""

    template: str
    field: str = "content"


@dataclass(frozen=True)
class Finish:
    """A chunk with an empty delta and this ``finish_reason``."""

    reason: str = "stop"


@dataclass(frozen=True)
class Done:
    """``data: [DONE]``."""


@dataclass(frozen=True)
class Sleep:
    """Wait, divided by the relay's speed; ends early when the client goes away."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Close the connection now, without the terminating chunk (or without any response)."""


@dataclass(frozen=True)
class Reply:
    """A whole non-streaming response. ``headers`` override the defaults of the same name."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    time: float  # time.monotonic() once the whole request was read

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.query, keep_blank_values=True).items()}


Step = Send | Data | Content | Stamp | Finish | Done | Sleep | Drop | Reply
Script = list[Step]
ScriptFactory = Callable[[RecordedRequest, str], Script]
_BYTE_STEPS = (Send, Data, Content, Stamp, Finish, Done)


def validate(script: Script) -> Script:
    """Raise ValueError for a script the relay cannot play; return it unchanged."""
    if not isinstance(script, list):
        raise ValueError(f"a script is a list of steps, got {type(script).__name__}")
    for i, step in enumerate(script):
        if not isinstance(step, (*_BYTE_STEPS, Sleep, Drop, Reply)):
            raise ValueError(f"step {i} is not a step: {step!r}")
        if isinstance(step, Reply) and any(isinstance(s, _BYTE_STEPS) for s in script[:i]):
            raise ValueError(f"step {i}: Reply after bytes were sent")
    return script


# ------------------------------------------------------------------------------------ helpers


def completion_chunk(
    delta: dict[str, Any],
    finish_reason: str | None = None,
    *,
    model: str = "sora-2",
    chunk_id: str = "",
    created: int = 0,
    go_escape: bool = False,
    extra: dict[str, Any] | None = None,
) -> str:
    """The JSON of one ``chat.completion.chunk`` (``go_escape``: ``<>&`` as Go writes them)."""
    obj: dict[str, Any] = {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
    if extra:
        obj.update(extra)
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    if go_escape:
        # These characters only occur inside JSON strings, so a blind replace is exact.
        text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text


def error_body(message: str, type: str = "new_api_error", code: str = "") -> bytes:
    """A new-api style error object."""
    err = {"error": {"message": message, "type": type, "code": code}}
    return json.dumps(err, ensure_ascii=False).encode()


def error_reply(
    status: int,
    body: bytes | str | dict[str, Any] = b"",
    content_type: str = "application/json",
    headers: tuple[tuple[str, str], ...] = (),
) -> Script:
    """A script that answers one whole error (or any) response."""
    if isinstance(body, dict):
        body = json.dumps(body, ensure_ascii=False)
    if isinstance(body, str):
        body = body.encode()
    return [Reply(status, body, content_type, tuple(headers))]


def user_prompt(request: RecordedRequest) -> str:
    """The text of the last user message (joined ``text`` parts when content is a list)."""
    try:
        payload = request.json()
    except ValueError:
        return ""
    messages = payload.get("messages") if isinstance(payload, dict) else None
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", ""))
                for part in content
                if isinstance(part, dict) and part.get("type") == "text"
            )
    return ""


def _model(request: RecordedRequest) -> str:
    try:
        model = request.json().get("model")
    except (ValueError, AttributeError):
        return "sora-2"
    return model if isinstance(model, str) and model else "sora-2"


def _task_id() -> str:
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, as in ULIDs
    return "task_01k" + "".join(secrets.choice(alphabet) for _ in range(23))


def _typed(text: str, seconds: float, field: str = "content") -> Script:
    """``text`` in pieces of 1-4 characters spread over ``seconds``, as relays stream tokens."""
    pieces: list[str] = []
    i = 0
    while i < len(text):
        n = random.randint(1, 4)
        pieces.append(text[i : i + n])
        i += n
    gap = seconds / max(len(pieces), 1)
    steps: Script = []
    for piece in pieces:
        steps += [Sleep(gap), Content(piece, field)]
    return steps


# ------------------------------------------------------------------------------------ scripts


def demo_script(request: RecordedRequest, base_url: str) -> Script:
    """Family A, about 45 s at speed 1: echo, task header, queue, progress, thumbnail, video."""
    prompt = user_prompt(request)
    task = _task_id()
    sid = "s_" + secrets.token_hex(16)
    echo = json.dumps(
        {"prompt": prompt, "orientation": "landscape", "duration": 10}, ensure_ascii=False
    )
    steps: Script = []
    steps += _typed(f"```json\n{echo}\n```\n\n", 2.5)
    steps += _typed(
        f"> ID: `{task}`\n"
        f">[数据预览](https://asyncdata.net/web/{task}) | "
        f"[原始数据](https://asyncdata.net/source/{task})\n\n",
        1.0,
    )
    steps += _typed("> 排队中", 0.3)
    for i in range(10):
        steps += [Sleep(0.8), Content(".")]
        if i == 5:
            steps.append(Send(b": PING\n\n"))
    steps.append(Sleep(0.5))
    steps += _typed("\n\n> 生成中", 0.3)
    for _ in range(3):
        steps += [Sleep(0.7), Content(".")]
    steps += _typed("\n\n>🏃 进度 ", 0.2)
    for pct in (3, 11, 24, 36, 44, 61, 81, 93):
        steps += [Sleep(3.4), Content(f"{pct}..")]
    steps.append(Sleep(2.0))
    steps += _typed(
        f"\n\n> 生成完成 ✅\n\n> sid: {sid}\n\n"
        f"![预览]({base_url}/files/thumb.webp)\n\n"
        f"[在线播放▶️]({base_url}/files/sample.mp4)\n\n",
        1.2,
    )
    steps += [Finish("stop"), Done()]
    return steps


def family_b_script(video_url: str | None = None, seconds: float = 20.0) -> ScriptFactory:
    """Family B: one whole line per state, Go-escaped JSON, usage in the last chunk."""

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        model = _model(request)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Data:
            return Data(completion_chunk(delta, finish, model=model, go_escape=True, extra=extra))

        echo = json.dumps(
            {"prompt": user_prompt(request), "mode": "横屏模式"}, ensure_ascii=False, indent=4
        )
        points = max(1, int(seconds // 3))
        gap = seconds / (points + 2)
        steps: Script = [
            chunk({"role": "assistant"}),
            chunk({"content": f"```json\n{echo}\n```\n\n"}),
            Sleep(gap),
            chunk({"content": "> ⌛️ 任务正在队列中，请耐心等待...\n\n"}),
        ]
        for i in range(1, points + 1):
            steps += [
                Sleep(gap),
                chunk({"content": f"> 🏃 进度：{100 * i / (points + 1):.1f}%\n\n"}),
            ]
        steps += [
            Sleep(gap),
            chunk({"content": f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n"}),
            chunk(
                {},
                "stop",
                usage={"prompt_tokens": 14, "completion_tokens": 240, "total_tokens": 254},
            ),
            Done(),
        ]
        return steps

    return factory


def family_c_script(video_url: str | None = None, seconds: float = 20.0) -> ScriptFactory:
    """Family C (sora2api): progress in ``reasoning_content``, ``<video>`` answer, ``STOP``."""

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        model = _model(request)

        def chunk(
            content: str | None = None,
            reasoning: str | None = None,
            finish: str | None = None,
            role: bool = False,
        ) -> Data:
            delta: dict[str, Any] = {
                "content": content,
                "reasoning_content": reasoning,
                "tool_calls": None,
            }
            if role:
                delta = {"role": "assistant", **delta}
            return Data(completion_chunk(delta, finish, model=model))

        points = max(1, int(seconds // 3))
        gap = seconds / (points + 1)
        steps: Script = [chunk(reasoning="**Generation Process Begins**\n\n", role=True)]
        for i in range(1, points + 1):
            pct = round(100 * i / (points + 1))
            status = "queued" if i == 1 else "processing" if i == points else "running"
            progress = f"**Video Generation Progress**: {pct}% ({status})\n\n"
            steps += [Sleep(gap), chunk(reasoning=progress)]
        steps += [
            Sleep(gap),
            chunk(reasoning="**Video Generation Completed**\n\n"),
            chunk(content=f"```html\n<video src='{url}' controls></video>\n```", finish="STOP"),
            Done(),
        ]
        return steps

    return factory


def progress_script(
    seconds: float, every: float = 1.0, video_url: str | None = None
) -> ScriptFactory:
    """Family B for benchmarks: a progress line every ``every`` s for ``seconds``, then the video.

    Each progress line is ``> 🏃 进度：{pct:.1f}% ⏱{send time:.3f}`` (a ``Stamp``), so a client
    can compare the server's ``time.time()`` at send with its own at receipt.
    """

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        points = max(1, round(seconds / every))
        steps: Script = [Content("> ⌛️ 任务正在队列中，请耐心等待...\n\n")]
        for i in range(1, points + 1):
            steps += [Sleep(every), Stamp(f"> 🏃 进度：{100 * i / points:.1f}% ⏱{{now:.3f}}\n\n")]
        steps += [
            Content(f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n"),
            Finish("stop"),
            Done(),
        ]
        return steps

    return factory


# ------------------------------------------------------------------------------------- server


class _BadRequest(Exception):
    pass


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {520: "Unknown Error", 522: "Connection Timed Out", 524: "A Timeout Occurred"}.get(
            status, "Unknown"
        )


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _merge(defaults: list[tuple[str, str]], extra: tuple[tuple[str, str], ...] | list) -> list:
    names = {k.lower() for k, _ in extra}
    return [(k, v) for k, v in defaults if k.lower() not in names] + list(extra)


def _not_found() -> bytes:
    return error_body("not found", "invalid_request_error", "")


class _Conn:
    """One connection: writes that notice the client leaving, and sleeps that end when it does."""

    def __init__(self, relay: SimRelay, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.relay = relay
        self.reader = reader
        self.writer = writer
        self.path = ""
        self.gone = False  # the client went away (or we dropped it): stop writing
        self.finished = False  # the response is complete: a close now is not a disconnect
        self.watcher: asyncio.Task[None] | None = None
        self.task = asyncio.current_task()

    def watch(self, path: str) -> None:
        self.path = path
        self.watcher = asyncio.ensure_future(self._watch_eof())

    async def _watch_eof(self) -> None:
        # With "Connection: close" the client sends nothing after its request, so EOF (or a
        # reset) on the reader is the client hanging up; this is what makes Sleeps end promptly.
        with contextlib.suppress(ConnectionError, OSError):
            while await self.reader.read(65536):
                pass
        self.lost()

    def lost(self) -> None:
        if not self.gone and not self.finished:
            self.relay.disconnects.append((self.path, time.monotonic()))
        self.gone = True

    def finish(self) -> None:
        """Call just before the last write of a response."""
        if self.reader.at_eof():  # EOF already arrived but the watcher has not run yet
            self.lost()
        self.finished = True

    async def write(self, data: bytes) -> bool:
        if self.gone:
            return False
        try:
            self.writer.write(data)
            await self.writer.drain()
        except (ConnectionError, OSError):
            self.lost()
        return not self.gone

    async def sleep(self, seconds: float) -> bool:
        if seconds > 0 and not self.gone:
            if self.watcher is None:
                await asyncio.sleep(seconds)
            else:
                await asyncio.wait({self.watcher}, timeout=seconds)
        return not self.gone

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        content_type: str = "application/json",
        headers: tuple[tuple[str, str], ...] | list = (),
        head_only: bool = False,
    ) -> None:
        defaults = [("Content-Length", str(len(body))), ("Connection", "close")]
        if content_type:
            defaults.insert(0, ("Content-Type", content_type))
        self.finish()
        await self.write(_head(status, _merge(defaults, headers)) + (b"" if head_only else body))

    def drop(self) -> None:
        # Server-side hang-up: what was already written still reaches the client, then EOF.
        self.finished = True
        self.gone = True
        self.writer.transport.close()

    def close(self, abort: bool = False) -> None:
        self.finished = True
        self.gone = True
        if self.watcher is not None:
            self.watcher.cancel()
        if abort:
            self.writer.transport.abort()
        else:
            self.writer.close()


@dataclass
class _Ctx:
    chunk_id: str
    created: int
    model: str


class SimRelay:
    """The simulated relay. Thread mode: ``start()``/``stop()``; in a loop: ``start_async()``."""

    def __init__(
        self,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        video: Path | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.host = host
        self.port = port
        self.base_url = f"http://{self._url_host()}:{port}" if port else ""
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[tuple[str, float]] = []
        self.tasks: dict[str, dict] = {}
        self.models: list[str] = ["sora-2", "sora-2-pro", "gpt-4o"]
        self._files: dict[str, bytes | Path] = {
            "sample.mp4": Path(video) if video is not None else DEFAULT_VIDEO,
            "thumb.webp": THUMB_WEBP,
        }
        self._queue: deque[Script | ScriptFactory] = deque()
        self._default: Script | ScriptFactory = demo_script
        self._server: asyncio.Server | None = None
        self._conns: set[_Conn] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # ---- configuration (safe to call from any thread)

    def posts(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "POST" and r.path == CHAT_PATH]

    def push(self, script: Script | ScriptFactory) -> None:
        self._queue.append(script if callable(script) else validate(list(script)))

    def set_default(self, script: Script | ScriptFactory) -> None:
        self._default = script if callable(script) else validate(list(script))

    def add_file(self, name: str, data: bytes | Path) -> str:
        """Serve ``data`` at ``/files/<name>``; the URL is complete once the port is known."""
        if not isinstance(data, (bytes, bytearray, Path)):
            raise TypeError("data must be bytes or a Path")
        self._files[name] = bytes(data) if isinstance(data, (bytes, bytearray)) else data
        return f"{self.base_url}/files/{quote(name)}"

    # ---- lifecycle

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    async def start_async(self) -> SimRelay:
        if self._server is not None:
            raise RuntimeError("already started")
        # A large backlog: benchmarks open hundreds of connections at once.
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, backlog=4096, limit=1 << 20
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self.base_url = f"http://{self._url_host()}:{self.port}"
        return self

    def run_forever(self, ready: Callable[[SimRelay], None]) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM ends the process; ``ready`` runs once
        the address is known (a command line prints it there)."""

        async def run() -> None:
            await self.start_async()
            ready(self)
            try:
                await asyncio.Future()
            finally:
                await self.stop_async()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())

    async def stop_async(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        conns = list(self._conns)
        for conn in conns:
            if conn.task is not None:
                conn.task.cancel()
            conn.close(abort=True)
        tasks = [c.task for c in conns if c.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)

    async def serve(self) -> None:
        """Serve in the current loop until cancelled (``base_url`` is set once listening)."""
        await self.start_async()
        try:
            await asyncio.Future()
        finally:
            await self.stop_async()

    def start(self) -> SimRelay:
        """Serve from a daemon thread with its own event loop; returns once listening."""
        if self._thread is not None or self._server is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        errors: list[BaseException] = []

        async def main() -> None:
            try:
                await self.start_async()
            except BaseException as err:
                errors.append(err)
                ready.set()
                return
            self._stopping = asyncio.Event()
            ready.set()
            await self._stopping.wait()
            await self.stop_async()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(main())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="simrelay", daemon=True)
        self._thread.start()
        ready.wait()
        if errors:
            self._thread.join()
            self._thread = None
            raise errors[0]
        return self

    def stop(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self._loop.call_soon_threadsafe(self._stopping.set)
        thread.join(5.0)

    def __enter__(self) -> SimRelay:
        if self._thread is None and self._server is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SimRelay:
        if self._server is None:
            await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()

    # ---- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(self, reader, writer)
        self._conns.add(conn)
        abort = False
        try:
            try:
                request = await self._read_request(reader)
            except _BadRequest as err:
                await conn.respond(400, error_body(str(err), "invalid_request_error"))
                return
            if request is None:
                return
            self.requests.append(request)
            log.info("%s %s", request.method, request.path)
            conn.watch(request.path)
            await self._route(conn, request)
        except asyncio.CancelledError:
            # Only stop_async cancels handlers; re-raising would make asyncio's stream callback
            # log the cancelled task as an error (Python 3.11).
            abort = True
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            abort = True
        except Exception:
            log.exception("simrelay: request failed")
            abort = True
        finally:
            conn.close(abort=abort)
            self._conns.discard(conn)

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as err:
            if not err.partial.strip():
                return None  # connected and left without a request
            raise _BadRequest("incomplete request head") from err
        except asyncio.LimitOverrunError as err:
            raise _BadRequest("request head too large") from err
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError as err:
            raise _BadRequest("bad request line") from err
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._read_chunked(reader)
        else:
            try:
                length = int(headers.get("content-length") or 0)
            except ValueError as err:
                raise _BadRequest("bad content-length") from err
            body = await reader.readexactly(length) if length > 0 else b""
        parts = urlsplit(target)
        return RecordedRequest(
            method=method.upper(),
            path=parts.path or "/",
            query=parts.query,
            headers=headers,
            body=body,
            time=time.monotonic(),
        )

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError as err:
                raise _BadRequest("bad chunk size") from err
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass  # trailers
                return bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)

    async def _route(self, conn: _Conn, req: RecordedRequest) -> None:
        method, path = req.method, req.path
        if path == CHAT_PATH and method == "POST":
            await self._chat(conn, req)
            return
        if method not in ("GET", "HEAD"):
            await conn.respond(404, _not_found())
            return
        head = method == "HEAD"
        if path == "/v1/models":
            data = [{"id": m, "object": "model"} for m in self.models]
            await conn.respond(200, _json({"object": "list", "data": data}), head_only=head)
        elif path.startswith("/files/"):
            await self._file(conn, req, unquote(path[len("/files/") :]), head)
        elif path == "/redirect":
            target = req.params.get("to")
            if not target:
                await conn.respond(400, error_body("missing to=", "invalid_request_error"))
            else:
                await conn.respond(302, b"", "", (("Location", target),))
        elif path == "/v1/video/query":
            await self._task(conn, req.params.get("id", ""), head)
        elif path.startswith("/v1/videos/"):
            rest = unquote(path[len("/v1/videos/") :])
            if rest.endswith("/content"):
                task = self.tasks.get(rest[: -len("/content")]) or {}
                url = task.get("video_url") or task.get("url")
                if isinstance(url, str) and url:
                    await conn.respond(302, b"", "", (("Location", url),))
                else:
                    await conn.respond(404, _not_found())
            else:
                await self._task(conn, rest, head)
        else:
            await conn.respond(404, _not_found(), head_only=head)

    async def _task(self, conn: _Conn, task_id: str, head: bool) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            await conn.respond(404, _not_found(), head_only=head)
        else:
            await conn.respond(200, _json(task), head_only=head)

    async def _file(self, conn: _Conn, req: RecordedRequest, name: str, head: bool) -> None:
        src = self._files.get(name)
        try:
            size = len(src) if isinstance(src, bytes) else src.stat().st_size  # type: ignore[union-attr]
        except (AttributeError, OSError):
            await conn.respond(404, _not_found(), head_only=head)
            return
        ctype = CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
        start, end, status = 0, size - 1, 200
        extra: list[tuple[str, str]] = [("Accept-Ranges", "bytes")]
        spec = req.headers.get("range", "")
        if spec.startswith("bytes=") and "," not in spec:
            first, _, last = spec[len("bytes=") :].partition("-")
            try:
                if first:
                    start, end = int(first), min(int(last) if last else size - 1, size - 1)
                else:
                    start, end = max(size - int(last), 0), size - 1
            except ValueError:
                start, end = size, 0
            if start > end or start >= size:
                await conn.respond(416, b"", "", (("Content-Range", f"bytes */{size}"),))
                return
            status = 206
            extra.append(("Content-Range", f"bytes {start}-{end}/{size}"))
        length = end - start + 1
        headers = [
            ("Content-Type", ctype),
            ("Content-Length", str(length)),
            ("Connection", "close"),
        ]
        if head or length == 0:
            conn.finish()
        if not await conn.write(_head(status, headers + extra)) or head or length == 0:
            return
        if isinstance(src, bytes):
            for offset in range(start, end + 1, FILE_CHUNK):
                stop = min(offset + FILE_CHUNK, end + 1)
                if stop > end:
                    conn.finish()
                if not await conn.write(src[offset:stop]):
                    return
            return
        # Plain blocking reads: 64 kB from the page cache takes microseconds, far less than a
        # thread hop, and the file is never held whole in memory.
        with open(src, "rb") as f:  # type: ignore[arg-type]
            f.seek(start)
            remaining = length
            while remaining > 0:
                piece = f.read(min(FILE_CHUNK, remaining))
                if not piece:
                    conn.close(abort=True)  # the file shrank under us
                    return
                remaining -= len(piece)
                if remaining == 0:
                    conn.finish()
                if not await conn.write(piece):
                    return

    # ---- chat completions

    def _next_script(self, req: RecordedRequest) -> Script:
        try:
            script = self._queue.popleft()
        except IndexError:
            script = self._default
        if callable(script):
            script = script(req, self.base_url)
        return validate(list(script))

    async def _chat(self, conn: _Conn, req: RecordedRequest) -> None:
        try:
            script = self._next_script(req)
        except Exception as err:
            log.exception("simrelay: script factory failed")
            await conn.respond(500, error_body(f"simrelay script error: {err}", "server_error"))
            return
        try:
            payload = req.json()
        except ValueError:
            payload = None
        streaming = not (isinstance(payload, dict) and payload.get("stream") is False)
        ctx = _Ctx(f"chatcmpl-{secrets.token_hex(12)}", int(time.time()), _model(req))
        if script and isinstance(script[0], Reply):
            await self._reply(conn, script[0])
        elif streaming:
            await self._stream(conn, script, ctx)
        else:
            await self._collect(conn, script, ctx)

    async def _reply(self, conn: _Conn, reply: Reply) -> None:
        await conn.respond(reply.status, reply.body, reply.content_type, reply.headers)

    def _encode(self, step: Step, ctx: _Ctx) -> bytes:
        if isinstance(step, Send):
            return step.data
        if isinstance(step, Data):
            payload = step.payload
        elif isinstance(step, Done):
            payload = "[DONE]"
        elif isinstance(step, Finish):
            payload = completion_chunk({}, step.reason, **_ctx_kw(ctx))
        elif isinstance(step, Stamp):
            text = step.template.format(now=time.time())
            payload = completion_chunk({step.field: text}, **_ctx_kw(ctx))
        elif isinstance(step, Content):
            payload = completion_chunk({step.field: step.text}, **_ctx_kw(ctx))
        else:
            raise TypeError(f"not a byte step: {step!r}")
        return b"data: " + payload.encode() + b"\n\n"

    async def _stream(self, conn: _Conn, script: Script, ctx: _Ctx) -> None:
        started = False
        for step in script:
            if conn.gone:
                return
            if isinstance(step, Sleep):
                if not await conn.sleep(step.seconds / self.speed):
                    return
                continue
            if isinstance(step, Drop):
                conn.drop()
                return
            if isinstance(step, Reply):  # validate() guarantees nothing was sent yet
                await self._reply(conn, step)
                return
            if not started:
                started = True
                if not await conn.write(_STREAM_HEAD):
                    return
            data = self._encode(step, ctx)
            if data and not await conn.write(b"%x\r\n%b\r\n" % (len(data), data)):
                return
        if conn.gone:
            return
        conn.finish()
        await conn.write((b"" if started else _STREAM_HEAD) + b"0\r\n\r\n")

    async def _collect(self, conn: _Conn, script: Script, ctx: _Ctx) -> None:
        texts: list[str] = []
        finish = "stop"
        for step in script:
            if conn.gone:
                return
            if isinstance(step, Sleep):
                if not await conn.sleep(step.seconds / self.speed):
                    return
            elif isinstance(step, Drop):
                conn.drop()
                return
            elif isinstance(step, Reply):
                await self._reply(conn, step)
                return
            elif isinstance(step, Content) and step.field == "content":
                texts.append(step.text)
            elif isinstance(step, Stamp) and step.field == "content":
                texts.append(step.template.format(now=time.time()))
            elif isinstance(step, Finish):
                finish = step.reason
        content = "".join(texts)
        body = {
            "id": ctx.chunk_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": 14,
                "completion_tokens": len(content),
                "total_tokens": 14 + len(content),
            },
        }
        await conn.respond(200, _json(body))


_STREAM_HEAD = _head(
    200,
    [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
    ],
)


def _ctx_kw(ctx: _Ctx) -> dict[str, Any]:
    return {"model": ctx.model, "chunk_id": ctx.chunk_id, "created": ctx.created}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Simulated sora-2 relay on loopback.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--speed", type=float, default=1.0, help=">1 plays scripts faster")
    parser.add_argument("--video", type=Path, default=None, help="served as /files/sample.mp4")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    relay = SimRelay(speed=args.speed, host=args.host, port=args.port, video=args.video)

    def announce(relay: SimRelay) -> None:
        print(f"simrelay listening on {relay.base_url} (speed {args.speed:g}; Ctrl-C stops)")
        print(f"  try: curl -N {relay.base_url}{CHAT_PATH} -d '{{\"messages\":[]}}'", flush=True)

    relay.run_forever(announce)


if __name__ == "__main__":
    main()
