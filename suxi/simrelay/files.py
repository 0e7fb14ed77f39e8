"""The relay's "CDN": files served at ``/files/<name>``, with byte ranges."""

from __future__ import annotations

import base64
from pathlib import Path

from .conn import Conn, head, not_found
from .steps import RecordedRequest

DEFAULT_VIDEO = Path(__file__).resolve().parent.parent.parent / "assets" / "sample.mp4"
FILE_CHUNK = 64 * 1024

# 160x90 frame of sample.mp4 (see assets/README.md); embedded so the demo needs one asset only.
THUMB_WEBP = base64.b64decode(
    "UklGRkACAABXRUJQVlA4IDQCAACQDQCdASqgAFoAPu1wrVCpvi4iqjUa68AdiUAaIMkrz9DqZSR7"
    "6rxAuIHe7FOT0eAeAlc9PdcGbTLzmSvgodTXiNYIBQ3+SI+sqQOHBqhvjbsejJ/F1XQKMp+Njugf"
    "VlIbwiEqzlVFJjcb80+EZ6F5GJPLwAAA/q4DWDQ/4Dz15yhsRgiZgSKgEEk9xhfj0foDCYRSF2oL"
    "htl1rORlmQ6Ad2vpAf9LXvnLUxA150u97fZIJ3IACLaH2jJsIQC1RW5YkdiUVKW1WiUkxzz4/ORH"
    "1H8aLAvDDDGp7G0wnkFl1nQcetvmxSjxXyPAKZetTlBVs1j6IZtZXTRqS3jk8eeX3x1e5/tlEkZf"
    "tYI0h2pM9G1Z3cN5PMYGGuNs1gjPsrurmSiJ7xLXZzKh51uqOBT5W0g600LexdMQ8pcOMFzhHlsQ"
    "vskVCN0LbtKdmCfCz4SzfxoV6plI8vSxzWri0qqWj6vIbBrkodGXUGinIj69Tdt0hLT0K9isgP3A"
    "zwFLTWhxNf5nFAno3nS+aeUCROly/OYmy6UfN1cAn7nAA1T2YPlE03e+lOg2cYIwXtyHOKPmJUDB"
    "irB3A+8MwEwUdVE7GXIHAuYAJlNF3dJqyTVAl2G0Y9BYA2LStydVi6is/z1IzU12FPq/dYYlGRR7"
    "Eig6y0P7EVzIev9gpymuDwkzMgVDL5h0/SDklE561QaRuxF5GXEikBXhYctQBh8p5inCJM6EGJw7"
    "nTHCHIb25zFcAAAAAAA="
)

CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".webp": "image/webp",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}


async def send(conn: Conn, req: RecordedRequest, name: str, src: bytes | Path | None) -> None:
    """Serve ``src`` (bytes or a file on disk) as ``name``, honouring one byte range."""
    try:
        size = len(src) if isinstance(src, bytes) else src.stat().st_size  # type: ignore[union-attr]
    except (AttributeError, OSError):
        await conn.respond(404, not_found())
        return
    ctype = CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")
    start, end, status = 0, size - 1, 200
    extra: list[tuple[str, str]] = [("Accept-Ranges", "bytes")]
    spec = req.headers.get("range", "")
    if spec.startswith("bytes=") and "," not in spec:
        first, _, last = spec[len("bytes=") :].partition("-")
        try:
            if first:
                start, end = int(first), min(int(last) if last else size - 1, size - 1)
            else:
                start, end = max(size - int(last), 0), size - 1
        except ValueError:
            start, end = size, 0
        if start > end or start >= size:
            await conn.respond(416, b"", "", (("Content-Range", f"bytes */{size}"),))
            return
        status = 206
        extra.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    length = end - start + 1
    headers = [("Content-Type", ctype), ("Content-Length", str(length)), ("Connection", "close")]
    if conn.head_only or length == 0:
        conn.finish()
    if not await conn.write(head(status, headers + extra)) or conn.head_only or length == 0:
        return
    if isinstance(src, bytes):
        for offset in range(start, end + 1, FILE_CHUNK):
            stop = min(offset + FILE_CHUNK, end + 1)
            if stop > end:
                conn.finish()
            if not await conn.write(src[offset:stop]):
                return
        return
    # Plain blocking reads: 64 kB from the page cache takes microseconds, far less than a
    # thread hop, and the file is never held whole in memory.
    with open(src, "rb") as f:  # type: ignore[arg-type]
        f.seek(start)
        remaining = length
        while remaining > 0:
            piece = f.read(min(FILE_CHUNK, remaining))
            if not piece:
                conn.close(abort=True)  # the file shrank under us
                return
            remaining -= len(piece)
            if remaining == 0:
                conn.finish()
            if not await conn.write(piece):
                return
