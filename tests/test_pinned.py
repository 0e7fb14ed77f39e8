"""PinnedTransport over real loopback HTTP(S) servers: the connection goes only to an address
that was checked, while the Host header and TLS SNI keep the name."""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote

import httpx
import pytest

from suxi.errors import DownloadError, UnsafeURLError
from suxi.pinned import PinnedTransport
from suxi.urlgate import check_address


class Recorder(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext | None = None) -> None:
        super().__init__(address, Handler)
        self.connections = 0
        self.requests: list[tuple[str, str]] = []  # (Host header, path)
        self.server_names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def process_request(self, request, client_address) -> None:  # type: ignore[override]
        self.connections += 1
        super().process_request(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: a second request may reuse the connection

    def do_GET(self) -> None:
        self.server.requests.append((self.headers.get("Host", ""), self.path))  # type: ignore[attr-defined]
        if self.path.startswith("/redirect?to="):
            self.send_response(302)
            self.send_header("Location", unquote(self.path.removeprefix("/redirect?to=")))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = f"served by {self.server.server_address[0]}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(host: str = "127.0.0.1", port: int = 0, tls: ssl.SSLContext | None = None):
    server = Recorder((host, port), tls)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def loopback_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """A test-only check: 127.0.0.1 stands in for a public address; every other rule holds."""
    if ip != ipaddress.ip_address("127.0.0.1"):
        check_address(ip)


class TableDNS:
    """A resolver with one answer per name; an address literal answers itself."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def __call__(self, host: str, port: int) -> list[str]:
        return self.table.get(host, [host])


class FakeDNS:
    """A resolver with a fixed table; answers change per call when given a list of tables."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


def client(transport: PinnedTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport, timeout=5.0)


# ── The relay's own origin ────────────────────────────────────────────────────────────────────


async def test_the_relay_origin_connects_normally_even_on_loopback() -> None:
    dns = FakeDNS(["8.8.8.8"])
    with serve() as server:
        relay = f"http://127.0.0.1:{server.server_port}"
        async with client(PinnedTransport(relay + "/v1", resolver=dns)) as http:
            response = await http.get(f"{relay}/v1/videos/x/content")
    assert response.status_code == 200
    assert server.requests == [(f"127.0.0.1:{server.server_port}", "/v1/videos/x/content")]
    assert dns.calls == []  # no lookup, no check: the operator configured this origin


@pytest.mark.parametrize("other", ["port", "scheme"])
async def test_the_same_host_on_another_origin_is_not_the_relay(other: str) -> None:
    with serve() as server:
        port = server.server_port
        relay = f"http://127.0.0.1:{port + 1}" if other == "port" else f"https://127.0.0.1:{port}"
        async with client(PinnedTransport(relay)) as http:
            with pytest.raises(UnsafeURLError) as err:
                await http.get(f"http://127.0.0.1:{port}/v.mp4")
    assert err.value.detail == "private_address"
    assert server.connections == 0


# ── Everything else connects only to checked addresses ────────────────────────────────────────


@pytest.mark.parametrize(
    "answers",
    [
        ["127.0.0.1"],
        ["8.8.8.8", "127.0.0.1"],  # one private answer spoils the whole name
        ["10.0.0.1", "93.184.216.34"],
        ["::ffff:127.0.0.1"],
        ["64:ff9b::7f00:1"],
        ["fe80::1%lo"],
        ["not an address"],
    ],
)
async def test_a_name_with_any_private_answer_is_refused_before_connecting(
    answers: list[str],
) -> None:
    dns = FakeDNS(answers)
    with serve() as server:
        async with client(PinnedTransport("https://relay.example", resolver=dns)) as http:
            with pytest.raises(UnsafeURLError) as err:
                await http.get(f"http://video.example:{server.server_port}/v.mp4")
    assert err.value.detail == "private_address"
    assert dns.calls == [("video.example", server.server_port)]
    assert server.connections == 0


async def test_the_system_resolver_is_checked_too() -> None:
    with serve() as server:
        port = server.server_port
        async with client(PinnedTransport("https://relay.example")) as http:
            for url in (
                f"http://localhost:{port}/",
                f"http://127.0.0.1:{port}/",
                f"http://2130706433:{port}/",  # the resolver reads numeric forms as addresses
                f"http://0x7f000001:{port}/",
                f"http://[::ffff:127.0.0.1]:{port}/",
            ):
                with pytest.raises(UnsafeURLError):
                    await http.get(url)
    assert server.connections == 0


async def test_host_header_keeps_the_name_and_the_checked_address_is_used() -> None:
    dns = FakeDNS(["127.0.0.1"])
    transport = PinnedTransport(
        "https://relay.example", resolver=dns, address_check=loopback_is_public
    )
    with serve() as server:
        port = server.server_port
        async with client(transport) as http:
            first = await http.get(f"http://video.example:{port}/v.mp4")
            second = await http.get(f"http://Video.Example.:{port}/thumb.webp")
    assert (first.status_code, first.text) == (200, "served by 127.0.0.1")
    assert second.status_code == 200
    assert server.requests == [
        (f"video.example:{port}", "/v.mp4"),
        (f"video.example.:{port}", "/thumb.webp"),
    ]


async def test_a_rebinding_name_reaches_only_the_address_that_was_checked() -> None:
    # The name answers 127.0.0.1 (passes the test check) to the first lookup and 127.0.0.2 (a
    # loopback address the check refuses) to any later one. A client that resolves again to
    # connect would reach the second server.
    dns = FakeDNS(["127.0.0.1"], ["127.0.0.2"])
    with serve("127.0.0.1") as checked, serve("127.0.0.2", checked.server_port) as rebound:
        port = checked.server_port
        transport = PinnedTransport(
            "https://relay.example", resolver=dns, address_check=loopback_is_public
        )
        async with client(transport) as http:
            for _ in range(3):  # the connection is reused: no second lookup
                response = await http.get(f"http://video.example:{port}/v.mp4")
                assert response.text == "served by 127.0.0.1"
        assert len(dns.calls) == 1
        async with client(transport) as http:  # the pool was closed: a new connection
            with pytest.raises(UnsafeURLError):
                await http.get(f"http://video.example:{port}/v.mp4")
    assert len(dns.calls) == 2
    assert checked.connections == 1 and len(checked.requests) == 3
    assert rebound.connections == 0


async def test_the_next_checked_address_is_tried_when_one_does_not_answer() -> None:
    def loopback_range_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
        if ip not in ipaddress.ip_network("127.0.0.0/8"):
            check_address(ip)

    with serve() as server:
        dns = FakeDNS(["127.0.0.3", "127.0.0.1"])  # nothing listens on 127.0.0.3
        transport = PinnedTransport(
            "https://relay.example", resolver=dns, address_check=loopback_range_is_public
        )
        async with client(transport) as http:
            response = await http.get(f"http://video.example:{server.server_port}/")
    assert response.text == "served by 127.0.0.1"


async def test_no_address_answers_is_a_connect_error() -> None:
    with serve() as server:
        port = server.server_port
    dns = FakeDNS(["127.0.0.1"])  # the server is gone
    transport = PinnedTransport(
        "https://relay.example", resolver=dns, retries=1, address_check=loopback_is_public
    )
    async with client(transport) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://video.example:{port}/")
    assert len(dns.calls) == 2  # a retried connection resolves and checks again


@pytest.mark.parametrize(
    "target", ["http://inner.example:{port}/", "http://127.0.0.2:{port}/", "http://10.1.2.3/"]
)
async def test_redirects_are_checked_like_any_request(target: str) -> None:
    dns = TableDNS({"video.example": ["127.0.0.1"], "inner.example": ["10.0.0.7"]})
    with serve() as server:
        port = server.server_port
        transport = PinnedTransport(
            "https://relay.example", resolver=dns, address_check=loopback_is_public
        )
        location = quote(target.format(port=port), safe="")
        async with httpx.AsyncClient(transport=transport, follow_redirects=True) as http:
            with pytest.raises(UnsafeURLError):
                await http.get(f"http://video.example:{port}/redirect?to={location}")
    assert server.connections == 1  # only the first, checked, connection


# ── Lookups that fail ─────────────────────────────────────────────────────────────────────────


async def test_dns_failures_are_download_errors() -> None:
    async def no_such_name(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    for resolver in (no_such_name, FakeDNS([])):
        async with client(PinnedTransport("https://relay.example", resolver=resolver)) as http:
            with pytest.raises(DownloadError) as err:
                await http.get("https://video.example/v.mp4")
        assert err.value.detail == "dns"
        assert not isinstance(err.value, UnsafeURLError)


async def test_a_slow_lookup_is_a_connect_timeout() -> None:
    async def slow(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return ["8.8.8.8"]

    transport = PinnedTransport("https://relay.example", resolver=slow)
    async with httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(5, connect=0.2)) as h:
        with pytest.raises(httpx.ConnectTimeout):
            await h.get("https://video.example/v.mp4")


def test_an_unreadable_relay_origin_pins_everything() -> None:
    transport = PinnedTransport("not a url")
    assert transport.is_relay(httpx.URL("http://127.0.0.1:8000/")) is False
    transport = PinnedTransport("http://127.0.0.1:8000/v1")
    assert transport.is_relay(httpx.URL("http://127.0.0.1:8000/x")) is True
    assert transport.is_relay(httpx.URL("http://127.0.0.1/x")) is False
    assert PinnedTransport("https://[::1]").is_relay(httpx.URL("https://[0::1]:443/")) is True


# ── TLS: SNI and the certificate check use the name ───────────────────────────────────────────


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=video.example", "-addext", "subjectAltName=DNS:video.example",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    yield cert, key


async def test_tls_sni_and_certificate_name_are_the_host_name(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    with serve(tls=server_tls) as server:
        port = server.server_port
        transport = PinnedTransport(
            "https://relay.example",
            resolver=FakeDNS(["127.0.0.1"]),
            verify=client_tls,
            address_check=loopback_is_public,
        )
        async with client(transport) as http:
            response = await http.get(f"https://video.example:{port}/v.mp4")
            assert response.status_code == 200
            # The certificate names video.example only: connecting by address fails the check.
            pinned_by_ip = PinnedTransport(
                "https://relay.example",
                resolver=FakeDNS(["127.0.0.1"]),
                verify=client_tls,
                address_check=loopback_is_public,
            )
        async with client(pinned_by_ip) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"https://127.0.0.1:{port}/v.mp4")
    assert server.server_names[0] == "video.example"
    assert server.requests[0] == (f"video.example:{port}", "/v.mp4")
