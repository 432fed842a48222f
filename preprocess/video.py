"""Video: container facts and stills through OpenCV's FFmpeg, only ever from a local temp file.

A user string is never handed to FFmpeg (it would follow URLs, `concat:` lists and
playlists): the bytes are written to a private temp file, FFmpeg is limited to the `file`
protocol, and text payloads (HLS playlists, ffconcat lists, SDP files: formats that make
FFmpeg open *other* files or sockets) are refused before FFmpeg sees them.

`video_stills` is pure: bytes in, JPEG stills out, no logging or timing (the caller does that).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import statistics
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from preprocess.errors import InvalidMedia
from preprocess.sniff import refuse_non_video

_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_SAFE_OPTIONS = "protocol_whitelist;file"
# Forced, not defaulted: the whitelist is a security property of every capture in this process.
os.environ[_OPTIONS_ENV] = _SAFE_OPTIONS
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # FFmpeg's own complaints about bad input
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # bad input is our 400

MAX_FRAME_SIDE = 8192
"""Frames wider or taller than this are refused (a decoded 8192x8192 BGR frame is 192 MiB)."""

_EPS = 1e-6  # seconds: timestamps come from integer pts x time_base, so 1.0 may be 0.9999999
_INDEX_MARGIN_S = 2.0  # packets come in decode order: read this far past the cap for B-frames
_INDEX_BUDGET = 100_000  # packets read past the cap to learn a duration the header lacks

# Options are read from the environment when a capture opens: one open at a time may change them.
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Still:
    second: float  # timestamp of the frame used, seconds from the start
    jpeg: bytes  # JPEG-encoded still


@dataclass(frozen=True, slots=True)
class Stills:
    stills: list[Still]
    duration_s: float | None  # the video's duration if known
    truncated_s: float  # seconds beyond max_seconds that were not used (0 if none)


# --- opening -------------------------------------------------------------------------------


@contextlib.contextmanager
def _temp_path(data: bytes) -> Iterator[str]:
    # 0600. In a decode child the temp dir is its private one (`gateway.isolation`), which
    # the parent removes however the child ends: a kill at the time limit skips this finally.
    fd, path = tempfile.mkstemp(prefix="gateway-video-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        yield path
    finally:
        os.unlink(path)


def _capture(
    path: str, param: str | None, *, raw: bool = False, keyframes_only: bool = False
) -> cv2.VideoCapture:
    """An opened, size-checked capture of the local file `path`; InvalidMedia otherwise.

    raw: demux only (packets, no decoding): cheap, gives packet timestamps and key flags.
    keyframes_only: the decoder discards every non-key frame (FFmpeg `skip_frame=nonkey`).
    """
    options = _SAFE_OPTIONS + ("|avdiscard;nonkey" if keyframes_only else "")
    params = [cv2.CAP_PROP_FORMAT, -1] if raw else []
    with _OPEN_LOCK:
        os.environ[_OPTIONS_ENV] = options
        try:
            cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, params)
        finally:
            os.environ[_OPTIONS_ENV] = _SAFE_OPTIONS
    if not cap.isOpened():
        cap.release()
        raise InvalidMedia(
            "video could not be opened: not a video container FFmpeg reads "
            "(mp4, mov, webm, mkv, avi), it has no video stream, or it is truncated",
            param,
        )
    width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE:
        cap.release()
        raise InvalidMedia(
            f"video frames are {width}x{height}; at most {MAX_FRAME_SIDE}x{MAX_FRAME_SIDE} "
            "is accepted: downscale it",
            param,
        )
    return cap


def _header_seconds(cap: cv2.VideoCapture) -> float | None:
    frames = cap.get(cv2.CAP_PROP_FRAME_COUNT)
    fps = cap.get(cv2.CAP_PROP_FPS)
    if frames > 0 and fps > 0:
        return float(frames / fps)
    return None


@contextlib.contextmanager
def _memory_errors() -> Iterator[None]:
    """OpenCV reports a failed allocation as cv2.error (StsNoMem); Python's word is MemoryError."""
    try:
        yield
    except cv2.error as e:
        if e.code == cv2.Error.StsNoMem:
            raise MemoryError(str(e)) from e
        raise


# --- stills --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Index:
    """Packet timestamps (presentation order, clamped at 0) up to a little past the cap."""

    pts: list[float]  # sorted
    keys: set[float]
    end: float | None  # the last frame's end when the demuxer reached the end of the file
    beyond: float | None  # the latest timestamp seen at or past the cap


def _interval(sorted_pts: list[float], header_fps: float) -> float:
    diffs = [b - a for a, b in zip(sorted_pts[-64:], sorted_pts[-63:], strict=False) if b > a]
    if diffs:
        return statistics.median(diffs)
    return 1.0 / header_fps if 0 < header_fps <= 1000 else 0.0


def _index(path: str, param: str | None, limit: float, need_end: bool) -> _Index:
    try:
        cap = _capture(path, param, raw=True)
    except InvalidMedia:  # demux-only mode is an optimisation: without it, decode everything
        return _Index([], set(), None, None)
    try:
        header_fps = cap.get(cv2.CAP_PROP_FPS)
        pts: list[float] = []
        keys: set[float] = set()
        beyond: float | None = None
        past = 0
        at_end = False
        while True:
            if not cap.grab():
                at_end = True
                break
            t = max(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, 0.0)
            if t < limit:
                pts.append(t)
                if cap.get(cv2.CAP_PROP_LRF_HAS_KEY_FRAME):
                    keys.add(t)
                continue
            beyond = t if beyond is None else max(beyond, t)
            past += 1
            if past > _INDEX_BUDGET or (not need_end and t >= limit + _INDEX_MARGIN_S):
                break
    finally:
        cap.release()
    pts.sort()
    end = None
    if at_end and pts:
        end = max(pts[-1], beyond or 0.0) + _interval(pts, header_fps)
    return _Index(pts, keys, end, beyond)


def _wanted(pts: list[float], step: float, limit: float) -> list[float]:
    """The timestamps the stills will have: for each target k*step, the first frame at/after it."""
    out: list[float] = []
    k = 0
    while k * step < limit:
        i = bisect.bisect_left(pts, k * step - _EPS)
        if i == len(pts) or pts[i] >= limit:
            break
        out.append(pts[i])
        k = math.floor(pts[i] / step + _EPS) + 1
    return out


def _jpeg(frame: np.ndarray, max_side: int, quality: int, param: str | None) -> bytes:
    height, width = frame.shape[:2]
    if width > MAX_FRAME_SIDE or height > MAX_FRAME_SIDE:  # a mid-stream size change
        raise InvalidMedia(
            f"video frames are {width}x{height}; at most {MAX_FRAME_SIDE}x{MAX_FRAME_SIDE} "
            "is accepted: downscale it",
            param,
        )
    longest = max(width, height)
    if longest > max_side:
        scale = max_side / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidMedia("a video frame could not be encoded as JPEG", param)
    return buf.tobytes()


@dataclass(slots=True)
class _Decoded:
    stills: list[Still]
    last: float | None  # the latest decoded timestamp before the cap
    ended: bool  # grab() failed before the cap: end of file, or the file is cut there
    beyond: float | None  # the first decoded timestamp at/after the cap


def _decode(
    cap: cv2.VideoCapture,
    step: float,
    limit: float,
    max_side: int,
    quality: int,
    param: str | None,
) -> _Decoded:
    """grab() every frame, retrieve() only those that become stills; stop at the cap."""
    stills: list[Still] = []
    target = 0.0
    last: float | None = None
    while True:
        if not cap.grab():
            return _Decoded(stills, last, True, None)
        t = max(cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, 0.0)
        if t >= limit:
            return _Decoded(stills, last, False, t)
        last = t if last is None else max(last, t)
        if t < target - _EPS:
            continue
        ok, frame = cap.retrieve()
        if not ok or frame is None:
            continue
        stills.append(Still(round(t, 3), _jpeg(frame, max_side, quality, param)))
        target = (math.floor(t / step + _EPS) + 1) * step


@_memory_errors()
def video_stills(
    data: bytes,
    *,
    fps: float = 1.0,
    max_seconds: float = 60.0,
    max_side: int = 768,
    quality: int = 85,
    param: str | None = None,
) -> Stills:
    """JPEG stills, one per 1/fps seconds of the first max_seconds of the video in `data`.

    Still k is the first decoded frame whose timestamp is >= k/fps (timestamps, not frame
    counts, so variable frame rates work); a frame that is the first one for several targets
    (a gap in the video) is used once. Stills are scaled so their longest side is at most
    max_side (never upscaled). Frames are decoded as a stream; when every still falls on a
    keyframe (e.g. a 1 s GOP), only keyframes are decoded.

    InvalidMedia (with `param`) for empty bytes, text payloads (HLS playlists, concat lists,
    SDP, any text), audio or still images given as video, what FFmpeg cannot open, frames
    above 8192 px a side, MP4/MOV, AVI and Matroska/WebM files cut short of their own
    structure (a live-recorded WebM with its size left unknown yields the stills before the
    cut), no decodable frames. MemoryError when memory runs out (OpenCV's own error for it
    included), so a caller with a budget can tell it apart.
    """
    if not fps > 0 or not max_seconds > 0 or max_side < 1 or not 0 <= quality <= 100:
        raise ValueError("fps and max_seconds must be > 0, max_side >= 1, quality 0..100")
    refuse_non_video(data, param)
    step = 1.0 / fps
    with _temp_path(data) as path:
        cap = _capture(path, param)
        try:
            header = _header_seconds(cap)
            header_fps = cap.get(cv2.CAP_PROP_FPS)
            index = _index(path, param, max_seconds, need_end=header is None)
            wanted = _wanted(index.pts, step, max_seconds)
            keyframes_pay = (
                wanted
                and all(t in index.keys for t in wanted)
                and len(index.pts) >= 2 * len(wanted)
            )
            decoded = None
            every_frame = True
            if keyframes_pay:
                cap.release()
                cap = _capture(path, param, keyframes_only=True)
                decoded = _decode(cap, step, max_seconds, max_side, quality, param)
                every_frame = False
                got = [s.second for s in decoded.stills]
                if len(got) != len(wanted) or any(
                    abs(a - b) > 1e-3 for a, b in zip(got, wanted, strict=True)
                ):
                    decoded = None  # the decoder disagreed with the index: decode everything
                    every_frame = True
                    cap.release()
                    cap = _capture(path, param)
            if decoded is None:
                decoded = _decode(cap, step, max_seconds, max_side, quality, param)
        finally:
            cap.release()

    if not decoded.stills:
        raise InvalidMedia("video has no decodable frames", param)

    # How long the video is: measured when we read to its end, else what its header says.
    ends = [] if index.end is None else [index.end]
    if every_frame and decoded.ended and decoded.last is not None:
        ends.append(decoded.last + _interval(index.pts, header_fps))
    end = max(ends, default=None)
    if end is not None:
        duration: float | None = end
    elif header is not None and header >= max_seconds:
        duration = header
    else:
        duration = None

    if duration is not None:
        truncated = max(0.0, duration - max_seconds)
    else:  # past the cap with no known length: a lower bound, one frame past what we saw
        seen = max(x for x in (index.beyond, decoded.beyond, max_seconds) if x is not None)
        truncated = seen + _interval(index.pts, header_fps) - max_seconds
    return Stills(
        decoded.stills,
        round(duration, 3) if duration is not None else None,
        round(max(truncated, 0.0), 3),
    )
