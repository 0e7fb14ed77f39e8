"""Whose address a request comes from, as far as it can be trusted.

A forwarded header is believed only when the connection itself comes from a configured proxy
(``SUXI_TRUSTED_PROXIES``: addresses or networks; ``space`` on a Hugging Face Space, whose proxy
appends the visitor's address as the rightmost ``X-Forwarded-For`` entry). Anything else — a
visitor writing their own ``X-Forwarded-For`` — is ignored: the socket's address counts
(docs/deployment.md, "Behind a proxy").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    nets = []
    for item in trusted:
        if item == "space":
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            continue  # a typo in the setting trusts nothing extra
    return tuple(nets)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def client_address(peer: str, headers: Mapping[str, str], trusted: tuple[str, ...]) -> str:
    """The visitor's address: the socket peer unless it is a trusted proxy, in which case the
    rightmost ``X-Forwarded-For`` entry that is not itself a trusted proxy."""
    peer_ip = _ip(peer or "")
    if not trusted or peer_ip is None:
        return str(peer_ip) if peer_ip is not None else (peer or "")
    forwarded = [p for p in (headers.get("x-forwarded-for") or "").split(",") if p.strip()]
    if "space" in trusted:
        last = _ip(forwarded[-1]) if forwarded else None
        return str(last) if last is not None else str(peer_ip)
    nets = _networks(trusted)
    if not any(peer_ip in net for net in nets):
        return str(peer_ip)
    for entry in reversed(forwarded):
        ip = _ip(entry)
        if ip is None:
            break  # garbage: trust nothing further to the left
        if not any(ip in net for net in nets):
            return str(ip)
    return str(peer_ip)
