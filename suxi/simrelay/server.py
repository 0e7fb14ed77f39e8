"""The simulated relay: a real HTTP/1.1 server on loopback (asyncio streams).

Routes (every ``/v1/…`` and ``/sora/…`` route wants ``Authorization: Bearer <key>``):

* ``POST /v1/chat/completions`` — scripted video generations, prompt help for text models
  (:mod:`.chat`);
* the task formats (:mod:`.tasks`): ``/v1/video/create`` + ``/v1/video/query``,
  ``/v1/video/generations[/{id}]``, ``/v1/videos[/{id}[/content|/remix]]``;
* ``GET /v1/models``, ``/v1/dashboard/billing/subscription`` and ``…/usage``,
  ``POST /sora/v1/characters``, ``GET /api/pricing`` (:mod:`.account`);
* ``GET /files/<name>`` with byte ranges (the "CDN"), ``GET /redirect?to=<url>`` (a 302).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, unquote

from ..families import is_video_model
from . import account, chat, files, tasks
from .account import UNLIMITED_BALANCE
from .conn import BadRequest, Conn, invalid_url_body, not_found, read_request
from .demo import DEFAULT_TIMELINE, demo_script
from .files import DEFAULT_VIDEO, THUMB_WEBP
from .plans import TaskBook, TaskPlan, check_reply
from .steps import RecordedRequest, Script, ScriptFactory, error_body, validate

log = logging.getLogger(__name__)

CHAT_PATH = chat.CHAT_PATH
DEFAULT_MODELS = [
    "sora-2",
    "sora-2-pro",
    "veo3.1-fast",
    "veo3",
    "grok-video-3",
    "wan2.5-t2v-preview",
    "kling-v2-1-master",
    "doubao-seedance-1-0-pro-250528",
    "MiniMax-Hailuo-02",
    "gpt-4o-mini",
    "gpt-4o",
]

_EXACT_ROUTES = {
    ("POST", CHAT_PATH): chat.handle,
    ("GET", "/v1/models"): account.models,
    ("GET", "/v1/dashboard/billing/subscription"): account.subscription,
    ("GET", "/v1/dashboard/billing/usage"): account.usage,
    ("POST", "/sora/v1/characters"): account.create_character,
    ("GET", "/api/pricing"): account.pricing,
    ("POST", "/v1/video/create"): tasks.unified_create,
    ("GET", "/v1/video/query"): tasks.unified_query,
    ("POST", "/v1/video/generations"): tasks.generations_create,
    ("POST", "/v1/videos"): tasks.openai_create,
}


class SimRelay:
    """The simulated relay. Thread mode: ``start()``/``stop()``; in a loop: ``start_async()``.

    Settings (plain attributes, safe to change while it runs): ``models``, ``valid_keys`` (None:
    any key), ``formats`` and ``format_models`` (which wire formats serve which models),
    ``balance`` (None: no balance routes; :data:`UNLIMITED_BALANCE` for an unlimited key),
    ``price_per_video``, ``characters_enabled``, ``pricing_enabled``, ``content_mode`` (how
    ``/v1/videos/{id}/content`` answers: "bytes", "redirect" or "json"), ``generations_shape``
    ("flat" as new-api documents it, or "envelope" as its code answers), ``tasks`` (bodies set
    by hand, answered verbatim by the poll routes).
    """

    def __init__(
        self,
        *,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        port: int = 0,
        video: Path | None = None,
        keep_alive: bool = False,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        # Keep connections open after answers with a length, as a relay behind a proxy does
        # (the benchmarks); tests keep one request per connection, so a hang-up is the client's.
        self.keep_alive = keep_alive
        self.host = host
        self.port = port
        self.base_url = f"http://{self._url_host()}:{port}" if port else ""
        self.requests: list[RecordedRequest] = []
        self.disconnects: list[tuple[str, float]] = []
        self.tasks: dict[str, dict] = {}
        self.models: list[str] = list(DEFAULT_MODELS)
        self.valid_keys: set[str] | None = None
        self.formats: set[str] = {"chat", "unified", "openai"}
        self.format_models: dict[str, set[str]] | None = None
        self.balance: float | None = UNLIMITED_BALANCE
        self.price_per_video = 0.5
        self.spent = 0.0
        self.characters_enabled = True
        self.characters: list[dict] = []
        self.pricing_enabled = True
        self.content_mode = "bytes"
        self.generations_shape = "flat"
        self.book = TaskBook(TaskPlan(DEFAULT_TIMELINE))
        self._files: dict[str, bytes | Path] = {
            "sample.mp4": Path(video) if video is not None else DEFAULT_VIDEO,
            "thumb.webp": THUMB_WEBP,
        }
        self._queue: deque[Script | ScriptFactory] = deque()
        self._default: Script | ScriptFactory = demo_script
        self._server: asyncio.Server | None = None
        self._conns: set[Conn] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # ---- scripting and recording (safe to call from any thread)

    def posts(self) -> list[RecordedRequest]:
        """The chat-completion requests received."""
        return [r for r in self.requests if r.method == "POST" and r.path == CHAT_PATH]

    def push(self, script: Script | ScriptFactory) -> None:
        """The next chat completion of a video model plays ``script`` (first in, first out)."""
        self._queue.append(script if callable(script) else validate(list(script)))

    def set_default(self, script: Script | ScriptFactory) -> None:
        self._default = script if callable(script) else validate(list(script))

    def push_create(self, reply: Script) -> None:
        """The next create of a task format (unified, generations, OpenAI or remix) answers
        ``reply`` — Sleeps then a ``Reply`` or a ``Drop`` — and makes no task."""
        self.book.create_replies.append(check_reply(reply))

    def push_task(self, plan: TaskPlan) -> None:
        """The next task created (in any task format) follows ``plan``."""
        self.book.next_plans.append(plan)

    def set_default_task(self, plan: TaskPlan) -> None:
        self.book.default = plan

    def creates(self, fmt: str | None = None) -> list[RecordedRequest]:
        """Create requests received (chat for video models, unified, openai), in order —
        refused ones included."""
        return [req for f, req in self.book.creates if fmt is None or f == fmt]

    def made(self) -> list[str]:
        """The ids of the tasks this relay accepted and made (in this process), in order."""
        return list(self.book.extras)

    def polls(self, task_id: str) -> list[RecordedRequest]:
        """Status requests received for ``task_id``, on any poll route."""
        return list(self.book.polls.get(task_id, []))

    def add_file(self, name: str, data: bytes | Path) -> str:
        """Serve ``data`` at ``/files/<name>``; the URL is complete once the port is known."""
        if not isinstance(data, (bytes, bytearray, Path)):
            raise TypeError("data must be bytes or a Path")
        self._files[name] = bytes(data) if isinstance(data, (bytes, bytearray)) else data
        return f"{self.base_url}/files/{quote(name)}"

    def next_script(self, req: RecordedRequest) -> Script:
        try:
            script = self._queue.popleft()
        except IndexError:
            script = self._default
        if callable(script):
            script = script(req, self.base_url)
        return validate(list(script))

    def refuse_format(self, fmt: str, model: str, req: RecordedRequest) -> tuple[int, bytes] | None:
        """Why this relay will not make ``model`` in ``fmt``, as (status, body); None if it will."""
        if fmt not in self.formats:
            return 404, invalid_url_body(req)
        allowed = (self.format_models or {}).get(fmt)
        if allowed is not None and is_video_model(model) and model not in allowed:
            message = f"模型 {model} 不支持该接口 (model {model} is not served on {req.path})"
            return 400, error_body(message, "new_api_error", "model_not_supported")
        return None

    # ---- lifecycle

    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    async def start_async(self) -> SimRelay:
        if self._server is not None:
            raise RuntimeError("already started")
        try:
            # A large backlog: benchmarks open hundreds of connections at once.
            self._server = await asyncio.start_server(
                self._handle, self.host, self.port, backlog=4096, limit=1 << 20
            )
        except OSError as err:
            raise OSError(
                err.errno, f"simrelay cannot listen on {self.host}:{self.port}: {err.strerror}"
            ) from err
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
        handlers = [c.task for c in conns if c.task is not None]
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)

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
        conn = Conn(reader, writer, lambda path, at: self.disconnects.append((path, at)))
        self._conns.add(conn)
        abort = False
        try:
            while True:
                conn.keep_alive, conn.reusable = self.keep_alive, False
                try:
                    request = await read_request(reader)
                except BadRequest as err:
                    conn.keep_alive = False
                    await conn.respond(400, error_body(str(err), "invalid_request_error"))
                    return
                if request is None:
                    return
                self.requests.append(request)
                log.info("%s %s", request.method, request.path)
                conn.watch(request.path)
                await self._route(conn, request)
                if not conn.reusable or "close" in request.headers.get("connection", "").lower():
                    return
                conn.gone = conn.finished = conn.head_only = False
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

    def _key_problem(self, req: RecordedRequest) -> bytes | None:
        if not req.path.startswith(("/v1/", "/sora/")):
            return None
        auth = req.headers.get("authorization", "").strip()
        key = auth[len("bearer ") :].strip() if auth.lower().startswith("bearer ") else auth
        if not key or key.lower() == "bearer":
            return error_body("未提供令牌", "new_api_error", "")
        if self.valid_keys is not None and key not in self.valid_keys:
            return error_body("无效的令牌", "new_api_error", "")
        return None

    async def _route(self, conn: Conn, req: RecordedRequest) -> None:
        method = "GET" if req.method == "HEAD" else req.method
        conn.head_only = req.method == "HEAD"
        path = req.path
        if path.startswith("/files/") and method == "GET":
            await self.send_file(conn, req, unquote(path[len("/files/") :]))
            return
        if path == "/redirect" and method == "GET":
            target = req.params.get("to")
            if not target:
                await conn.respond(400, error_body("missing to=", "invalid_request_error"))
            else:
                await conn.respond(302, b"", "", (("Location", target),))
            return
        unauthorised = self._key_problem(req)
        if unauthorised is not None:
            await conn.respond(401, unauthorised)
            return
        handler = _EXACT_ROUTES.get((method, path))
        if handler is not None:
            await handler(self, conn, req)
            return
        if method == "GET" and path.startswith("/v1/video/generations/"):
            task_id = unquote(path[len("/v1/video/generations/") :])
            await tasks.generations_fetch(self, conn, req, task_id)
        elif path.startswith("/v1/videos/"):
            await self._videos(conn, req, method, unquote(path[len("/v1/videos/") :]))
        else:
            await conn.respond(404, not_found())

    async def _videos(self, conn: Conn, req: RecordedRequest, method: str, rest: str) -> None:
        video_id, _, action = rest.partition("/")
        if method == "GET" and not action:
            await tasks.openai_get(self, conn, req, video_id)
        elif method == "GET" and action == "content":
            await tasks.openai_content(self, conn, req, video_id)
        elif method == "POST" and action == "remix":
            await tasks.openai_remix(self, conn, req, video_id)
        else:
            await conn.respond(404, not_found())

    async def send_file(self, conn: Conn, req: RecordedRequest, name: str) -> None:
        """Serve ``/files/<name>`` (bytes or a file on disk), honouring one byte range."""
        await files.send(conn, req, name, self._files.get(name))
