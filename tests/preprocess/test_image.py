"""Images: pass-through when fine, re-encoded/rotated/downscaled when not, refused when bad."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from preprocess.errors import InvalidMedia, MediaTooLarge
from preprocess.image import normalize_image
from tests.media import eps, png_claiming

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


@pytest.fixture
def fake_ghostscript(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `gs` first on PATH that leaves a marker when run; Pillow forgets any gs it found."""
    from PIL import EpsImagePlugin

    marker = tmp_path / "gs-ran"
    gs = tmp_path / "bin" / "gs"
    gs.parent.mkdir()
    gs.write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    gs.chmod(0o755)
    monkeypatch.setenv("PATH", f"{gs.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", None)
    return marker


@pytest.mark.parametrize("mime", ["application/octet-stream", "image/x-eps", "image/png"])
def test_eps_is_refused_and_ghostscript_never_runs(fake_ghostscript: Path, mime: str) -> None:
    """Issue 8, class 3: Pillow's EPS plugin ran `gs` on the client's PostScript."""
    with pytest.raises(InvalidMedia, match="PNG, JPEG, WebP, GIF, BMP or TIFF") as err:
        normalize_image(eps(), mime, param=P)
    assert err.value.status == 400 and err.value.param == P
    assert not fake_ghostscript.exists()


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_the_other_accepted_formats_become_jpeg(fmt: str) -> None:
    out = normalize_image(encode(Image.new("RGB", (30, 20), "red"), fmt), "image/" + fmt.lower())
    assert (out.mime, out.width, out.height) == ("image/jpeg", 30, 20)


MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "LA", "PA",
         "I;16", "I;16B", "RGBX", "La", "RGBa"]  # fmt: skip
FORMATS = ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"]


def test_a_16_bit_png_much_wider_than_the_limit_is_downscaled() -> None:
    """Issue 8, class 7: thumbnail() raised "image has wrong mode" (a 500)."""
    wide = Image.fromarray(np.full((40, 5000), 40000, dtype=np.uint16))
    out = normalize_image(encode(wide, "PNG"), "image/png", max_side=1536)
    decoded = Image.open(io.BytesIO(out.data))
    assert (out.width, out.height) == decoded.size == (1536, 12)
    assert 150 <= decoded.convert("L").getpixel((5, 5)) <= 160  # 40000 / 257


def test_a_pa_tiff_becomes_png_keeping_alpha() -> None:
    """Issue 8, class 7: a PA image cannot be saved as PNG or JPEG without conversion."""
    out = normalize_image(encode(Image.new("PA", (20, 10)), "TIFF"), "image/tiff")
    assert out.mime == "image/png" and Image.open(io.BytesIO(out.data)).mode == "RGBA"


@settings(max_examples=150, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    fmt=st.sampled_from(FORMATS),
    width=st.integers(1, 2500),
    height=st.integers(1, 40),
    tall=st.booleans(),
    transparency=st.booleans(),
)
def test_any_mode_size_and_format_is_normalized_or_refused(
    mode: str, fmt: str, width: int, height: int, tall: bool, transparency: bool
) -> None:
    """Whatever Pillow can write in an accepted format comes out as 8-bit PNG/JPEG within
    max_side, or is InvalidMedia; never another exception (a 500)."""
    size = (height, width) if tall else (width, height)
    try:
        img = Image.linear_gradient("L").resize(size).convert(mode)
    except ValueError:  # no conversion to this mode: one colour will do
        img = Image.new(mode, size)
    try:
        data = encode(img, fmt, **({"transparency": 0} if transparency else {}))
    except (OSError, ValueError, KeyError, TypeError):
        assume(False)  # Pillow cannot write this mode in this format
    try:
        out = normalize_image(data, "application/octet-stream", max_side=64)
    except InvalidMedia:
        return
    decoded = Image.open(io.BytesIO(out.data))
    assert decoded.format in ("PNG", "JPEG") and out.mime == f"image/{decoded.format.lower()}"
    assert decoded.size == (out.width, out.height) and max(decoded.size) <= max(64, *size)
    if out.data != data:  # re-encoded: within the limit and in a mode every backend reads
        assert max(decoded.size) <= 64 and decoded.mode in ("RGB", "RGBA", "L", "LA")


def _seeds() -> list[bytes]:
    """One small image per accepted format, with an EXIF orientation where it can carry one."""
    exif = Image.Exif()
    exif[0x0112] = 6
    gradient = Image.linear_gradient("L").resize((48, 24))
    cases = [("PNG", "RGB"), ("JPEG", "RGB"), ("TIFF", "RGB"), ("GIF", "P"), ("WEBP", "RGBA"),
             ("BMP", "RGB"), ("TIFF", "I;16"), ("PNG", "LA")]  # fmt: skip
    return [
        encode(gradient.convert(mode), fmt, **({} if fmt in ("GIF", "BMP") else {"exif": exif}))
        for fmt, mode in cases
    ]


SEEDS = _seeds()


@settings(max_examples=300, deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    flips=st.lists(
        st.tuples(st.one_of(st.integers(0, 255), st.integers(0, 10**6)), st.integers(0, 255)),
        max_size=8,
    ),
    keep=st.floats(0.05, 1.0),
)
def test_corrupted_images_are_normalized_or_invalid_media(
    seed: bytes, flips: list[tuple[int, int]], keep: float
) -> None:
    """Flipped bytes and cut-off files, in headers, EXIF or pixel data: a normalized image or
    InvalidMedia, never another exception (corrupt EXIF raised SyntaxError from getexif).
    Half the flips land in the first 256 bytes, where headers and EXIF are."""
    data = bytearray(seed)
    for where, byte in flips:
        data[where % len(data)] = byte
    cut = bytes(data[: max(1, int(keep * len(data)))])
    try:
        out = normalize_image(cut, "application/octet-stream")
    except InvalidMedia:
        return
    assert Image.open(io.BytesIO(out.data)).format in ("PNG", "JPEG")


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP", "PNG", "TIFF"])
def test_corrupt_exif_is_invalid_media_not_a_500(fmt: str) -> None:
    """EXIF is parsed after the pixels are decoded; a broken EXIF header raised SyntaxError."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(Image.new("RGB", (16, 8)), fmt, exif=exif)
    at = max(data.rfind(b"II*\x00"), data.rfind(b"MM\x00*"))
    assert at >= 0
    broken = data[:at] + b"\xb2" + data[at + 1 :]
    try:
        out = normalize_image(broken, "application/octet-stream")
    except InvalidMedia:
        return
    assert out.mime in ("image/png", "image/jpeg")
