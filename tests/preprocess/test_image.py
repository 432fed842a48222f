"""Images: pass-through when fine, re-encoded/rotated/downscaled when not, refused when bad."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from preprocess.errors import InvalidMedia, MediaTooLarge
from preprocess.image import normalize_image
from tests.media import png_claiming

P = "messages[0].content[1].image_url.url"


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_png_and_jpeg_that_need_nothing_pass_through_unchanged() -> None:
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        data = encode(Image.new("RGB", (64, 32), "red"), fmt)
        out = normalize_image(data, mime)
        assert (out.data, out.mime, out.width, out.height) == (data, mime, 64, 32)


def test_webp_becomes_jpeg_and_webp_with_alpha_becomes_png() -> None:
    out = normalize_image(encode(Image.new("RGB", (40, 20), "blue"), "WEBP"), "image/webp")
    assert out.mime == "image/jpeg" and Image.open(io.BytesIO(out.data)).format == "JPEG"
    rgba = Image.new("RGBA", (40, 20), (0, 0, 255, 128))
    out = normalize_image(encode(rgba, "WEBP", lossless=True), "image/webp")
    assert out.mime == "image/png" and Image.open(io.BytesIO(out.data)).mode == "RGBA"


def test_large_images_are_downscaled_keeping_aspect() -> None:
    out = normalize_image(encode(Image.new("RGB", (4000, 1000)), "PNG"), "image/png", max_side=1000)
    assert (out.width, out.height) == (1000, 250)
    assert Image.open(io.BytesIO(out.data)).size == (1000, 250)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (60, 20), "green")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    out = normalize_image(encode(img, "JPEG", exif=exif.tobytes()), "image/jpeg")
    assert (out.width, out.height) == (20, 60)
    assert Image.open(io.BytesIO(out.data)).getexif().get(0x0112, 1) == 1


def test_a_png_claiming_60000x60000_is_refused_without_decoding() -> None:
    bomb = png_claiming(60000, 60000)
    assert len(bomb) < 200
    started = time.process_time()
    with pytest.raises(MediaTooLarge, match="60000x60000") as err:
        normalize_image(bomb, "image/png", param=P)
    assert err.value.status == 413 and err.value.param == P
    assert time.process_time() - started < 1.0  # refused from the header, not decoded


@pytest.mark.parametrize(
    ("data", "mime", "says"),
    [
        (b"\x00" * 100, "image/png", "not a PNG, JPEG"),
        (b"GIF89a" + b"\xff" * 10, "image/gif", "not a PNG, JPEG"),
        (encode(Image.new("RGB", (64, 64), "red"), "JPEG")[:300], "image/jpeg", "truncated"),
        (
            encode(Image.new("RGB", (8, 8)), "JPEG"),
            "image/png",
            "says image/png but the bytes are JPEG",
        ),
        (encode(Image.new("RGB", (8, 8)), "PNG"), "image/webp", "says image/webp"),
    ],
    ids=["random bytes", "broken gif", "truncated jpeg", "lying mime", "lying mime 2"],
)
def test_bad_images_are_400s_naming_the_part(data: bytes, mime: str, says: str) -> None:
    with pytest.raises(InvalidMedia, match=says) as err:
        normalize_image(data, mime, param=P)
    assert err.value.status == 400 and err.value.param == P


def test_jpg_alias_is_not_a_lie() -> None:
    data = encode(Image.new("RGB", (8, 8)), "JPEG")
    assert normalize_image(data, "image/jpg").data == data
