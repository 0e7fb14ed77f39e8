"""The URL gate: every spelling of a non-public address is refused; public names pass."""

from __future__ import annotations

import ipaddress

import pytest

from suxi.errors import InputError, UnsafeURLError
from suxi.urlgate import Target, check_address, check_image_link, check_url, origin_of

RELAY = "http://127.0.0.1:8000"


def refused(url: str, relay: str = RELAY) -> str:
    with pytest.raises(UnsafeURLError) as err:
        check_url(url, relay)
    return err.value.detail


# ── Literal addresses in every numeric spelling ───────────────────────────────────────────────

LOOPBACK_AND_METADATA = [
    "https://2130706433/",  # 127.0.0.1 as one decimal number
    "http://0x7f000001/",  # … as one hex number
    "http://0X7F.0.0.1/",
    "http://0177.0.0.1/",  # octal first part
    "http://0177.0000.0000.0001/",
    "http://127.1/",  # two parts: the last fills 24 bits
    "http://127.0.1/",  # three parts: the last fills 16 bits
    "http://0x7f.1/",
    "http://127.0.0.1./",  # trailing dot
    "https://0/",  # 0.0.0.0
    "http://0.0.0.0/",
    "http://0x0/",
    "http://2852039166/",  # 169.254.169.254
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.5.4/",
    "http://192.168.1.1:8080/",
    "http://100.64.0.1/",  # shared address space (CGNAT)
    "http://198.18.0.1/",  # benchmarking
    "http://192.0.2.1/",  # documentation
    "http://224.0.0.1/",  # multicast
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
    "http://１２７。０。０。１/",  # full-width digits and ideographic full stops (UTS 46)
    "http://[::1]/",
    "http://[::]/",
    "http://[0:0:0:0:0:0:0:1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped
    "http://[::ffff:7f00:1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[::ffff:0:a9fe:a9fe]/",  # IPv4-translated (SIIT)
    "http://[::127.0.0.1]/",  # IPv4-compatible (deprecated)
    "http://[::8.8.8.8]/",  # … refused whatever it embeds
    "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 well-known prefix → 169.254.169.254
    "http://[64:ff9b::7f00:1]/",
    "http://[64:ff9b::10.0.0.1]/",
    "http://[64:ff9b:1::8.8.8.8]/",  # local-use NAT64
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",  # Teredo
    "http://[fe80::1]/",
    "http://[fe80::1%25eth0]/",  # zone id
    "http://[fc00::1]/",
    "http://[fd12:3456::1]/",
    "http://[fec0::1]/",  # site-local
    "http://[ff02::1]/",  # multicast
    "http://[2001:db8::1]/",  # documentation
    "http://[100::1]/",  # discard-only
]


@pytest.mark.parametrize("url", LOOPBACK_AND_METADATA)
def test_literal_non_public_addresses_are_refused(url: str) -> None:
    assert refused(url, relay="https://relay.example") == "private_address"


@pytest.mark.parametrize(
    ("url", "ip"),
    [
        ("https://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://10.1/", "10.0.0.1"),
        ("http://192.168.257/", "192.168.1.1"),
        ("https://0/", "0.0.0.0"),
        ("http://2852039166/", "169.254.169.254"),
        ("http://134744072/", "8.8.8.8"),
        ("http://[::FFFF:127.0.0.1]/", "::ffff:7f00:1"),
    ],
)
def test_every_numeric_spelling_is_read_as_the_address(url: str, ip: str) -> None:
    target, _ = check_url(url, url)  # the relay's own origin: nothing is refused
    assert target.ip == ipaddress.ip_address(ip)
    assert target.host == ipaddress.ip_address(ip).compressed


@pytest.mark.parametrize(
    "url",
    [
        "http://256.0.0.1/",
        "http://1.2.3.4.5/",
        "http://0x100000000/",
        "http://4294967296/",
        "http://127.0.0.08/",  # not octal, not decimal: invalid, not a name
        "http://[v1.abc]/",
        "http://[::1/",
        "http://[::1]x/",
        "http://::1/",
        "http://a..b.example/",
        "http://-x.example/",
        "http://x_y!.example/",
        "http://127%2E0%2E0%2E1/",  # percent-encoded host
        "http://example.com:0/",
        "http://example.com:65536/",
        "http://example.com:+80/",
        "http://example.com:8a/",
        "http:example.com/",
        "http:/example.com/",
        "//example.com/",
        "example.com/video.mp4",
        "http://" + "a" * 64 + ".example/",
    ],
)
def test_malformed_hosts_and_ports_are_refused(url: str) -> None:
    assert refused(url) == "malformed"


# ── Names ─────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "HTTP://LOCALHOST./",
        "http://localhost:8000/",
        "http://api.localhost/",
        "http://printer.local/",
        "http://metadata.google.internal/",
        "http://router.lan/",
        "http://box.home.arpa/",
        "http://intranet/",  # a single label only a local resolver answers
        "http://ｌｏｃａｌｈｏｓｔ/",  # full-width letters map to "localhost"
    ],
)
def test_local_names_are_refused(url: str) -> None:
    assert refused(url) == "local_name"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://cdn.example.com/v.mp4", "cdn.example.com"),
        ("https://CDN.Example.COM./v.mp4", "cdn.example.com"),
        ("http://169.254.169.254.nip.io/", "169.254.169.254.nip.io"),  # a NAME: pinned.py
        ("https://bücher.example/v.mp4", "xn--bcher-kva.example"),
        ("https://xn--bcher-kva.example/v.mp4", "xn--bcher-kva.example"),
        ("https://视频。例子。中国/v.mp4", "xn--cy2a840a.xn--fsqu00a.xn--fiqs8s"),
        ("https://127.0.0.1.example/", "127.0.0.1.example"),
        ("https://a_b.example/", "a_b.example"),
        ("http://evil.example#@127.0.0.1/", "evil.example"),  # the fragment holds the "@"
        ("http://evil.example?@127.0.0.1/", "evil.example"),
        ("https://host.example/视频.mp4?sig=a%2Fb", "host.example"),
    ],
)
def test_public_names_pass(url: str, host: str) -> None:
    target, is_relay = check_url(url, RELAY)
    assert target.host == host
    assert target.ip is None
    assert is_relay is False


def test_public_addresses_pass() -> None:
    for url, host in [
        ("http://8.8.8.8/", "8.8.8.8"),
        ("http://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
        ("http://[::ffff:8.8.8.8]/", "::ffff:808:808"),
        ("http://[64:ff9b::8.8.8.8]/", "64:ff9b::808:808"),
        ("http://[2002:808:808::1]/", "2002:808:808::1"),
    ]:
        target, _ = check_url(url, RELAY)
        assert target.host == host
        assert target.ip is not None


# ── Syntax that parsers read differently ──────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://127.0.0.1:80@evil.example/", "userinfo"),
        ("http://user:pass@cdn.example.com/", "userinfo"),
        ("http://@cdn.example.com/", "userinfo"),
        ("http://cdn.example.com\\@127.0.0.1/", "bad_characters"),
        ("http://cdn.example.com\\.127.0.0.1/", "bad_characters"),
        ("http://cdn.exa\tmple.com/", "bad_characters"),
        ("http://cdn.example.com/\n", "bad_characters"),
        ("http://cdn.example.com/a b.mp4", "bad_characters"),
        (" http://cdn.example.com/", "bad_characters"),
        ("http://cdn.example.com/\x00", "bad_characters"),
        ("http://cdn.example.com/\x85", "bad_characters"),
        ("http://cdn.example.com/\u3000", "bad_characters"),
        ("http://local\u200bhost/", "bad_characters"),
        ("http://cdn.example.com/\u202e4pm.exe", "bad_characters"),
        ("ftp://cdn.example.com/v.mp4", "scheme"),
        ("file:///etc/passwd", "scheme"),
        ("gopher://cdn.example.com:70/", "scheme"),
        ("javascript://cdn.example.com/%0aalert(1)", "scheme"),
        ("http:///v.mp4", "no_host"),
        ("http://:8000/", "no_host"),
    ],
)
def test_syntax_tricks_are_refused(url: str, detail: str) -> None:
    assert refused(url) == detail


def test_scheme_is_case_insensitive() -> None:
    target, _ = check_url("HTTPS://cdn.example.com/v.mp4", RELAY)
    assert (target.scheme, target.origin) == ("https", "https://cdn.example.com:443")
    assert check_url("HTTP://cdn.example.com/", RELAY)[0].scheme == "http"
    assert refused("FTP://cdn.example.com/") == "scheme"


def test_length_limit_is_exact() -> None:
    base = "https://cdn.example.com/"
    url = base + "a" * (100 - len(base))
    assert len(url) == 100
    check_url(url, RELAY, max_length=100)
    with pytest.raises(UnsafeURLError) as err:
        check_url(url + "a", RELAY, max_length=100)
    assert err.value.detail == "url_too_long"


def test_schemes_can_be_narrowed() -> None:
    with pytest.raises(UnsafeURLError) as err:
        check_url("http://cdn.example.com/", RELAY, schemes=("https",))
    assert err.value.detail == "scheme"


# ── The relay's own origin ────────────────────────────────────────────────────────────────────


def test_the_relay_origin_may_be_loopback() -> None:
    target, is_relay = check_url("http://127.0.0.1:8000/v1/videos/x/content", RELAY)
    assert is_relay is True
    assert target == Target(
        "http", "127.0.0.1", 8000, "http://127.0.0.1:8000", ipaddress.ip_address("127.0.0.1")
    )
    assert check_url("http://localhost:8000/v.mp4", "http://LOCALHOST.:8000/v1")[1] is True
    assert check_url("http://[::1]:8000/v.mp4", "http://[::1]:8000")[1] is True
    # The same address in another spelling is the same origin.
    assert check_url("http://2130706433:8000/v.mp4", RELAY)[1] is True


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001/v.mp4",  # same host, other port
        "https://127.0.0.1:8000/v.mp4",  # same host and port, other scheme
        "http://127.0.0.1/v.mp4",  # default port 80 is not 8000
        "http://127.0.0.2:8000/v.mp4",
        "http://localhost:8000/v.mp4",  # a name is not the address it may resolve to
    ],
)
def test_anything_but_the_whole_relay_origin_is_not_the_relay(url: str) -> None:
    assert refused(url) in ("private_address", "local_name")


def test_a_public_relay_origin() -> None:
    relay = "https://relay.example.com/v1"
    assert check_url("https://relay.example.com/v1/x", relay)[1] is True
    assert check_url("https://relay.example.com:443/x", relay)[1] is True
    assert check_url("http://relay.example.com/x", relay)[1] is False
    assert check_url("https://relay.example.com:8443/x", relay)[1] is False
    assert check_url("https://cdn.relay.example.com/x", relay)[1] is False


def test_a_relay_origin_that_cannot_be_read_matches_nothing() -> None:
    for relay in ("", "not a url", "http://", "http://[::1"):
        assert refused("http://127.0.0.1:8000/", relay=relay) == "private_address"


def test_the_relay_exception_still_refuses_bad_syntax() -> None:
    assert refused("http://user@127.0.0.1:8000/") == "userinfo"
    assert refused("http://127.0.0.1:8000/\x00") == "bad_characters"
    assert refused("ftp://127.0.0.1:8000/") == "scheme"


# ── origin_of ─────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("https://Relay.Example.com./v1?x=1#y", "https://relay.example.com:443"),
        ("http://relay.example.com", "http://relay.example.com:80"),
        ("http://relay.example.com:/", "http://relay.example.com:80"),
        ("http://[::1]:9/", "http://[::1]:9"),
        ("https://[0:0::1]/", "https://[::1]:443"),
        ("http://user:pw@relay.example.com:81/", "http://relay.example.com:81"),
        ("http://0x7f.1:8000/", "http://127.0.0.1:8000"),
        ("wss://relay.example.com/ws", "wss://relay.example.com:443"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    "url", ["", "relay.example.com", "http://", "http://[::1", "mailto:x@y", "custom://host/"]
)
def test_origin_of_what_is_no_url(url: str) -> None:
    with pytest.raises(UnsafeURLError) as err:
        origin_of(url)
    assert err.value.detail == "malformed"


# ── check_address (used on every resolved address) ───────────────────────────────────────────


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "::1",
        "::",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2002:c0a8:101::1",
        "fe80::1%eth0",
        "fd00::1",
        "ff05::2",
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::ffff:a9fe:a9fe"),
    ],
)
def test_check_address_refuses_non_public(address: str) -> None:
    with pytest.raises(UnsafeURLError) as err:
        check_address(address)
    assert err.value.detail == "private_address"


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::1.1.1.1"],
)
def test_check_address_passes_public(address: str) -> None:
    check_address(address)
    check_address(ipaddress.ip_address(address))


def test_check_address_of_something_else() -> None:
    for junk in ("", "localhost", "1.2.3", "::g"):
        with pytest.raises(UnsafeURLError) as err:
            check_address(junk)
        assert err.value.detail == "malformed"


# ── Image links the relay fetches ─────────────────────────────────────────────────────────────


def test_image_link_passes_public_https() -> None:
    url = "https://img.example.com/cat.png?sig=1"
    assert check_image_link(url) == url


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("http://img.example.com/cat.png", "scheme"),
        ("data:image/png;base64,AAAA", "scheme"),
        ("https://img.example.com/" + "a" * 2048, "url_too_long"),
        ("https://127.0.0.1:8000/x.png", "private_address"),
        ("https://2130706433/x.png", "private_address"),
        ("https://[::ffff:169.254.169.254]/x.png", "private_address"),
        ("https://localhost/x.png", "local_name"),
        ("https://user@img.example.com/x.png", "userinfo"),
        ("https://img.example.com/a b.png", "bad_characters"),
    ],
)
def test_image_link_refusals(url: str, detail: str) -> None:
    with pytest.raises(InputError) as err:
        check_image_link(url)
    assert err.value.kind == "image_url"
    assert err.value.detail == detail


def test_image_link_length_limit_is_exact() -> None:
    base = "https://img.example.com/"
    url = base + "a" * (2048 - len(base))
    assert check_image_link(url) == url
    with pytest.raises(InputError):
        check_image_link(url + "a")
