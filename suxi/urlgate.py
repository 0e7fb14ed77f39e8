"""Which video URLs the app will fetch. Pure: no sockets (the caller resolves the host).

The relay hands us a URL inside free text; fetching it from the server is an SSRF risk, so only
public ``http(s)`` addresses pass, except the relay's own host (a relay on loopback — the offline
demo and the tests — serves its videos from there).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from .errors import UnsafeURLError

MAX_URL_LENGTH = 4096


def check_url(url: str, relay_host: str) -> tuple[str, int, bool]:
    """Refuse what no address lookup can make safe. Returns (host, port, is_relay_host)."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeURLError("url_too_long")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise UnsafeURLError("malformed") from err
    if parts.scheme not in ("http", "https"):
        raise UnsafeURLError("scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURLError("userinfo")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise UnsafeURLError("no_host")
    port = port or (443 if parts.scheme == "https" else 80)
    is_relay = host == relay_host.lower().rstrip(".")
    if not is_relay:
        literal = _literal_ip(host)
        if literal is not None:
            check_address(literal)
        elif host == "localhost" or host.endswith((".localhost", ".internal", ".local")):
            raise UnsafeURLError("private_address")
    return host, port, is_relay


def check_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Refuse loopback, private, link-local (cloud metadata), multicast and reserved addresses."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise UnsafeURLError("private_address")


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
