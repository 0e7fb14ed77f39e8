"""A starting frame for image-to-video: a local picture becomes a small ``data:`` URL, a remote
one must be a plain ``https://`` address (the relay fetches it, we never do).

The relay takes the picture as an ``image_url`` content part (docs/relay-protocol.md, "Chat
format"); some upstreams accept only the data-URL form, so a local file is always inlined.

Limits of :func:`prepare_image` (defaults):

* **Input file**: at most 30 MB (``MAX_INPUT_BYTES``), checked before anything is decoded.
* **Input picture**: at most 80 megapixels (``MAX_PIXELS``, e.g. 10 000 × 8 000), read from the
  file header before decoding; larger pictures — and decompression bombs, a tiny file that
  claims a huge picture — are refused as ``image_too_large``.
* **Accepted types**: JPEG (including the MPO variant phone cameras write), PNG, WebP, GIF (the
  first frame) and BMP; AVIF and HEIC/HEIF only when the installed Pillow can open them.
  Anything else (TIFF, SVG, PDF, …) is ``image_unreadable``. The content decides, not the file
  name.
* **Output**: the EXIF orientation is applied (a phone photo comes out the way it is shown), an
  embedded colour profile is converted to sRGB, the longest side is scaled down to 2048 pixels
  (``max_side``; smaller pictures are never enlarged), and the result is re-encoded as JPEG at
  the best quality from 90 down to 40 that fits in 1.5 MB (``max_bytes``, counted before base64,
  which adds a third); if quality 40 is still too big, the picture is made smaller until it fits.
  A picture with real transparency stays PNG (``data:image/png``) and is made smaller until it
  fits; an alpha channel that is fully opaque is dropped and the picture becomes JPEG.
* **Metadata**: none survives. EXIF (GPS position, camera, time), XMP, comments, text chunks and
  colour profiles are not copied to the output.

Limits of :func:`check_image_url`: ``https://`` only, at most 2048 characters, no user name or
password, no spaces or control characters, and a public host name (not ``localhost`` nor a
private or loopback address, which the relay could not reach anyway).

Errors are :class:`suxi.errors.InputError` with kind ``image_unreadable`` (not an image, corrupt,
truncated or of an unsupported type), ``image_too_large`` (over the file or pixel limit, or no
size fits ``max_bytes``) or ``image_url`` (a refused URL). Nothing is ever sent in those cases.
"""

from __future__ import annotations

import base64
import contextlib
import io
import struct
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: profiles are then dropped unconverted
    ImageCms = None  # type: ignore[assignment]

from . import urlgate
from .errors import InputError, UnsafeURLError
from .pinned import system_resolver

MAX_INPUT_BYTES = 30 * 1024 * 1024
MAX_PIXELS = 80_000_000
MIN_SIDE = 64  # below this a starting frame is useless: give up instead of shrinking further
JPEG_QUALITIES = (90, 82, 74, 66, 58, 50, 40)
SHRINK_QUALITIES = (82, 70, 58, 46, 40)  # after the first shrink: fewer, cheaper attempts

BASE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")  # JPEG also opens MPO (phone cameras)
OPTIONAL_FORMATS = ("AVIF", "HEIF")  # only if the installed Pillow (or a plugin) opens them

# ------------------------------------------------------------------------------------ URLs


def check_image_url(url: str) -> str:
    """Return ``url`` unchanged if the relay may be given it, else raise InputError: a public
    https link (every numeric form of a private address is refused; docs/hostile-input.md)."""
    if not isinstance(url, str):
        raise InputError("image_url", "type")
    return urlgate.check_image_link(url)


async def check_image_host(url: str) -> None:
    """The link's host must not resolve to a private address either (the relay fetches it, and
    must not be pointed at its own network). A name that does not resolve here is left to the
    relay, which says so itself."""
    host = urlgate.check_url(url, "", schemes=("https",))[0].host
    try:
        addresses = await system_resolver(host, 443)
    except OSError:
        return
    for address in addresses:
        try:
            urlgate.check_address(address)
        except UnsafeURLError as err:
            raise InputError("image_url", err.detail) from err


# ---------------------------------------------------------------------------------- pictures


def accepted_formats() -> tuple[str, ...]:
    """The formats Pillow may try; MPO is not among them (the JPEG opener returns it)."""
    Image.init()
    return tuple(f for f in BASE_FORMATS + OPTIONAL_FORMATS if f in Image.OPEN)


def prepare_image(
    source: str | Path | bytes,
    *,
    max_bytes: int = 1_500_000,
    max_side: int = 2048,
    max_input_bytes: int = MAX_INPUT_BYTES,
) -> str:
    """A ``data:image/jpeg;base64,…`` URL (``image/png`` when the picture has transparency) of
    at most ``max_bytes`` encoded bytes and ``max_side`` pixels on its longest side."""
    if max_bytes < 1024 or max_side < MIN_SIDE:
        raise ValueError("max_bytes must be at least 1024 and max_side at least 64")
    data = _read(source, max_input_bytes)
    image = _decode(data, max_side)
    image, transparent = _normalise(image)
    if transparent:
        encoded = _fit_png(image, max_bytes)
        mime = "image/png"
    else:
        encoded = _fit_jpeg(image, max_bytes)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(encoded).decode('ascii')}"


def _read(source: str | Path | bytes, cap: int) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > cap:
            raise InputError("image_too_large", "file")
        return data
    path = Path(source)
    try:
        if not path.is_file():
            raise InputError("image_unreadable", "not_a_file")
        if path.stat().st_size > cap:  # refused before a byte is read
            raise InputError("image_too_large", "file")
        with path.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as err:
        raise InputError("image_unreadable", "io") from err
    if len(data) > cap:  # the file grew while we looked
        raise InputError("image_too_large", "file")
    return data


# Everything a corrupt or hostile file can make Pillow's decoders raise.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    ValueError,
    TypeError,
    SyntaxError,
    IndexError,
    KeyError,
    EOFError,
    struct.error,
)


def _decode(data: bytes, max_side: int) -> Image.Image:
    """Open, check type and size from the header, then decode (JPEG: at a reduced scale)."""
    if not data:
        raise InputError("image_unreadable", "empty")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            formats = accepted_formats()
            image = Image.open(io.BytesIO(data), formats=list(formats))
            width, height = image.size
            if width <= 0 or height <= 0:
                raise InputError("image_unreadable", "no_size")
            if width * height > MAX_PIXELS:
                raise InputError("image_too_large", "pixels")
            if image.format not in (*formats, "MPO"):
                raise InputError("image_unreadable", f"format {image.format}")
            if max(width, height) > max_side:
                # The bound is square, so scaling before the EXIF rotation is the same as after.
                # For JPEG this decodes at 1/2, 1/4 or 1/8 scale directly (draft mode).
                image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise InputError("image_too_large", "bomb") from err
        except MemoryError as err:
            raise InputError("image_too_large", "memory") from err
        except _DECODE_ERRORS as err:
            raise InputError("image_unreadable", type(err).__name__) from err
    return image


def _normalise(image: Image.Image) -> tuple[Image.Image, bool]:
    """Upright, sRGB, metadata-free RGB or RGBA; True when transparency must be kept."""
    with contextlib.suppress(*_DECODE_ERRORS):  # broken EXIF: keep the pixels as stored
        image = ImageOps.exif_transpose(image)
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    image = _to_srgb(image, "RGBA" if alpha else "RGB")
    if alpha:
        low, _high = image.getchannel("A").getextrema()
        if low == 255:  # an alpha channel that hides nothing
            image, alpha = image.convert("RGB"), False
    # A fresh image: no EXIF, XMP, comment, text chunk or ICC profile can ride along.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean, alpha


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    icc = image.info.get("icc_profile")
    if icc and ImageCms is not None:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.createProfile("sRGB")
            if image.mode not in ("RGB", "RGBA", "CMYK", "L"):
                image = image.convert(mode)
            converted = ImageCms.profileToProfile(image, source, srgb, outputMode=mode)
            if converted is not None:
                return converted
        except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
            pass  # a broken profile: fall back to the plain conversion
    if image.mode.startswith("I;16"):
        # 16 bits per sample (some PNGs): scale down to 8 bits; convert() would clip.
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return image.convert(mode)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _shrunk(image: Image.Image, size: int, max_bytes: int) -> Image.Image:
    factor = min(0.85, max(0.5, (max_bytes / size) ** 0.5 * 0.95))
    width, height = round(image.width * factor), round(image.height * factor)
    if max(width, height) < MIN_SIDE:
        raise InputError("image_too_large", "cannot_fit")
    return image.resize((max(width, 1), max(height, 1)), Image.Resampling.LANCZOS)


def _fit_jpeg(image: Image.Image, max_bytes: int) -> bytes:
    qualities = JPEG_QUALITIES
    while True:
        for quality in qualities:
            data = _encode(image, "JPEG", quality=quality, optimize=True)
            if len(data) <= max_bytes:
                return data
        image = _shrunk(image, len(data), max_bytes)
        qualities = SHRINK_QUALITIES


def _fit_png(image: Image.Image, max_bytes: int) -> bytes:
    while True:
        data = _encode(image, "PNG", compress_level=9)
        if len(data) <= max_bytes:
            return data
        image = _shrunk(image, len(data), max_bytes)
