"""An httpx transport that connects only to addresses it has checked (docs/hostile-input.md,
"Connecting").

Checking a URL's host and then letting the HTTP client resolve it again leaves a gap: a name can
answer a public address to the check and 127.0.0.1 to the connection (DNS rebinding). Here the
name is resolved once, every address is checked with :func:`suxi.urlgate.check_address`, and the
TCP connection goes to one of exactly those addresses, while the Host header and TLS SNI keep
the name. Requests to the relay's own origin connect normally: the relay is configured by the
operator and may sit on loopback (the offline demo, the tests).

Use it as ``httpx.AsyncClient(transport=PinnedTransport(relay_origin))``: with ``transport=``
httpx also ignores proxy variables from the environment, which would otherwise connect for us.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator

import anyio
import httpcore
import httpx

from . import urlgate
from .errors import DownloadError, UnsafeURLError

Resolver = Callable[[str, int], Awaitable[list[str]]]
AddressCheck = Callable[[urlgate.IPAddress], None]

DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)

# httpcore's exceptions as httpx raises them (the same mapping as httpx.AsyncHTTPTransport);
# the most specific match wins.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``, in its order, once each."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolve once, check every address, connect to a checked one. httpcore passes the
    origin's host name to ``start_tls`` separately, so SNI and certificate checks use the name.
    Raises ``UnsafeURLError("private_address")`` when ANY address is refused (a name that mixes
    public and private answers is not trusted with either), ``DownloadError("dns")`` when the
    name does not resolve."""

    def __init__(
        self,
        resolver: Resolver = system_resolver,
        address_check: AddressCheck = urlgate.check_address,
    ) -> None:
        self._resolver = resolver
        self._check = address_check
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolve(host, port, timeout)
        for address in addresses:
            self._check(address)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as err:
                failure = err  # the next checked address may answer
        assert failure is not None  # _resolve never returns an empty list
        raise failure

    async def _resolve(
        self, host: str, port: int, timeout: float | None
    ) -> list[urlgate.IPAddress]:
        try:
            with anyio.fail_after(timeout):
                answers = await self._resolver(host, port)
        except TimeoutError as err:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from err
        except (OSError, UnicodeError, ValueError) as err:
            raise DownloadError("dns") from err
        if not answers:
            raise DownloadError("dns")
        addresses = []
        for answer in answers:
            try:
                addresses.append(ipaddress.ip_address(answer))
            except ValueError as err:  # a resolver answering something else: refuse it all
                raise UnsafeURLError("private_address") from err
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeURLError("scheme")  # never configured; refused should it ever be reached

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class PinnedTransport(httpx.AsyncBaseTransport):
    """Requests to ``relay_origin`` (``scheme://host:port``, or any URL of it) connect
    normally; every other request connects only to addresses that passed ``address_check``.

    ``resolver`` (``async (host, port) -> list[str]``) and ``address_check`` are injectable for
    tests. Besides the usual httpx exceptions, a request may raise
    ``UnsafeURLError("private_address")`` or ``DownloadError("dns")`` (see
    :class:`PinnedBackend`); neither is retried by ``retries``, which repeats only failed
    connections."""

    def __init__(
        self,
        relay_origin: str,
        *,
        retries: int = 0,
        limits: httpx.Limits | None = None,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
        address_check: AddressCheck = urlgate.check_address,
    ) -> None:
        try:
            self._relay_origin: str | None = urlgate.origin_of(relay_origin)
        except UnsafeURLError:
            self._relay_origin = None  # no relay origin: every request is pinned
        limits = limits or DEFAULT_LIMITS
        options = {
            "ssl_context": httpx.create_ssl_context(verify=verify),
            "max_connections": limits.max_connections,
            "max_keepalive_connections": limits.max_keepalive_connections,
            "keepalive_expiry": limits.keepalive_expiry,
            "retries": retries,
        }
        self._relay_pool = httpcore.AsyncConnectionPool(**options)
        self._pinned_pool = httpcore.AsyncConnectionPool(
            **options,
            network_backend=PinnedBackend(resolver or system_resolver, address_check),
        )

    def is_relay(self, url: httpx.URL) -> bool:
        """Whether ``url`` goes to the relay's own origin (and so connects normally)."""
        host = url.raw_host.decode("ascii")
        shown = f"[{host}]" if ":" in host else host
        try:
            origin = urlgate.origin_of(f"{url.scheme}://{shown}:{url.port or ''}/")
        except UnsafeURLError:
            return False
        return origin == self._relay_origin

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        pool = self._relay_pool if self.is_relay(request.url) else self._pinned_pool
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_exceptions():
            response = await pool.handle_async_request(core_request)
        assert hasattr(response.stream, "__aiter__")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._relay_pool.aclose()
        await self._pinned_pool.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: object) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_exceptions():
            async for part in self._stream:  # type: ignore[attr-defined]
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


@contextlib.contextmanager
def _httpx_exceptions() -> Iterator[None]:
    try:
        yield
    except Exception as err:
        for core, mapped in _EXCEPTIONS:
            if isinstance(err, core):
                raise mapped(str(err)) from err
        raise
