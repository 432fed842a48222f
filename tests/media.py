"""Media the tests make for themselves: no binaries in git."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import soundfile as sf
from PIL import Image


def wav(seconds: float, rate: int = 16000, channels: int = 1) -> bytes:
    """A 440 Hz tone as 16-bit PCM WAV."""
    t = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 440 * t)
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone] * channels, axis=1), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header with a tiny body: the classic decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def png(width: int, height: int, color: str = "black") -> bytes:
    """A real PNG of one colour (it compresses to almost nothing at any size)."""
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, "PNG")
    return buf.getvalue()


def png_data_url(width: int = 8, height: int = 8, color: str = "black") -> str:
    return "data:image/png;base64," + base64.b64encode(png(width, height, color)).decode()
