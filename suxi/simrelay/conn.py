"""One HTTP/1.1 connection of the simulated relay: reading the request, writing the answer.

Every response carries ``Connection: close``, so a connection holds exactly one request; the
client hanging up is seen as EOF on the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from .steps import RecordedRequest, error_body


class BadRequest(Exception):
    pass


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return {520: "Unknown Error", 522: "Connection Timed Out", 524: "A Timeout Occurred"}.get(
            status, "Unknown"
        )


def head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason(status)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _merge(defaults: list[tuple[str, str]], extra: tuple[tuple[str, str], ...] | list) -> list:
    names = {k.lower() for k, _ in extra}
    return [(k, v) for k, v in defaults if k.lower() not in names] + list(extra)


def json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def not_found() -> bytes:
    return error_body("not found", "invalid_request_error", "")


def invalid_url_body(req: RecordedRequest) -> bytes:
    """new-api's answer to a route it does not serve."""
    message = f"Invalid URL ({req.method} {req.path})"
    return json_bytes(
        {"error": {"message": message, "type": "invalid_request_error", "param": "", "code": ""}}
    )


STREAM_HEAD = head(
    200,
    [
        ("Content-Type", "text/event-stream"),
        ("Cache-Control", "no-cache"),
        ("Transfer-Encoding", "chunked"),
        ("Connection", "close"),
    ],
)


class Conn:
    """One connection: writes that notice the client leaving, and sleeps that end when it does."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_disconnect: Callable[[str, float], None],
    ):
        self.reader = reader
        self.writer = writer
        self.on_disconnect = on_disconnect
        self.path = ""
        self.head_only = False  # a HEAD request: headers only
        self.gone = False  # the client went away (or we dropped it): stop writing
        self.finished = False  # the response is complete: a close now is not a disconnect
        self.watcher: asyncio.Task[None] | None = None
        self.task = asyncio.current_task()
        self.keep_alive = False  # answers with a length may leave the connection open
        self.reusable = False  # the answer was complete and said so: the next request may come

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
            self.on_disconnect(self.path, time.monotonic())
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
        defaults = [
            ("Content-Length", str(len(body))),
            ("Connection", "keep-alive" if self.keep_alive else "close"),
        ]
        if content_type:
            defaults.insert(0, ("Content-Type", content_type))
        self.finish()
        if self.keep_alive and self.watcher is not None:
            # The EOF watcher must not swallow the next request: the client sends it only
            # after this answer, so stopping the watcher first loses nothing.
            self.watcher.cancel()
            await asyncio.wait({self.watcher})
            self.watcher = None
        skip = head_only or self.head_only
        await self.write(head(status, _merge(defaults, headers)) + (b"" if skip else body))
        self.reusable = self.keep_alive and not self.gone

    async def respond_json(self, status: int, obj: Any, head_only: bool = False) -> None:
        await self.respond(status, json_bytes(obj), head_only=head_only)

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


async def read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    """The next request on ``reader``; ``None`` when the client left without sending one."""
    try:
        raw_head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if not err.partial.strip():
            return None  # connected and left without a request
        raise BadRequest("incomplete request head") from err
    except asyncio.LimitOverrunError as err:
        raise BadRequest("request head too large") from err
    lines = raw_head.decode("latin-1").split("\r\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError as err:
        raise BadRequest("bad request line") from err
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _read_chunked(reader)
    else:
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError as err:
            raise BadRequest("bad content-length") from err
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


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size_line = await reader.readuntil(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError as err:
            raise BadRequest("bad chunk size") from err
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)
