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


def eps(marker: str = "%%Title: hostile") -> bytes:
    """A minimal EPS file: Pillow opens it, and loading it would run Ghostscript."""
    return (
        "%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n" + marker + "\n"
        "%%EndComments\nnewpath 0 0 moveto 8 8 lineto stroke\nshowpage\n%%EOF\n"
    ).encode()


def wav_claiming(rate: int, channels: int = 1, frames: int = 64, bits: int = 16) -> bytes:
    """A PCM WAV whose header says `rate` Hz and `channels` (any value the fields hold, which
    encoders refuse to write), then `frames` frames of a ramp."""
    block = channels * bits // 8
    body = bytes(i % 251 for i in range(frames * block))
    fmt = struct.pack("<HHIIHH", 1, channels, rate, (rate * block) & 0xFFFFFFFF, block, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(body)) + b"WAVE" + chunks + body
