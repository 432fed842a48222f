"""Images: checked, oriented and sized before any backend sees them.

Backends differ in what they decode (LM Studio fails on WebP), so what leaves here is
always PNG or JPEG. A PNG or JPEG that needs no change is passed through byte for byte.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from preprocess.errors import InvalidMedia, MediaTooLarge

PASS_THROUGH = {"PNG": "image/png", "JPEG": "image/jpeg"}
_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
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
    rotated = img.getexif().get(_ORIENTATION, 1) not in (1, None)
    if fmt in PASS_THROUGH and not rotated and max(img.size) <= max_side:
        return PreparedImage(data, PASS_THROUGH[fmt], *img.size)
    img = ImageOps.exif_transpose(img)
    if max(img.size) > max_side:
        img.thumbnail((max_side, max_side), PILImage.Resampling.LANCZOS)
    return _encode(img)


def _decoded(
    data: bytes, param: str | None, check: Callable[[PILImage.Image], None]
) -> PILImage.Image:
    """Open (header only), `check`, then decode; Pillow's failures become InvalidMedia."""
    try:
        img = PILImage.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidMedia("image is not a PNG, JPEG, WebP or GIF file", param) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidMedia(f"image is truncated or corrupt ({e})", param) from None
    check(img)
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidMedia(f"image is truncated or corrupt ({e})", param) from None
    return img


def _check_header(img: PILImage.Image, declared: str, max_pixels: int, param: str | None) -> None:
    width, height = img.size
    if width * height > max_pixels:
        raise MediaTooLarge(
            f"image is {width}x{height} ({width * height} pixels); the limit is {max_pixels} "
            "(preprocess.image_max_pixels): send a smaller image",
            param,
        )
    actual = PILImage.MIME.get(img.format or "", "")
    declared = _ALIASES.get(declared, declared)
    if declared not in ("application/octet-stream", actual):
        raise InvalidMedia(
            f"data URL says {declared} but the bytes are {img.format or 'unknown'}; "
            "fix the data URL's MIME type",
            param,
        )


def _encode(img: PILImage.Image) -> PreparedImage:
    """PNG when there is transparency to keep, else JPEG (smaller, and both backends read it)."""
    out = io.BytesIO()
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img.save(out, "PNG", optimize=False)
        return PreparedImage(out.getvalue(), "image/png", *img.size)
    img.convert("RGB").save(out, "JPEG", quality=90)
    return PreparedImage(out.getvalue(), "image/jpeg", *img.size)
