"""Which addresses the app will fetch, and which links it lets the relay fetch. Pure: no sockets.

The relay names videos, thumbnails and status pages inside free text, and the visitor names
starting images that the relay downloads. Either can point at the server's own network (cloud
metadata at 169.254.169.254, an admin port on loopback), so a URL passes only when its host is a
public name or a public address, in every spelling an address resolver accepts. The rules, and
why each exists, are in docs/hostile-input.md ("Addresses"). This gate checks the URL as
written; :mod:`suxi.pinned` checks what a name resolves to, and connects only there.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

import idna

from .errors import InputError, UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 4096
MAX_IMAGE_LINK_LENGTH = 2048
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}

# Spaces, control characters, backslashes (WHATWG reads "\" as "/"), and invisible format
# characters: a URL that holds any of them means different things to different parsers.
_BAD_CHARACTERS = re.compile(
    r"[\x00-\x20\x7f-\xa0\\\s\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_NUMERIC_LABEL = re.compile(r"[0-9]+|0[xX][0-9a-fA-F]*")
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan")

# IPv6 ranges that carry an IPv4 address in their last 32 bits and reach it
# (docs/hostile-input.md): IPv4-mapped, IPv4-translated (SIIT), the well-known NAT64 prefix.
_EMBEDS_IPV4 = tuple(
    ipaddress.IPv6Network(n) for n in ("::ffff:0:0/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Never a destination for us: IPv4-compatible (deprecated, ::/96 also holds :: and ::1),
# local-use NAT64 (its embedding depends on the local prefix), Teredo (obfuscated IPv4 client),
# site-local (deprecated, routed like private space).
_REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(n) for n in ("::/96", "64:ff9b:1::/48", "2001::/32", "fec0::/10")
)


@dataclass(frozen=True)
class Target:
    """Where a checked URL leads. ``host`` is lower-case without a trailing dot (IDN names in
    their ``xn--`` form, IP literals in canonical form, IPv6 without brackets); ``origin`` is
    ``scheme://host:port`` with the port always written; ``ip`` is set when the host is an IP
    literal in any spelling a resolver accepts (``http://2130706433/`` → 127.0.0.1)."""

    scheme: str
    host: str
    port: int
    origin: str
    ip: IPAddress | None


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``, canonical (see :class:`Target`). Raises
    ``UnsafeURLError("malformed")`` when no origin can be read from it."""
    try:
        return _parse(url)[0].origin
    except UnsafeURLError as err:
        raise UnsafeURLError("malformed") from err


def check_url(
    url: str,
    relay_origin: str,
    *,
    schemes: tuple[str, ...] = ("http", "https"),
    max_length: int = MAX_URL_LENGTH,
) -> tuple[Target, bool]:
    """Refuse what no address lookup can make safe. Returns the target and whether its whole
    origin (scheme, host, port) is ``relay_origin``: only then may a loopback or private
    address pass (the relay itself on loopback in the demo and tests), and only then may the
    key be sent. Raises :class:`UnsafeURLError` with ``detail`` one of ``url_too_long``,
    ``bad_characters``, ``malformed``, ``scheme``, ``userinfo``, ``no_host``,
    ``private_address``, ``local_name``."""
    if not isinstance(url, str):
        raise UnsafeURLError("malformed")
    if len(url) > max_length:
        raise UnsafeURLError("url_too_long")
    if _BAD_CHARACTERS.search(url):
        raise UnsafeURLError("bad_characters")
    scheme = _SCHEME.match(url)
    if scheme is None or scheme.group(1).lower() not in schemes:
        raise UnsafeURLError("scheme" if scheme else "malformed")
    target, has_userinfo = _parse(url)
    if has_userinfo:
        raise UnsafeURLError("userinfo")
    is_relay = target.origin == _relay_origin(relay_origin)
    if not is_relay:
        if target.ip is not None:
            check_address(target.ip)
        else:
            _check_name(target.host)
    return target, is_relay


def check_address(ip: str | IPAddress) -> None:
    """Refuse every address that is not plainly public: loopback, private, shared (CGNAT),
    link-local (cloud metadata), multicast, reserved, unspecified, documentation and benchmark
    ranges, zone ids, and IPv6 forms that lead to one of these IPv4 addresses. Raises
    ``UnsafeURLError("private_address")`` (``"malformed"`` for a string that is no address)."""
    if isinstance(ip, str):
        try:
            ip = ipaddress.ip_address(ip.strip("[]"))
        except ValueError as err:
            raise UnsafeURLError("malformed") from err
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id is not None or any(ip in net for net in _REFUSED_IPV6):
            raise UnsafeURLError("private_address")
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_private:
        raise UnsafeURLError("private_address")


def check_image_link(url: str) -> str:
    """A starting-image link the RELAY will download: https only, at most 2048 characters, and
    the same refusals as :func:`check_url` (no relay exception: the relay fetching its own
    loopback is exactly the attack). Returns ``url`` unchanged; raises
    ``InputError("image_url", detail)`` with the :class:`UnsafeURLError` detail."""
    try:
        check_url(url, "", schemes=("https",), max_length=MAX_IMAGE_LINK_LENGTH)
    except UnsafeURLError as err:
        raise InputError("image_url", err.detail) from err
    return url


# ── Parsing ───────────────────────────────────────────────────────────────────────────────────


def _parse(url: str) -> tuple[Target, bool]:
    """(target, has_userinfo). Structure only: the safety rules are applied by the callers."""
    if not isinstance(url, str) or _BAD_CHARACTERS.search(url):
        raise UnsafeURLError("bad_characters")
    scheme_match = _SCHEME.match(url)
    if scheme_match is None or url[scheme_match.end() : scheme_match.end() + 2] != "//":
        raise UnsafeURLError("malformed")
    scheme = scheme_match.group(1).lower()
    rest = url[scheme_match.end() + 2 :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    has_userinfo = "@" in authority
    hostport = authority.rpartition("@")[2]
    host, port_text = _split_port(hostport)
    if not host:
        raise UnsafeURLError("no_host")
    host, ip = _canonical_host(host)
    port = _port(port_text, scheme)
    shown = f"[{host}]" if ":" in host else host
    return Target(scheme, host, port, f"{scheme}://{shown}:{port}", ip), has_userinfo


def _split_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):
        inside, bracket, after = hostport[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            raise UnsafeURLError("malformed")
        return f"[{inside}]", after[1:] if after else ""
    host, colon, port_text = hostport.partition(":")
    if colon and ":" in port_text:
        raise UnsafeURLError("malformed")  # IPv6 without brackets, or two ports
    return host, port_text


def _port(text: str, scheme: str) -> int:
    if not text:  # "http://host:/" means the default port, as with no colon at all
        if scheme not in DEFAULT_PORTS:
            raise UnsafeURLError("malformed")
        return DEFAULT_PORTS[scheme]
    if not (text.isascii() and text.isdigit()) or len(text) > 5 or not 0 < int(text) < 65536:
        raise UnsafeURLError("malformed")
    return int(text)


def _canonical_host(host: str) -> tuple[str, IPAddress | None]:
    if host.startswith("["):
        inside = host[1:-1]
        if "%" in inside:
            raise UnsafeURLError("private_address")  # a zone id: a link-local scope
        try:
            ip6 = ipaddress.IPv6Address(inside)
        except ValueError as err:
            raise UnsafeURLError("malformed") from err
        return ip6.compressed, ip6
    if "%" in host:
        # Percent-encoded hosts are decoded by some fetchers ("127%2E0%2E0%2E1") and not by
        # others: refusing them keeps every reader in agreement.
        raise UnsafeURLError("malformed")
    if not host.isascii():
        host = _ascii_name(host)
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # The WHATWG rule: a host whose last label is a number is an IPv4 address or invalid.
        ip4 = _inet_aton(labels)
        if ip4 is None:
            raise UnsafeURLError("malformed")
        return str(ip4), ip4
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UnsafeURLError("malformed")
    return host, None


def _ascii_name(host: str) -> str:
    """An internationalised name as resolvers see it: UTS 46 mapping first (full-width letters
    and digits, the ideographic full stop "。" → "."), then each label in its xn-- form. Without
    the mapping, "１２７。０。０。１" would slip past the numeric check."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        return ".".join(
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError, ValueError) as err:
        raise UnsafeURLError("malformed") from err


def _inet_aton(labels: list[str]) -> ipaddress.IPv4Address | None:
    """The address ``inet_aton`` (and so ``getaddrinfo``) reads from 1–4 numeric parts, each
    decimal, octal (leading 0) or hex (0x): "2130706433", "0x7f.1", "0177.0.0.1", "127.1"."""
    if not 1 <= len(labels) <= 4:
        return None
    numbers = []
    for label in labels:
        if label[:2] in ("0x", "0X"):
            digits, base = label[2:] or "0", 16
        elif len(label) > 1 and label.startswith("0"):
            digits, base = label[1:], 8
        else:
            digits, base = label, 10
        try:
            numbers.append(int(digits, base))
        except ValueError:
            return None
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (4 - len(head)):
        return None
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if any(ip in net for net in _EMBEDS_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour  # 2002::/16 carries its relay's IPv4 address in bits 16–47


def _check_name(host: str) -> None:
    if "." not in host or host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        raise UnsafeURLError("local_name")  # names that only a local resolver answers


def _relay_origin(relay_origin: str) -> str | None:
    if not relay_origin:
        return None
    try:
        return origin_of(relay_origin)
    except UnsafeURLError:
        return None  # a relay address that cannot be read matches nothing
