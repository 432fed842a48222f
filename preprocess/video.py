"""Video: stills through PyAV (FFmpeg's libraries), only ever from a local temp file.

A user string is never handed to FFmpeg (it would follow URLs, `concat:` lists and
playlists): the bytes are written to a private temp file, FFmpeg is limited to the `file`
protocol, and text payloads (HLS playlists, ffconcat lists, SDP files: formats that make
FFmpeg open *other* files or sockets) are refused before FFmpeg sees them.

Only what the stills need is decoded: a demux-only pass lists the packets, then each still's
packet is decoded with the reference frames before it in its GOP, and the decoder skips the
frames nothing refers to (`skip_frame=nonref`); packets after a GOP's last still are never
sent. With one keyframe per still, only keyframes are decoded.

`video_stills` is pure: bytes in, JPEG stills out, no logging or timing (the caller does that).
"""

from __future__ import annotations

import bisect
import contextlib
import io
import math
import os
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeAlias

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream
from PIL import Image

from preprocess.errors import InvalidMedia
from preprocess.sniff import refuse_non_video

_Packet: TypeAlias = "av.Packet[VideoStream]"  # generic to type checkers only

SAFE_OPTIONS = {"protocol_whitelist": "file"}
"""Container options of every open: what the demuxer opens (nested files too) is local only."""

MAX_FRAME_SIDE = 8192
"""Frames wider or taller than this are refused (a decoded 8192x8192 RGB frame is 192 MiB)."""

_EPS = 1e-6  # seconds: timestamps come from integer pts x time_base, so 1.0 may be 0.9999999
_INDEX_MARGIN_S = 2.0  # packets come in decode order: read this far past the cap for B-frames
_INDEX_BUDGET = 100_000  # packets read past the cap to learn a duration the header lacks

# What `_plan` says to do with a packet.
_DROP = 0  # never sent to the decoder
_REF = 1  # sent; the decoder skips it if no frame refers to it
_STILL = 2  # sent and decoded: its frame becomes a still


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


def _check_size(width: int, height: int, param: str | None) -> None:
    if width <= MAX_FRAME_SIDE and height <= MAX_FRAME_SIDE:
        return
    raise InvalidMedia(
        f"video frames are {width}x{height}; at most {MAX_FRAME_SIDE}x{MAX_FRAME_SIDE} "
        "is accepted: downscale it",
        param,
    )


@contextlib.contextmanager
def _open(path: str, param: str | None) -> Iterator[tuple[InputContainer, VideoStream]]:
    """The local file `path` opened, with its first video stream size-checked; else InvalidMedia."""
    try:
        # Metadata is never read; strict decoding of it would fail on bytes that are not UTF-8.
        container = av.open(path, "r", container_options=SAFE_OPTIONS, metadata_errors="replace")
    except MemoryError:  # FFmpeg's ENOMEM is one too (av.error.MemoryError)
        raise
    except av.FFmpegError:
        container = None
    if container is None or not container.streams.video or _no_decoder(container):
        if container is not None:
            container.close()
        raise InvalidMedia(
            "video could not be opened: not a video container FFmpeg reads "
            "(mp4, mov, webm, mkv, avi), it has no video stream FFmpeg decodes, "
            "or it is truncated",
            param,
        )
    with container:
        stream = container.streams.video[0]
        _check_size(stream.codec_context.width, stream.codec_context.height, param)
        yield container, stream


def _no_decoder(container: InputContainer) -> bool:
    # PyAV's type says never None, but an unknown codec id gives no codec context.
    return container.streams.video[0].codec_context is None


def _packets(container: InputContainer, stream: VideoStream) -> Iterator[_Packet]:
    """The stream's packets in decode order; a demuxing error ends them (a cut file)."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except MemoryError:
            raise
        except av.FFmpegError:
            return
        if packet.size:  # the empty packet at the end only says "flush"
            yield packet


def _seconds(pts: int | None, dts: int | None, stream: VideoStream) -> float | None:
    """Seconds from the stream's start (never negative), from pts or else dts."""
    ts = pts if pts is not None else dts
    if ts is None or stream.time_base is None:
        return None
    return max(float((ts - (stream.start_time or 0)) * stream.time_base), 0.0)


def _header_seconds(container: InputContainer, stream: VideoStream) -> float | None:
    if container.duration:
        return container.duration / 1_000_000  # AV_TIME_BASE
    if stream.duration and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


# --- which packets to decode ---------------------------------------------------------------


@dataclass(slots=True)
class _Index:
    """Packet timestamps up to a little past the cap, from demuxing alone."""

    order: list[tuple[float | None, bool]]  # (seconds, keyframe) per packet, decode order
    pts: list[float]  # sorted
    end: float | None  # the last frame's end when the demuxer reached the end of the file
    beyond: float | None  # the latest timestamp seen at or past the cap
    fps: float  # the header's frame rate, 0 if it has none


def _interval(sorted_pts: list[float], header_fps: float) -> float:
    diffs = [b - a for a, b in zip(sorted_pts[-64:], sorted_pts[-63:], strict=False) if b > a]
    if diffs:
        return statistics.median(diffs)
    return 1.0 / header_fps if 0 < header_fps <= 1000 else 0.0


def _index(container: InputContainer, stream: VideoStream, limit: float, need_end: bool) -> _Index:
    rate = stream.average_rate or stream.guessed_rate
    index = _Index([], [], None, None, float(rate) if rate else 0.0)
    past = 0
    for packet in _packets(container, stream):
        t = _seconds(packet.pts, packet.dts, stream)
        index.order.append((t, packet.is_keyframe))
        if t is None:
            continue
        if t < limit:
            index.pts.append(t)
            continue
        index.beyond = t if index.beyond is None else max(index.beyond, t)
        past += 1
        if past > _INDEX_BUDGET or (not need_end and t >= limit + _INDEX_MARGIN_S):
            break
    else:  # the demuxer reached the end of the file
        index.pts.sort()
        if index.pts:
            index.end = max(index.pts[-1], index.beyond or 0.0) + _interval(index.pts, index.fps)
    index.pts.sort()
    return index


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


def _gops(order: list[tuple[float | None, bool]]) -> list[range]:
    """Packet positions split at each keyframe (what comes before the first one is a GOP too)."""
    starts = [0] + [i for i, (_, key) in enumerate(order) if key and i > 0]
    return [range(a, b) for a, b in zip(starts, [*starts[1:], len(order)], strict=True)]


def _plan(order: list[tuple[float | None, bool]], wanted: set[float]) -> list[int]:
    """What to do with each packet so that the wanted frames decode exactly.

    A frame refers only to frames decoded before it, and (in a closed GOP) only to its own
    GOP's: so a GOP is sent from its keyframe up to its last wanted packet, and a GOP with
    nothing wanted is not sent. A wanted frame shown before its GOP's keyframe (an open GOP's
    leading frame) may refer to the previous GOP: that one is then sent whole.
    """
    plan = [_DROP] * len(order)
    gops = _gops(order)
    for g, gop in enumerate(gops):
        hits = {i: t for i in gop if (t := order[i][0]) is not None and t in wanted}
        if not hits:
            continue
        for i in range(gop.start, max(hits) + 1):
            plan[i] = _STILL if i in hits else _REF
        key_t = order[gop.start][0]
        if g > 0 and key_t is not None and min(hits.values()) < key_t:
            for i in gops[g - 1]:
                plan[i] = max(plan[i], _REF)
    last = max((i for i, act in enumerate(plan) if act != _DROP), default=-1)
    return plan[: last + 1]


# --- decoding ------------------------------------------------------------------------------


def _frames(
    stream: VideoStream, packets: Iterator[_Packet], plan: list[int] | None
) -> Iterator[VideoFrame]:
    """Decoded frames, presentation order: every packet's (plan None), or the plan's."""
    ctx = stream.codec_context
    for n, packet in enumerate(packets):
        if plan is not None:
            if n >= len(plan):
                break
            if plan[n] == _DROP:
                continue
            ctx.skip_frame = "DEFAULT" if plan[n] == _STILL else "NONREF"
        yield from _decode_packet(stream, packet)
    yield from _decode_packet(stream, None)  # the frames the decoder still holds


def _decode_packet(stream: VideoStream, packet: _Packet | None) -> list[VideoFrame]:
    try:
        return stream.decode(packet)
    except MemoryError:
        raise
    except av.FFmpegError:  # a damaged packet: skipped, as the ffmpeg CLI does
        return []


def _jpeg(frame: VideoFrame, max_side: int, quality: int, param: str | None) -> bytes:
    width, height = frame.width, frame.height
    _check_size(width, height, param)  # a mid-stream size change
    scale = min(1.0, max_side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    try:  # swscale: scale before converting, area-averaged when shrinking
        rgb = frame.reformat(size[0], size[1], "rgb24", interpolation="AREA")
    except MemoryError:
        raise
    except av.FFmpegError as e:
        raise InvalidMedia("a video frame could not be converted for JPEG", param) from e
    plane = rgb.planes[0]
    image = Image.frombuffer("RGB", size, bytes(plane), "raw", "RGB", plane.line_size, 1)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class _Take:
    """What to make stills of: one per `step` seconds before `limit`."""

    step: float
    limit: float
    max_side: int
    quality: int
    param: str | None


@dataclass(slots=True)
class _Decoded:
    stills: list[Still]
    last: float | None  # the latest decoded timestamp before the cap
    ended: bool  # the frames ran out before the cap: end of file, or the file is cut there
    beyond: float | None  # the first decoded timestamp at/after the cap
    keys: set[float]  # timestamps of the frames the decoder itself calls keyframes


def _decode(
    stream: VideoStream, packets: Iterator[_Packet], plan: list[int] | None, take: _Take
) -> _Decoded:
    """Still k is the first frame at/after k*step; decoding stops at the cap."""
    out = _Decoded([], None, True, None, set())
    target = 0.0
    for frame in _frames(stream, packets, plan):
        t = _seconds(frame.pts, frame.dts, stream)
        if t is None:
            continue
        if t >= take.limit:
            out.ended, out.beyond = False, t
            break
        out.last = t if out.last is None else max(out.last, t)
        if frame.key_frame:
            out.keys.add(t)
        if t < target - _EPS:
            continue
        out.stills.append(Still(round(t, 3), _jpeg(frame, take.max_side, take.quality, take.param)))
        target = (math.floor(t / take.step + _EPS) + 1) * take.step
    return out


def _planned(path: str, index: _Index, take: _Take) -> _Decoded | None:
    """The stills from decoding only what they need; None when the decoder disagreed with
    the container (other frames came out, or a packet flagged key, decoded after a dropped
    one, is no keyframe to the decoder), which a full decode settles."""
    wanted = _wanted(index.pts, take.step, take.limit)
    if not wanted:
        return None
    plan = _plan(index.order, set(wanted))
    entries = [
        index.order[i][0] for i in range(1, len(plan)) if plan[i - 1] == _DROP and plan[i] != _DROP
    ]
    with _open(path, take.param) as (container, stream):
        stream.thread_type = "AUTO"  # frame and slice threads
        decoded = _decode(stream, _packets(container, stream), plan, take)
    got = [s.second for s in decoded.stills]
    if len(got) != len(wanted) or not all(t in decoded.keys for t in entries):
        return None
    if any(abs(a - b) > 1e-3 for a, b in zip(got, wanted, strict=True)):
        return None
    return decoded


def _every_frame(path: str, take: _Take) -> _Decoded:
    with _open(path, take.param) as (container, stream):
        stream.thread_type = "AUTO"
        return _decode(stream, _packets(container, stream), None, take)


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
    max_side (never upscaled). Only the frames the stills need are decoded (see the module
    docstring); if the decoder disagrees with the demuxer's packet list, every frame is.

    InvalidMedia (with `param`) for empty bytes, text payloads (HLS playlists, concat lists,
    SDP, any text), audio or still images given as video, what FFmpeg cannot open, frames
    above 8192 px a side, MP4/MOV, AVI and Matroska/WebM files cut short of their own
    structure (a live-recorded WebM with its size left unknown yields the stills before the
    cut), no decodable frames. MemoryError when memory runs out (FFmpeg's ENOMEM included),
    so a caller with a budget can tell it apart.
    """
    if not fps > 0 or not max_seconds > 0 or max_side < 1 or not 0 <= quality <= 100:
        raise ValueError("fps and max_seconds must be > 0, max_side >= 1, quality 0..100")
    refuse_non_video(data, param)
    take = _Take(1.0 / fps, max_seconds, max_side, quality, param)
    with _temp_path(data) as path:
        with _open(path, param) as (container, stream):
            header = _header_seconds(container, stream)
            index = _index(container, stream, max_seconds, need_end=header is None)
        decoded = _planned(path, index, take)
        every_frame = decoded is None
        if decoded is None:
            decoded = _every_frame(path, take)
    if not decoded.stills:
        raise InvalidMedia("video has no decodable frames", param)
    return _result(decoded, every_frame, index, header, max_seconds)


def _result(
    decoded: _Decoded, every_frame: bool, index: _Index, header: float | None, limit: float
) -> Stills:
    """The stills with how long the video is: measured when we read to its end, else what
    its header says."""
    ends = [] if index.end is None else [index.end]
    if every_frame and decoded.ended and decoded.last is not None:
        ends.append(decoded.last + _interval(index.pts, index.fps))
    end = max(ends, default=None)
    if end is not None:
        duration: float | None = end
    elif header is not None and header >= limit:
        duration = header
    else:
        duration = None

    if duration is not None:
        truncated = max(0.0, duration - limit)
    else:  # past the cap with no known length: a lower bound, one frame past what we saw
        seen = max(x for x in (index.beyond, decoded.beyond, limit) if x is not None)
        truncated = seen + _interval(index.pts, index.fps) - limit
    return Stills(
        decoded.stills,
        round(duration, 3) if duration is not None else None,
        round(max(truncated, 0.0), 3),
    )
