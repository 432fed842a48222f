"""What a video payload really is, judged from its bytes before FFmpeg may open it.

FFmpeg follows references in some formats (HLS playlists, concat lists, SDP, DASH and IMF
manifests) to other files and sockets, and would happily open audio or a still image as a
one-frame "video". These are refused from their first bytes; truncated MP4/MOV, AVI and
Matroska/WebM files are refused from their own structure.
"""

from __future__ import annotations

import re
import struct

from preprocess.errors import InvalidMedia

_SNIFF = 1024  # bytes looked at to tell text from a container
_CONCAT_LINE = re.compile(rb"(?m)^[ \t]*file[ \t]+\S")
_SDP_LINE = re.compile(rb"(?m)^[ \t]*[vosc]=\S")
_CONTROL = frozenset(set(range(0x00, 0x09)) | set(range(0x0E, 0x20)) | {0x7F})
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ")
_PROBE_WINDOW = 1 << 20  # FFmpeg probes with up to 1 MiB
# FFmpeg's probes for formats that open other files or sockets look at the bytes before the
# first NUL (strstr/strncmp); a control byte or two does not stop them, so look for their
# markers there whether or not the payload reads as text.
_REFERENCING = (
    (b"#EXTM3U", "an HLS playlist (#EXTM3U)"),
    (b"#EXT-X-", "an HLS playlist (#EXT-X-)"),
    (b"ffconcat version", "an FFmpeg concat list"),
    (b"c=IN IP", "an SDP session description"),
    (b"<MPD", "a DASH manifest (<MPD>)"),
    (b"<CompositionPlaylist", "an IMF composition playlist"),
)


def _is_text(head: bytes) -> bool:
    """True when `head` reads as text: no control bytes, and valid UTF-8 (ASCII included)."""
    if not head or any(b in _CONTROL for b in head):
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A multi-byte character cut by the sniff window is still text.
        return e.start >= len(head) - 3 and e.reason == "unexpected end of data"
    return True


def _text_kind(head: bytes) -> str:
    start = head.lstrip()
    if start[:8].lower() == b"ffconcat" or _CONCAT_LINE.search(head):
        return "an FFmpeg concat list"
    if start.startswith(b"v=0") or len(_SDP_LINE.findall(head)) >= 3:
        return "an SDP session description"
    if start[:1] == b"<":
        return "XML/HTML text (a manifest or a web page?)"
    return "plain text"


def _not_video_kind(data: bytes) -> str | None:
    """What `data` is when it is recognisably *not* a video, judged from its first bytes."""
    nul = data.find(b"\0", 0, _PROBE_WINDOW)
    before_nul = data[: nul if nul >= 0 else _PROBE_WINDOW]
    for marker, kind in _REFERENCING:
        if marker in before_nul:
            return kind
    head = data[:_SNIFF]
    body = head.removeprefix(b"\xef\xbb\xbf")
    if _is_text(body):
        return _text_kind(body)
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV audio (send it as input_audio)"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0):
        # ID3-tagged MP3, or a bare MPEG audio / ADTS AAC frame sync (cover art would pass
        # as a one-frame "video").
        return "MP3/AAC audio (send it as input_audio)"
    if head[:4] == b"fLaC":
        return "FLAC audio (send it as input_audio)"
    if head[4:8] == b"ftyp" and head[8:12] in _AUDIO_BRANDS:
        return "M4A audio (send it as input_audio)"
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n":
        return "a still image (send it as an image)"
    return None


_ISO_FIRST_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot", b"styp")


def _cut_short(data: bytes) -> str | None:
    """Why an MP4/MOV, AVI or Matroska/WebM file is shorter than its structure says, or None.

    MP4/MOV: a top-level box that runs past the end (a faststart file cut in half still opens
    and decodes its first part; FFmpeg only logs "partial file"). AVI: the RIFF size.
    Matroska/WebM: the Segment size, when it is written; live recordings (a browser's
    MediaRecorder) leave it "unknown", and such files decode up to wherever they end.
    """
    n = len(data)
    if data[4:8] in _ISO_FIRST_BOXES:
        pos = 0
        while pos + 8 <= n:
            size, kind = struct.unpack_from(">I4s", data, pos)
            if size == 1 and pos + 16 <= n:
                (size,) = struct.unpack_from(">Q", data, pos + 8)
            elif size == 0:  # the last box, up to the end of the file
                return None
            if size < 8:
                return None  # malformed: FFmpeg will say so
            if pos + size > n:
                name = kind.decode("latin-1")
                return (
                    f"its '{name}' box at byte {pos} needs {size} bytes but the file ends "
                    f"{n - pos} bytes after it starts"
                )
            pos += size
        return None
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        (size,) = struct.unpack_from("<I", data, 4)
        if size + 8 > n:
            return f"its RIFF header says {size + 8} bytes but it has {n}"
    if data[:4] == _EBML:
        return _matroska_cut_short(data)
    return None


_EBML, _SEGMENT = b"\x1a\x45\xdf\xa3", b"\x18\x53\x80\x67"  # element IDs


def _matroska_cut_short(data: bytes) -> str | None:
    header = _ebml_size(data, 4)
    if header is None:
        return None
    at = 4 + header[1] + header[0]  # the Segment follows the EBML header
    segment = _ebml_size(data, at + 4) if data[at : at + 4] == _SEGMENT else None
    if segment is None or segment[2]:
        return None  # not the layout we know, or a size left unknown: nothing to compare
    size, length, _ = segment
    if (end := at + 4 + length + size) > len(data):
        return f"its Segment needs {end} bytes but the file has {len(data)}"
    return None


def _ebml_size(data: bytes, pos: int) -> tuple[int, int, bool] | None:
    """(value, byte length, unknown) of the EBML variable-length size at `pos`.

    >>> _ebml_size(bytes([0x42, 0x86]), 0), _ebml_size(bytes([0x01] + [0xFF] * 7), 0)
    ((646, 2, False), (72057594037927935, 8, True))
    """
    if pos >= len(data) or data[pos] == 0:
        return None
    length = 9 - data[pos].bit_length()
    if pos + length > len(data):
        return None
    value = int.from_bytes(data[pos : pos + length], "big") & ((1 << (7 * length)) - 1)
    return value, length, value == (1 << (7 * length)) - 1


def refuse_non_video(data: bytes, param: str | None) -> None:
    """InvalidMedia unless `data` may be handed to FFmpeg as a video file."""
    if not data:
        raise InvalidMedia("video is empty (0 bytes)", param)
    kind = _not_video_kind(data)
    if kind is not None:
        raise InvalidMedia(
            f"video is {kind}, not a video file: send the video bytes themselves "
            "(mp4, mov, webm, mkv, avi)",
            param,
        )
    cut = _cut_short(data)
    if cut is not None:
        raise InvalidMedia(f"video is truncated (incomplete upload or download?): {cut}", param)
