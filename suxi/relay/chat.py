"""The chat format: one ``POST /v1/chat/completions`` whose streamed text carries the progress
and, at the end, the video link (docs/relay-protocol.md, families A, B and C).

The stream cannot be resumed: a chat job whose connection is lost can only be looked up again
through the task id the text gave, if any ("Check again").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx

from ..errors import (
    BadReplyError,
    BrokenStreamError,
    DeadlineError,
    DroppedError,
    ProxyTimeoutError,
    StallError,
)
from ..events import Answer, Event, Failed, VideoReady
from ..generation import GenerationRequest
from ..kinds import Kind
from ..parse import RelayStreamParser, parse_completion
from ..sse import SSEDecoder, StreamOverflow
from .bodies import describe_body
from .http import MAX_COMPLETION_BODY, MAX_ERROR_BODY, RelayHTTP, parse_json, read_capped

CHAT_PATH = "/v1/chat/completions"
MAX_SSE_LINE = 1024 * 1024
MAX_SSE_EVENT = 4 * 1024 * 1024


class ChatBackend:
    def __init__(self, http: RelayHTTP) -> None:
        self.http = http

    def body(self, request: GenerationRequest) -> dict:
        o = request.options
        return {
            "model": o.model,
            "max_tokens": o.max_tokens,
            "messages": list(request.messages),
            "stream": o.stream,
        }

    async def run(
        self,
        request: GenerationRequest,
        key: str,
        *,
        task_id: str | None = None,
        deadline: float,
        first_delay: float = 0.0,
    ) -> AsyncIterator[Event]:
        """Send the request once and yield its events; the last is VideoReady or Failed (or
        an Answer after a VideoReady that came mid-stream)."""
        if task_id is not None:
            raise ValueError("a chat stream cannot be resumed")
        s = self.http.settings
        stream = request.options.stream
        # A non-streaming reply stays silent until the video is done: its read gap is the
        # whole deadline.
        read = s.read_timeout if stream else max(1.0, deadline - time.time())
        parser = RelayStreamParser()
        headers = {"Accept": "text/event-stream" if stream else "application/json"}
        try:
            async with self.http.stream(
                "POST",
                CHAT_PATH,
                key=key,
                json=self.body(request),
                headers=headers,
                read_timeout=read,
            ) as response:
                ctype = response.headers.get("content-type", "").lower()
                if "html" in ctype:
                    raw = await read_capped(response, MAX_ERROR_BODY, overflow_is_error=False)
                    raise BadReplyError("html", relay_text=describe_body(raw, ctype))
                if "json" in ctype:
                    raw = await read_capped(response, MAX_COMPLETION_BODY, overflow_is_error=True)
                    body = parse_json(raw, cap=MAX_COMPLETION_BODY)
                    events, _ = parse_completion(body, parser)
                    for event in events:
                        yield event
                else:
                    async for event in _events(response, parser, deadline):
                        yield event
        except ProxyTimeoutError as err:
            if not stream:  # a proxy gives up on a silent request: streaming avoids it
                err.kind = Kind.PROXY_TIMEOUT_NOSTREAM
            raise
        if parser.outcome.answer:
            yield Answer(parser.outcome.answer)  # the whole reply: it is complete now


async def _events(
    response: httpx.Response, parser: RelayStreamParser, deadline: float
) -> AsyncIterator[Event]:
    loop = asyncio.get_running_loop()
    until = loop.time() + max(0.0, deadline - time.time())
    decoder = SSEDecoder(max_line=MAX_SSE_LINE, max_event=MAX_SSE_EVENT)
    chunks = response.aiter_raw().__aiter__()
    broken: Exception | None = None
    while True:
        try:
            # The deadline covers only the wait for bytes, never the consumer's time.
            async with asyncio.timeout_at(until):
                chunk = await chunks.__anext__()
        except StopAsyncIteration:
            payloads, chunk = decoder.close(), None
        except TimeoutError as err:
            broken = DeadlineError("deadline")
            broken.__cause__ = err
            break
        except httpx.ReadTimeout as err:
            broken = StallError("stall")
            broken.__cause__ = err
            break
        except httpx.HTTPError as err:
            broken = DroppedError(type(err).__name__)
            broken.__cause__ = err
            break
        else:
            try:
                payloads = decoder.feed(chunk)
            except StreamOverflow as err:
                broken = BrokenStreamError("overflow")
                broken.__cause__ = err
                break
        for payload in payloads:
            for event in parser.feed(payload):
                yield event
                if isinstance(event, VideoReady):
                    # The reply so far (it carries the sid) in case the stream breaks later.
                    yield Answer(parser.outcome.answer)
        if chunk is None:
            break
    tail = parser.finish()
    if tail and isinstance(tail[-1], Failed) and tail[-1].kind == Kind.NO_VIDEO:
        # Nothing conclusive from the relay: the transport's reason is the real one. A clean
        # close without [DONE] is a dropped stream too (docs/relay-protocol.md, transport rules).
        if broken is not None:
            raise broken
        if not parser.saw_done:
            raise DroppedError("eof")
    for event in tail:
        yield event
