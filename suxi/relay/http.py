"""The relay over HTTP: the package's only httpx user.

Every httpx exception becomes one of :mod:`suxi.errors` here, in :func:`translating` — once.
One paid request per call: nothing here retries a request that may have reached the relay; only
a refused connection (nothing was sent) is retried, by the transport. The key goes only to the
relay's own origin (scheme, host and port), whatever URL a reply or a redirect names.
Connections to any other origin go to the address the URL gate checked (:mod:`suxi.pinned`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from ..errors import (
    BadReplyError,
    ConnectError,
    DownloadError,
    DroppedError,
    InputError,
    StallError,
    SuxiError,
    UnavailableError,
    error_for_status,
)
from ..kinds import Kind
from ..pinned import PinnedTransport
from ..settings import Settings
from ..textsafe import hide_keys, loads_json
from ..urlgate import origin_of
from .bodies import describe_body

MAX_ERROR_BODY = 64 * 1024
MAX_JSON_BODY = 4 * 1024 * 1024  # a status reply or a model list; a whole chat answer below
MAX_COMPLETION_BODY = 16 * 1024 * 1024
CONNECT_RETRIES = 2  # httpx retries only connection failures: the request was never sent


@asynccontextmanager
async def translating(*, download: bool = False) -> AsyncIterator[None]:
    """httpx errors → the package's error tree (downloads: all are DownloadError)."""
    try:
        yield
    except SuxiError:
        raise
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as err:
        if download:
            raise DownloadError(type(err).__name__) from err
        raise InputError(Kind.BAD_BASE_URL) from err
    except httpx.HTTPError as err:
        if download:
            raise DownloadError(type(err).__name__) from err
        if isinstance(err, httpx.ConnectTimeout):
            raise ConnectError("connect_timeout") from err
        if isinstance(err, httpx.ConnectError):
            raise ConnectError("connect") from err
        if isinstance(err, httpx.TimeoutException):  # silence before the headers or in a body
            raise StallError("stall") from err
        raise DroppedError(type(err).__name__) from err


async def read_capped(response: httpx.Response, cap: int, *, overflow_is_error: bool) -> bytes:
    """At most ``cap`` bytes of the body. ``overflow_is_error``: a longer body raises
    BadReplyError (a JSON document cut short is no document); otherwise it is cut."""
    data = bytearray()
    async for block in response.aiter_bytes():
        data += block
        if len(data) > cap:
            if overflow_is_error:
                raise BadReplyError("too_large")
            break
    return bytes(data[:cap])


async def http_error(response: httpx.Response, key: str | None = None) -> SuxiError:
    """The error an error status stands for, with the relay's own words (any key in them
    hidden: some relays quote the key they refused)."""
    raw = await read_capped(response, MAX_ERROR_BODY, overflow_is_error=False)
    status = response.status_code
    error = error_for_status(status)(
        f"HTTP {status}",
        relay_text=hide_keys(describe_body(raw, response.headers.get("content-type", "")), key),
        status=status,
        retry_after=response.headers.get("retry-after"),
    )
    if isinstance(error, UnavailableError) and not error.relay_text:
        error.kind = Kind.RELAY_DOWN  # a bare 503 (maintenance page): not about the model
    return error


def parse_json(raw: bytes, *, cap: int) -> Any:
    data = loads_json(raw, max_bytes=cap)
    if data is None:
        raise BadReplyError("json", relay_text=describe_body(raw[:500]))
    return data


class RelayHTTP:
    """One relay origin. Build one per process and reuse it: creating a client loads the CA
    bundle, ~30 ms of CPU on the event loop (docs/architecture.md)."""

    def __init__(self, settings: Settings, transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self.origin = settings.relay_origin
        self.base_url = settings.base_url
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # created inside the running loop, on first use
            s = self.settings
            limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
            self._client = httpx.AsyncClient(
                transport=self._transport
                or PinnedTransport(self.origin, retries=CONNECT_RETRIES, limits=limits),
                timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def url(self, path_or_url: str) -> str:
        return path_or_url if "://" in path_or_url else f"{self.base_url}{path_or_url}"

    def auth(self, url: str, key: str | None) -> dict[str, str]:
        """The Authorization header, only for the relay's own origin."""
        if not key:
            return {}
        try:
            same = origin_of(url) == self.origin
        except SuxiError:
            same = False
        return {"Authorization": f"Bearer {check_key(key)}"} if same else {}

    def timeout(self, read: float | None = None) -> httpx.Timeout:
        s = self.settings
        return httpx.Timeout(read or s.read_timeout, connect=s.connect_timeout)

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        key: str | None,
        read_timeout: float | None = None,
        **kw: Any,
    ) -> AsyncIterator[httpx.Response]:
        """An open response from the relay (error statuses raised as their error)."""
        url = self.url(path)
        headers = {**kw.pop("headers", {}), **self.auth(url, key)}
        async with (
            translating(),
            self.client.stream(
                method, url, headers=headers, timeout=self.timeout(read_timeout), **kw
            ) as response,
        ):
            if response.status_code >= 400:
                raise await http_error(response, key)
            yield response

    async def call_json(
        self,
        method: str,
        path: str,
        *,
        key: str | None,
        cap: int = MAX_JSON_BODY,
        **kw: Any,
    ) -> Any:
        """One request whose answer is JSON (status replies, create calls, lists)."""
        headers = {"Accept": "application/json", **kw.pop("headers", {})}
        async with self.stream(method, path, key=key, headers=headers, **kw) as response:
            if response.is_redirect:
                raise BadReplyError("redirect", status=response.status_code)
            raw = await read_capped(response, cap, overflow_is_error=True)
        return parse_json(raw, cap=cap)


def check_key(api_key: str | None) -> str:
    if (
        not api_key
        or len(api_key) > 512
        or any(c.isspace() for c in api_key)
        or not api_key.isprintable()
    ):
        raise InputError(Kind.BAD_KEY)
    return api_key
