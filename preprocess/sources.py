"""Where media bytes come from: `data:` URLs and bare base64, checked before decoding."""

from __future__ import annotations

import base64
import binascii
import re

from preprocess.errors import InvalidMedia, MediaTooLarge

_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^;,]*)*),", re.I)


def decode_base64(text: str, what: str, param: str, max_bytes: int) -> bytes:
    """Strict base64: junk characters are an error, not silently dropped (the stdlib default).

    >>> decode_base64("aGk=", "audio", "p", 10)
    b'hi'
    """
    if len(text) * 3 // 4 > max_bytes:
        raise MediaTooLarge(
            f"{what} is larger than the {max_bytes // 2**20} MiB limit; send a smaller file",
            param,
        )
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMedia(f"{what} is not valid base64", param) from None
    if not data:
        raise InvalidMedia(f"{what} is empty", param)
    return data


def decode_data_url(url: str, what: str, param: str, max_bytes: int) -> tuple[str, bytes]:
    """`data:<mime>;base64,<data>` -> (mime, bytes). Remote and file URLs are refused here;
    remote fetching, when enabled, lives at the server's edge, not in pure code.

    >>> decode_data_url("data:image/png;base64,aGk=", "image", "p", 10)
    ('image/png', b'hi')
    """
    match = _DATA_URL.match(url)
    if match is None:
        scheme = url.split(":", 1)[0].lower() if ":" in url[:12] else ""
        hint = (
            "remote https:// media is fetched only when preprocess.allow_remote_media is on; "
            "send the file as a data: URL (data:<mime>;base64,...)"
            if scheme == "https"
            else "only data: URLs (and https:// with preprocess.allow_remote_media) are read"
            if scheme in ("http", "file", "ftp")
            else "expected a data: URL such as data:image/png;base64,..."
        )
        raise InvalidMedia(f"{what} URL is not usable: {hint}", param)
    if ";base64" not in match.group("params").lower():
        raise InvalidMedia(f"{what} data URL must be base64-encoded (;base64,)", param)
    mime = (match.group("mime") or "application/octet-stream").lower()
    return mime, decode_base64(url[match.end() :], what, param, max_bytes)
