"""Images: checked, oriented and sized before any backend sees them.

Only PNG, JPEG, WebP, GIF, BMP and TIFF are decoded (`ACCEPTED`): Pillow would otherwise
try every decoder it has, and some hand the bytes to another program (EPS and PostScript
run Ghostscript). Whatever the mode (16-bit, float, CMYK, palette with alpha, ...), what
leaves here is 8-bit PNG or JPEG, because backends differ in what they decode (LM Studio
fails on WebP). A PNG or JPEG that needs no change is passed through byte for byte.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from preprocess.errors import InvalidMedia, MediaTooLarge

# Pillow format name -> the MIME type a data URL may declare for it (MPO is a JPEG with
# extra frames, as phones write them).
ACCEPTED = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
_OPEN_FORMATS = tuple(f for f in ACCEPTED if f != "MPO")  # Pillow's JPEG plugin opens MPO
_NAMES = "PNG, JPEG, WebP, GIF, BMP or TIFF"
PASS_THROUGH = {"PNG": "image/png", "JPEG": "image/jpeg"}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
}
_ALPHA_MODES = ("RGBA", "LA", "PA", "La", "RGBa")
_ORIENTATION = 0x0112
# Pillow's own bomb guard is global, warns below 179 MP and raises without the size; the
# configurable `max_pixels` check below replaces it, before any pixel is decoded.
PILImage.MAX_IMAGE_PIXELS = None


@dataclass(frozen=True, slots=True)
class PreparedImage:
    data: bytes
    mime: str
    width: int
    height: int


def normalize_image(
    data: bytes,
    declared_mime: str,
    *,
    max_side: int = 1536,
    max_pixels: int = 50_000_000,
    param: str | None = None,
) -> PreparedImage:
    """Decode-check under a pixel limit, apply EXIF orientation, downscale, PNG/JPEG out.

    The size is read from the header before any pixel is decoded, so a small file that
    claims 60000x60000 is refused at once (413), never decoded (a decompression bomb).
    """
    img = _decoded(data, param, lambda im: _check_header(im, declared_mime, max_pixels, param))
    fmt = img.format or ""
    with _corrupt_is_invalid(param):  # EXIF is parsed only now, and may be corrupt
        rotated = img.getexif().get(_ORIENTATION, 1) not in (1, None)
        upright = ImageOps.exif_transpose(img) if rotated else img
    if fmt in PASS_THROUGH and not rotated and max(img.size) <= max_side:
        return PreparedImage(data, PASS_THROUGH[fmt], *img.size)
    img = _plain(upright)
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    return _encode(img)


def _decoded(
    data: bytes, param: str | None, check: Callable[[PILImage.Image], None]
) -> PILImage.Image:
    """Open (header only, accepted formats only), `check`, then decode."""
    try:
        with _corrupt_is_invalid(param):
            img = PILImage.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except UnidentifiedImageError:
        raise InvalidMedia(f"image is not a {_NAMES} file (the formats accepted)", param) from None
    check(img)
    with _corrupt_is_invalid(param):
        img.load()
    return img


@contextlib.contextmanager
def _corrupt_is_invalid(param: str | None) -> Iterator[None]:
    """A decoder failing on these bytes is the bytes' fault (Pillow's plugins raise OSError,
    SyntaxError, ValueError, EOFError, struct.error, ...): InvalidMedia. Running out of
    memory is not: the decode budget reports it."""
    try:
        yield
    except (MemoryError, UnidentifiedImageError):
        raise
    except Exception as e:
        raise InvalidMedia(f"image is truncated or corrupt ({e})", param) from None


def _check_header(img: PILImage.Image, declared: str, max_pixels: int, param: str | None) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise MediaTooLarge(
            f"image is {width}x{height} ({width * height} pixels); the limit is {max_pixels} "
            "(preprocess.image_max_pixels): send a smaller image",
            param,
        )
    if width * height == 0:
        raise InvalidMedia(f"image is {width}x{height}: it has no pixels", param)
    actual = ACCEPTED.get(img.format or "", "")
    declared = _ALIASES.get(declared, declared)
    if declared not in ("application/octet-stream", actual):
        raise InvalidMedia(
            f"data URL says {declared} but the bytes are {img.format or 'unknown'}; "
            "fix the data URL's MIME type",
            param,
        )


def _plain(img: PILImage.Image) -> PILImage.Image:
    """`img` in an 8-bit mode that resizing and PNG/JPEG take (16-bit, 32-bit and float
    images are scaled into 8 bits; palette, CMYK, YCbCr, LAB, ... become RGB or RGBA)."""
    if img.mode.startswith(("I", "F")):
        return PILImage.fromarray(_eight_bits(np.asarray(img)), "L")
    if img.mode in _ALPHA_MODES or "transparency" in img.info:
        return img if img.mode in ("RGBA", "LA") else img.convert("RGBA")
    return img if img.mode in ("RGB", "L") else img.convert("RGB")


def _eight_bits(pixels: np.ndarray) -> np.ndarray:
    """Grey levels of any depth stretched to 0..255 (16-bit as 16-bit, else min to max)."""
    values = np.nan_to_num(pixels.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    low, high = (0.0, 65535.0) if pixels.dtype.itemsize == 2 else (values.min(), values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else values * 0
    return np.clip(scaled, 0, 255).astype(np.uint8)


def _encode(img: PILImage.Image) -> PreparedImage:
    """PNG when there is transparency to keep, else JPEG (smaller, and both backends read it)."""
    out = io.BytesIO()
    if img.mode in ("RGBA", "LA"):
        img.save(out, "PNG", optimize=False)
        return PreparedImage(out.getvalue(), "image/png", *img.size)
    img.convert("RGB").save(out, "JPEG", quality=90)
    return PreparedImage(out.getvalue(), "image/jpeg", *img.size)
