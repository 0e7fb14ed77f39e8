"""Keeping a copy of what the relay made: the video (and its thumbnail), streamed to disk.

Relay links expire within hours, so the copy is taken as soon as the link arrives. Every hop
(redirects, and a content endpoint that answers JSON naming the real link) passes the URL gate
again; the key goes only to the relay's own origin; the size cap holds while streaming; free disk
is checked first, so a full disk fails the job with a clear message instead of a broken file.
"""

from __future__ import annotations

import asyncio
import errno
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import (
    DiskFullError,
    DownloadError,
    LinkExpiredError,
    SuxiError,
    TooLargeError,
    UnsafeURLError,
)
from ..urlgate import check_url
from .http import RelayHTTP, parse_json, read_capped, translating

MAX_HOPS = 5
BLOCK = 256 * 1024
MAX_THUMBNAIL = 10 * 1024 * 1024
LINK_FIELDS = ("video_url", "url", "download_url", "output_url", "result_url")


@dataclass(frozen=True)
class Download:
    path: Path
    size: int
    content_type: str


async def fetch_file(
    http: RelayHTTP,
    url: str,
    dest: Path,
    *,
    key: str | None = None,
    picture: bool = False,
) -> Download:
    """Stream ``url`` to ``dest`` (written as ``dest.part``, renamed when whole)."""
    s = http.settings
    cap = MAX_THUMBNAIL if picture else s.max_video_bytes
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        async with translating(download=True), asyncio.timeout(s.download_timeout):
            for _ in range(MAX_HOPS + 1):
                _target, is_relay = check_url(url, http.origin)
                headers = http.auth(url, key) if is_relay else {}
                async with http.client.stream(
                    "GET", url, headers=headers, timeout=http.timeout()
                ) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers.get("location", "")))
                        continue
                    status = response.status_code
                    if status in (401, 403, 410):
                        raise LinkExpiredError(f"HTTP {status}", status=status)
                    if status >= 400:
                        raise DownloadError(f"HTTP {status}", status=status)
                    ctype = response.headers.get("content-type", "").lower()
                    if "json" in ctype:  # a content endpoint naming the real link
                        url = _link_in(
                            await read_capped(response, 64 * 1024, overflow_is_error=True)
                        )
                        continue
                    if ctype.startswith("text/") or (picture and not ctype.startswith("image/")):
                        raise DownloadError("not_video", relay_text=ctype)
                    declared = int(response.headers.get("content-length") or 0)
                    if declared > cap:
                        raise TooLargeError("declared")
                    _check_disk(dest.parent, declared, s.min_free_bytes)
                    size = await _write(response, part, cap)
                    if size == 0:
                        raise DownloadError("empty")
                    part.replace(dest)
                    return Download(dest, size, ctype)
            raise UnsafeURLError("redirects")
    except TimeoutError as err:
        part.unlink(missing_ok=True)
        raise DownloadError("timeout") from err
    except SuxiError:
        part.unlink(missing_ok=True)
        raise


def _link_in(raw: bytes) -> str:
    data = parse_json(raw, cap=64 * 1024)
    for scope in (data, data.get("data") if isinstance(data, dict) else None):
        if isinstance(scope, dict):
            for name in LINK_FIELDS:
                if isinstance(scope.get(name), str) and scope[name]:
                    return scope[name]
    raise DownloadError("no_link")


def _check_disk(folder: Path, declared: int, reserve: int) -> None:
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return  # unknown: the write itself will tell
    if free - declared < reserve:
        raise DiskFullError("free", relay_text="")


async def _write(response, part: Path, cap: int) -> int:
    size = 0
    try:
        with part.open("wb") as out:
            async for block in response.aiter_bytes(BLOCK):
                size += len(block)
                if size > cap:
                    raise TooLargeError("streamed")
                out.write(block)  # 256 KiB into the page cache: microseconds, no thread hop
    except OSError as err:
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFullError("write") from err
        raise DownloadError("write") from err
    return size
