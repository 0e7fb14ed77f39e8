"""The relay over HTTP. The only module that imports httpx: every httpx exception is translated
into the tree in :mod:`suxi.errors` here.

One paid request per call: nothing here retries a request that may have reached the relay. Only a
refused connection (nothing was sent) is retried, by the transport.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from . import urlgate
from .conversation import Message, user_message
from .errors import (
    BadReplyError,
    BrokenStreamError,
    ConnectError,
    DeadlineError,
    DownloadError,
    DroppedError,
    InputError,
    StallError,
    SuxiError,
    TooLargeError,
    UnavailableError,
    UnsafeURLError,
    error_for_status,
)
from .events import FAIL_NO_VIDEO, Event, Failed
from .parse import RelayStreamParser, error_text, parse_completion
from .settings import Settings
from .sse import LineTooLong, SSEDecoder

MAX_ERROR_BODY = 64 * 1024
MAX_JSON_BODY = 16 * 1024 * 1024
MAX_SSE_LINE = 1024 * 1024
MAX_REDIRECTS = 5
CONNECT_RETRIES = 2  # httpx retries only connection failures: the request was never sent
VIDEO_MODEL_WORDS = ("sora", "video", "veo", "kling", "wan", "hailuo", "runway", "seedance")
TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]+>")


__all__ = ["Message", "RelayClient", "check_key", "describe_body", "user_message"]


def check_key(api_key: str) -> str:
    if not api_key or any(c.isspace() for c in api_key) or not api_key.isprintable():
        raise InputError("bad_key")
    return api_key


def describe_body(body: bytes, content_type: str) -> str:
    """The relay's own words from an error body; HTML is reduced to its title, never shown."""
    text = body.decode("utf-8", errors="replace").strip()
    if "json" in content_type or text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(data, dict):
                if data.get("error"):
                    return error_text(data["error"])
                if isinstance(data.get("message"), str):
                    return data["message"]
    if "html" in content_type or text[:200].lstrip().lower().startswith(("<!doctype", "<html")):
        title = TITLE.search(text)
        return unescape(TAG.sub("", title.group(1))).strip()[:200] if title else ""
    return text[:500]


@dataclass(frozen=True)
class Download:
    path: Path
    size: int
    content_type: str


class RelayClient:
    """Talks to one relay. Build one per process and reuse it (see :meth:`http`)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        # Created lazily inside the running loop; loading the CA bundle costs ~30 ms of CPU, so
        # one client serves every job (design.md, "Gradio 6 facts that bite").
        if self._http is None:
            s = self.settings
            self._http = httpx.AsyncClient(
                transport=self._transport or httpx.AsyncHTTPTransport(retries=CONNECT_RETRIES),
                timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
                follow_redirects=False,
                trust_env=False,
            )
        return self._http

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # — the generation call —

    def request_body(
        self, messages: list[Message], *, max_tokens: int, stream: bool, model: str | None = None
    ) -> dict[str, Any]:
        return {
            "model": model or self.settings.model,
            "max_tokens": max_tokens,
            "messages": messages,
            "stream": stream,
        }

    async def generate(
        self,
        messages: list[Message],
        *,
        api_key: str,
        max_tokens: int,
        stream: bool = True,
        model: str | None = None,
        parser: RelayStreamParser | None = None,
    ) -> AsyncIterator[Event]:
        """Send one request and yield its events; the last one is VideoReady or Failed.

        Raises a :class:`SuxiError` when the relay refuses the request or the transport breaks
        before anything conclusive arrived. ``parser`` (optional) lets the caller read what was
        learnt (task id, answer text) even when this raises.
        """
        s = self.settings
        parser = parser or RelayStreamParser()
        body = self.request_body(messages, max_tokens=max_tokens, stream=stream, model=model)
        headers = {"Authorization": f"Bearer {check_key(api_key)}", "Accept": "text/event-stream"}
        # A non-streaming reply stays silent until the video is done: its read gap is the whole
        # deadline.
        read = s.read_timeout if stream else s.total_timeout
        timeout = httpx.Timeout(read, connect=s.connect_timeout)
        deadline = asyncio.get_running_loop().time() + s.total_timeout
        url = f"{s.base_url}/v1/chat/completions"
        try:
            async with self.http.stream(
                "POST", url, json=body, headers=headers, timeout=timeout
            ) as response:
                if response.status_code >= 400:
                    raise await self._http_error(response)
                ctype = response.headers.get("content-type", "").lower()
                if "html" in ctype:
                    raw = await _read_capped(response, MAX_ERROR_BODY)
                    raise BadReplyError("html", relay_text=describe_body(raw, ctype))
                if "json" in ctype:
                    raw = await _read_capped(response, MAX_JSON_BODY, whole=True)
                    for event in _json_reply(raw, parser):
                        yield event
                    return
                async for event in self._stream(response, parser, deadline):
                    yield event
        except SuxiError:
            raise
        except httpx.ConnectError as err:
            raise ConnectError("connect") from err
        except httpx.ConnectTimeout as err:
            raise ConnectError("connect_timeout") from err
        except httpx.TimeoutException as err:  # silence before the headers or inside a body
            raise StallError("stall") from err
        except httpx.UnsupportedProtocol as err:
            raise InputError("bad_base_url") from err
        except httpx.InvalidURL as err:
            raise InputError("bad_base_url") from err
        except httpx.HTTPError as err:
            raise DroppedError(type(err).__name__) from err

    async def _stream(
        self, response: httpx.Response, parser: RelayStreamParser, deadline: float
    ) -> AsyncIterator[Event]:
        decoder = SSEDecoder(max_line=MAX_SSE_LINE)
        chunks = response.aiter_raw().__aiter__()
        transport_error: SuxiError | None = None
        while True:
            try:
                # The deadline covers only the wait for bytes, never the consumer's time.
                async with asyncio.timeout_at(deadline):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                payloads = decoder.close()
                chunk = None
            except TimeoutError as err:
                transport_error = DeadlineError("deadline")
                transport_error.__cause__ = err
                break
            except httpx.ReadTimeout as err:
                transport_error = StallError("stall")
                transport_error.__cause__ = err
                break
            except httpx.HTTPError as err:
                transport_error = DroppedError(type(err).__name__)
                transport_error.__cause__ = err
                break
            else:
                try:
                    payloads = decoder.feed(chunk)
                except LineTooLong as err:
                    transport_error = BrokenStreamError("line_too_long")
                    transport_error.__cause__ = err
                    break
            for payload in payloads:
                for event in parser.feed(payload):
                    yield event
            if chunk is None:
                break
        tail = parser.finish()
        if tail and isinstance(tail[-1], Failed) and tail[-1].kind == FAIL_NO_VIDEO:
            # Nothing conclusive from the relay: the transport's reason is the real one. A clean
            # close without [DONE] is a dropped stream too (relay-protocol.md, transport rules).
            if transport_error is not None:
                raise transport_error
            if not parser.saw_done:
                raise DroppedError("eof")
        for event in tail:
            yield event

    async def _http_error(self, response: httpx.Response) -> SuxiError:
        raw = await _read_capped(response, MAX_ERROR_BODY)
        ctype = response.headers.get("content-type", "").lower()
        cls = error_for_status(response.status_code)
        error = cls(
            f"HTTP {response.status_code}",
            relay_text=describe_body(raw, ctype),
            status=response.status_code,
            retry_after=response.headers.get("retry-after"),
        )
        if isinstance(error, UnavailableError) and not error.relay_text:
            error.kind = "relay_down"  # a bare 503 (maintenance page): not about the model
        return error

    # — other endpoints —

    async def list_models(self, api_key: str) -> list[str]:
        """The models this key may use, video models first (the rest keep the relay's order)."""
        data = await self._get_json("/v1/models", api_key)
        items = data.get("data") if isinstance(data, dict) else None
        names = [
            m["id"] for m in items or [] if isinstance(m, dict) and isinstance(m.get("id"), str)
        ]
        videos = sorted(n for n in names if any(w in n.lower() for w in VIDEO_MODEL_WORDS))
        return videos + [n for n in names if n not in videos]

    async def get_task(self, path: str, api_key: str) -> Any:
        """GET a task-status endpoint on the relay (path and query, relative to the base)."""
        return await self._get_json(path, api_key)

    async def get_status_page(self, url: str) -> Any:
        """GET a status link the stream gave (``…/source/task_…``), through the URL gate and
        without the key: it is usually another host."""
        await _gate(url, self.settings.relay_host)
        return await self._get_json(url, None)

    async def _get_json(self, path_or_url: str, api_key: str | None) -> Any:
        headers = {"Authorization": f"Bearer {check_key(api_key)}"} if api_key else {}
        url = path_or_url if "://" in path_or_url else f"{self.settings.base_url}{path_or_url}"
        try:
            response = await self.http.get(url, headers=headers)
        except httpx.ConnectError as err:
            raise ConnectError("connect") from err
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
            raise InputError("bad_base_url") from err
        except httpx.TimeoutException as err:
            raise StallError("stall") from err
        except httpx.HTTPError as err:
            raise DroppedError(type(err).__name__) from err
        if response.status_code >= 400:
            raise error_for_status(response.status_code)(
                f"HTTP {response.status_code}",
                relay_text=describe_body(
                    response.content[:MAX_ERROR_BODY], response.headers.get("content-type", "")
                ),
                status=response.status_code,
            )
        try:
            return response.json()
        except ValueError as err:
            raise BadReplyError(
                "json", relay_text=describe_body(response.content[:500], "")
            ) from err

    # — the video —

    async def download(self, url: str, dest: Path, relay_key: str | None = None) -> Download:
        """Stream ``url`` to ``dest`` through the URL gate: public http(s) hosts (or the relay's
        own), every redirect re-checked, the size cap enforced while streaming. ``relay_key`` is
        sent only to the relay's own host (its task-content endpoint needs it), never elsewhere.
        """
        s = self.settings
        part = dest.with_name(dest.name + ".part")
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            for _ in range(MAX_REDIRECTS + 1):
                is_relay = await _gate(url, s.relay_host)
                headers = (
                    {"Authorization": f"Bearer {check_key(relay_key)}"}
                    if relay_key and is_relay
                    else {}
                )
                async with self.http.stream(
                    "GET",
                    url,
                    headers=headers,
                    timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
                ) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    if response.status_code >= 400:
                        raise DownloadError(
                            f"HTTP {response.status_code}", status=response.status_code
                        )
                    ctype = response.headers.get("content-type", "").lower()
                    if ctype.startswith("text/") or "json" in ctype:
                        raise DownloadError("not_video", relay_text=ctype)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > s.max_video_bytes:
                        raise TooLargeError("declared")
                    size = 0
                    with part.open("wb") as out:
                        async with asyncio.timeout(s.download_timeout):
                            async for block in response.aiter_bytes(256 * 1024):
                                size += len(block)
                                if size > s.max_video_bytes:
                                    raise TooLargeError("streamed")
                                out.write(block)
                    if size == 0:
                        raise DownloadError("empty")
                    part.replace(dest)
                    return Download(dest, size, ctype)
            raise UnsafeURLError("redirects")
        except SuxiError:
            part.unlink(missing_ok=True)
            raise
        except TimeoutError as err:
            part.unlink(missing_ok=True)
            raise DownloadError("timeout") from err
        except httpx.HTTPError as err:
            part.unlink(missing_ok=True)
            raise DownloadError(type(err).__name__) from err


async def _gate(url: str, relay_host: str) -> bool:
    """Refuse unsafe URLs; True when the URL is on the relay's own host."""
    host, port, is_relay = urlgate.check_url(url, relay_host)
    if is_relay:
        return True
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as err:
        raise DownloadError("dns") from err
    for info in infos:
        urlgate.check_address(info[4][0])
    return False


async def _read_capped(response: httpx.Response, cap: int, *, whole: bool = False) -> bytes:
    """At most ``cap`` bytes of the body; ``whole``: a longer body is an error, not cut."""
    data = bytearray()
    async for block in response.aiter_bytes():
        data += block
        if len(data) > cap:
            if whole:
                raise BadReplyError("too_large")
            break
    return bytes(data[:cap])


def _json_reply(raw: bytes, parser: RelayStreamParser) -> list[Event]:
    try:
        body = json.loads(raw)
    except ValueError as err:
        raise BadReplyError("json", relay_text=describe_body(raw[:500], "")) from err
    events, _outcome = parse_completion(body, parser)
    return events
