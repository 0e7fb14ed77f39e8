"""Starting frames for image-to-video: real pictures made with Pillow, decoded back."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from suxi import images, urlgate
from suxi.errors import InputError
from suxi.images import check_image_url, prepare_image
from suxi.texts import TABLE


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode(url: str) -> tuple[str, bytes, Image.Image]:
    head, _, body = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    raw = base64.b64decode(body, validate=True)
    return head[len("data:") : -len(";base64")], raw, Image.open(io.BytesIO(raw))


def noisy(size: tuple[int, int]) -> Image.Image:
    """Hard to compress: colour noise, made small and scaled up (cheap to generate)."""
    small = (max(size[0] // 4, 1), max(size[1] // 4, 1))
    channels = [Image.effect_noise(small, 90) for _ in range(3)]
    return Image.merge("RGB", channels).resize(size, Image.Resampling.BILINEAR)


def kind_of(source, **kw) -> str:
    with pytest.raises(InputError) as info:
        prepare_image(source, **kw)
    return info.value.kind


def png_header_only(width: int, height: int) -> bytes:
    """A tiny valid-looking PNG that claims a huge size: a decompression bomb's header."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(tag + data))
        return struct.pack(">I", len(data)) + tag + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def big_jpeg() -> bytes:
    return encode(noisy((6000, 4000)), "JPEG", quality=90)


# ------------------------------------------------------------------------------ size limits


def test_large_photo_fits_the_byte_and_side_limits(big_jpeg):
    assert len(big_jpeg) > 1_500_000
    mime, raw, out = decode(prepare_image(big_jpeg))
    assert mime == "image/jpeg" and out.format == "JPEG"
    assert len(raw) <= 1_500_000
    assert max(out.size) == 2048
    assert out.size[0] / out.size[1] == pytest.approx(1.5, rel=0.01)


def test_a_tight_byte_limit_shrinks_the_picture(big_jpeg, tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(big_jpeg)
    mime, raw, out = decode(prepare_image(path, max_bytes=120_000, max_side=1600))
    assert mime == "image/jpeg"
    assert len(raw) <= 120_000
    assert max(out.size) < 1600  # quality 40 was not enough: the dimensions went down too


def test_small_pictures_are_not_enlarged(tmp_path):
    path = tmp_path / "small.png"
    path.write_bytes(encode(Image.new("RGB", (320, 200), (10, 200, 30)), "PNG"))
    mime, _raw, out = decode(prepare_image(str(path)))
    assert mime == "image/jpeg"  # no transparency: JPEG
    assert out.size == (320, 200)
    r, g, b = out.convert("RGB").getpixel((160, 100))
    assert abs(r - 10) < 8 and abs(g - 200) < 8 and abs(b - 30) < 8


# ------------------------------------------------------------------- orientation and metadata


def test_exif_orientation_is_applied():
    # Stored tall: red on top, blue below. Orientation 6 means "rotate 90° clockwise to show",
    # so the picture people see is wide with red on the right.
    stored = Image.new("RGB", (300, 600), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 300, 300))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    _mime, _raw, out = decode(prepare_image(encode(stored, "JPEG", exif=exif.tobytes())))
    assert out.size == (600, 300)
    assert out.getpixel((450, 150))[0] > 200  # right half red
    assert out.getpixel((150, 150))[2] > 200  # left half blue
    assert out.getexif().get(ExifTags.Base.Orientation) is None


def test_gps_exif_comments_and_profiles_are_stripped():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCamMaker"
    exif[ExifTags.Base.Orientation] = 1
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    photo = encode(
        noisy((800, 600)),
        "JPEG",
        exif=exif.tobytes(),
        comment=b"secret-comment",
    )
    source = Image.open(io.BytesIO(photo))
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has a position
    assert b"SpyCamMaker" in photo and b"secret-comment" in photo

    _mime, raw, out = decode(prepare_image(photo))
    assert not out.getexif()
    assert "exif" not in out.info and "comment" not in out.info and "icc_profile" not in out.info
    for needle in (b"Exif", b"SpyCamMaker", b"secret-comment", b"GPS"):
        assert needle not in raw


def test_colour_profile_is_applied_then_dropped():
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = encode(Image.new("RGB", (120, 80), (200, 30, 60)), "JPEG", icc_profile=srgb)
    assert Image.open(io.BytesIO(photo)).info.get("icc_profile")
    _mime, _raw, out = decode(prepare_image(photo))
    assert "icc_profile" not in out.info
    r, g, b = out.getpixel((60, 40))
    assert abs(r - 200) < 10 and abs(g - 30) < 10 and abs(b - 60) < 10


def test_png_text_and_exif_are_stripped_too():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "secret-author")
    picture = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    picture.paste((255, 255, 0, 255), (0, 0, 100, 100))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "SpyCamMaker"
    source = encode(picture, "PNG", pnginfo=info, exif=exif.tobytes())
    assert b"secret-author" in source
    mime, raw, out = decode(prepare_image(source))
    assert mime == "image/png"
    assert b"secret-author" not in raw and b"SpyCamMaker" not in raw
    assert not out.getexif() and not getattr(out, "text", {})


# --------------------------------------------------------------------------- transparency


def test_transparent_png_stays_png_with_its_alpha():
    picture = Image.new("RGBA", (400, 300), (255, 0, 0, 0))
    picture.paste((0, 128, 255, 255), (100, 100, 300, 200))
    mime, _raw, out = decode(prepare_image(encode(picture, "PNG")))
    assert mime == "image/png" and out.format == "PNG" and out.mode == "RGBA"
    assert out.getpixel((10, 10))[3] == 0
    assert out.getpixel((200, 150)) == (0, 128, 255, 255)


def test_opaque_alpha_channel_becomes_jpeg():
    picture = Image.new("RGBA", (300, 200), (40, 50, 60, 255))
    mime, _raw, out = decode(prepare_image(encode(picture, "PNG")))
    assert mime == "image/jpeg" and out.mode == "RGB"


def test_large_transparent_png_is_shrunk_to_fit():
    picture = noisy((1500, 1000)).convert("RGBA")
    picture.putalpha(Image.effect_noise((1500, 1000), 90))
    source = encode(picture, "PNG")
    assert len(source) > 400_000
    mime, raw, out = decode(prepare_image(source, max_bytes=400_000))
    assert mime == "image/png" and out.mode == "RGBA"
    assert len(raw) <= 400_000 and out.size[0] < 1500


# -------------------------------------------------------------------------------- formats


def test_gif_first_frame_with_transparency():
    frames = [Image.new("P", (64, 64), 1), Image.new("P", (64, 64), 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
    frames[0].paste(0, (0, 0, 32, 64))  # left half transparent (index 0)
    gif = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], transparency=0)
    mime, _raw, out = decode(prepare_image(gif))
    assert mime == "image/png"
    assert out.getpixel((10, 10))[3] == 0
    assert out.getpixel((50, 10)) == (255, 0, 0, 255)  # frame 1 is red, frame 2 green


@pytest.mark.parametrize(("fmt", "options"), [("WEBP", {"quality": 90}), ("BMP", {})])
def test_webp_and_bmp_are_accepted(fmt, options):
    mime, _raw, out = decode(prepare_image(encode(noisy((500, 400)), fmt, **options)))
    assert mime == "image/jpeg" and out.size == (500, 400)


def test_cmyk_and_grayscale_become_rgb():
    for mode, colour in (("CMYK", (0, 255, 255, 0)), ("L", 128)):
        _mime, _raw, out = decode(prepare_image(encode(Image.new(mode, (64, 64), colour), "JPEG")))
        assert out.mode == "RGB"


def test_sixteen_bit_png_is_scaled_not_clipped():
    row = struct.pack("<32H", *[32768] * 32) + struct.pack("<32H", *[0] * 32)
    picture = Image.frombytes("I;16", (64, 32), row * 32)
    assert picture.getpixel((10, 10)) == 32768
    _mime, _raw, out = decode(prepare_image(encode(picture, "PNG")))
    assert 120 < out.getpixel((10, 10))[0] < 136
    assert out.getpixel((50, 10))[0] < 8


# --------------------------------------------------------------------------------- refusals


def test_text_file_is_unreadable(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n" * 20)
    assert kind_of(path) == "image_unreadable"


def test_truncated_jpeg_is_unreadable():
    photo = encode(noisy((800, 600)), "JPEG", quality=90)
    assert kind_of(photo[: len(photo) // 2]) == "image_unreadable"


@pytest.mark.parametrize("source", [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a"])
def test_empty_and_header_only_bytes_are_unreadable(source):
    assert kind_of(source) == "image_unreadable"


def test_missing_file_and_directory_are_unreadable(tmp_path):
    assert kind_of(tmp_path / "nope.png") == "image_unreadable"
    assert kind_of(tmp_path) == "image_unreadable"


@pytest.mark.parametrize(("fmt", "options"), [("TIFF", {}), ("ICO", {}), ("PPM", {})])
def test_other_formats_pillow_knows_are_refused(fmt, options):
    assert kind_of(encode(Image.new("RGB", (32, 32)), fmt, **options)) == "image_unreadable"


def test_file_over_the_hard_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.jpg"
    with path.open("wb") as f:  # sparse: the size is real, the disk is not used
        f.truncate(images.MAX_INPUT_BYTES + 1)
    assert kind_of(path) == "image_too_large"
    assert kind_of(b"\xff" * 2001, max_input_bytes=2000) == "image_too_large"


def test_decompression_bomb_is_refused_from_its_header():
    assert kind_of(png_header_only(100_000, 100_000)) == "image_too_large"
    assert kind_of(png_header_only(9_000, 9_000)) == "image_too_large"  # 81 MP > 80 MP


def test_pillows_own_bomb_guard_is_reported_as_too_large(monkeypatch):
    monkeypatch.setattr(images, "MAX_PIXELS", 10**12)
    assert kind_of(png_header_only(20_000, 20_000)) == "image_too_large"


def test_nonsense_limits_are_a_programming_error():
    with pytest.raises(ValueError):
        prepare_image(b"x", max_bytes=10)


# ------------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/frames/cat.png",
        "https://cdn.example.com/raw?se=2026-01-01&sig=abc%2Fdef&sp=r",
        "https://图片.example.cn/猫.jpg",
    ],
)
def test_plain_https_urls_pass_unchanged(url):
    assert check_image_url(url) is url


@pytest.mark.parametrize(
    "url",
    [
        "http://cdn.example.com/cat.png",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://cdn.example.com/cat.png",
        "https://user:secret@cdn.example.com/cat.png",
        "https://user@cdn.example.com/cat.png",
        "https://cdn.example.com/" + "a" * 3000,
        "https://cdn.example.com/a cat.png",
        " https://cdn.example.com/cat.png",
        "https://cdn.example.com/cat.png\n",
        "https://cdn.example.com/\x00.png",
        "https:\\\\cdn.example.com\\cat.png",
        "https://",
        "https://localhost/cat.png",
        "https://127.0.0.1/cat.png",
        "https://10.0.0.7/cat.png",
        "https://169.254.169.254/latest/meta-data",
        "",
    ],
)
def test_other_urls_are_refused(url):
    with pytest.raises(InputError) as info:
        check_image_url(url)
    assert info.value.kind == "image_url"


def test_url_length_limit_is_inclusive():
    url = "https://cdn.example.com/"
    url += "a" * (urlgate.MAX_IMAGE_LINK_LENGTH - len(url))
    assert check_image_url(url) == url
    with pytest.raises(InputError):
        check_image_url(url + "a")


def test_every_image_kind_has_an_english_and_a_chinese_sentence():
    for kind in ("image_unreadable", "image_too_large", "image_url", "image_needs_link"):
        assert set(TABLE[kind]) == {"en", "zh"}
