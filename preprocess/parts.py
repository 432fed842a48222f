"""From a request's parts to what every backend takes, one part at a time.

`prepare_part` decodes a part's base64 (or takes bytes fetched beforehand) and turns it into
what every backend accepts: images as PNG/JPEG within the size limits, audio as 16 kHz mono
WAV clips of at most 30 s, video as timestamped JPEG stills. It is blocking and pure; the
gateway runs it in a decoding child process, once per request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from preprocess.audio import audio_clips, audio_seconds
from preprocess.errors import InvalidMedia
from preprocess.image import normalize_image
from preprocess.media import (
    Audio,
    BackendPart,
    Encoded,
    Image,
    MediaLimits,
    MediaPlan,
    Source,
    Text,
    Video,
)
from preprocess.sources import decode_base64, decode_data_url
from preprocess.video import video_stills

Fetched = Mapping[str, tuple[str, bytes]]
"""Remote media fetched before decoding: URL -> (content type, bytes). Empty bytes stand for
media the dry run counted without fetching."""
Remote = dict[str, tuple[str, str]]


def prepare_part(
    part: Source, limits: MediaLimits, plan: MediaPlan, fetched: Fetched | None = None
) -> list[BackendPart]:
    """One part made into what any backend takes; `plan` counts what was made. Raises
    `InvalidMedia` naming the part (`Encoded.param`)."""
    if isinstance(part, Text):
        return [part]
    media = decode(part, limits, fetched or {})
    if not media.data:
        _count_unfetched(media, limits, plan)
        return []
    if isinstance(media, Image):
        image = normalize_image(
            media.data,
            media.mime,
            max_side=limits.image_max_side,
            max_pixels=limits.image_max_pixels,
            param=part.param,
        )
        plan.images += 1
        return [Image(image.data, image.mime)]
    if isinstance(media, Audio):
        return _audio(media, part.param, limits, plan)
    return _video(media, part.param, limits, plan)


def decode(part: Encoded, limits: MediaLimits, fetched: Fetched) -> Image | Audio | Video:
    """The part's bytes: bare base64 for audio, a data URL or fetched bytes for the rest."""
    if part.kind == "audio":
        data = decode_base64(part.data, "audio", part.param, limits.max_media_bytes)
        return Audio(data, part.format or "wav")
    kind = part.kind
    mime, data = fetched.get(part.data) or decode_data_url(
        part.data, kind, part.param, limits.max_media_bytes
    )
    if not mime.startswith(f"{kind}/") and mime != "application/octet-stream":
        raise InvalidMedia(f"{kind} data URL has MIME type {mime!r}; expected {kind}/*", part.param)
    return Image(data, mime) if kind == "image" else Video(data, mime)


def _audio(media: Audio, param: str, limits: MediaLimits, plan: MediaPlan) -> list[BackendPart]:
    # The request's audio, all parts together, checked from the header before decoding.
    if (total := plan.audio_s + audio_seconds(media.data, param)) > limits.max_audio_seconds:
        raise InvalidMedia(
            f"the request carries {total:.0f}s of audio; the limit is "
            f"{limits.max_audio_seconds:g}s "
            "(preprocess.max_audio_seconds): send less audio",
            param,
        )
    clips = audio_clips(
        media.data,
        clip_seconds=limits.audio_clip_seconds,
        max_seconds=limits.max_audio_seconds,
        param=param,
    )
    plan.audios += 1
    plan.clips += len(clips)
    plan.audio_s += sum(c.seconds for c in clips)
    return [Audio(c.wav, "wav") for c in clips]


def _video(media: Video, param: str, limits: MediaLimits, plan: MediaPlan) -> list[BackendPart]:
    stills = video_stills(
        media.data,
        fps=limits.video_fps,
        max_seconds=limits.video_max_seconds,
        max_side=limits.still_max_side,
        param=param,
    )
    plan.videos += 1
    plan.frames += len(stills.stills)
    plan.truncated_s += stills.truncated_s
    # Labelled as Gemma's own video processor does: "mm:ss" right before each frame.
    return [p for s in stills.stills for p in (Text(timestamp(s.second)),
                                                Image(s.jpeg, "image/jpeg"))]  # fmt: skip


def _count_unfetched(media: Image | Audio | Video, limits: MediaLimits, plan: MediaPlan) -> None:
    """Media the dry run did not fetch: an image counts as one, a video as one of unknown
    length, at the cap."""
    if isinstance(media, Video):
        plan.videos += 1
        plan.frames += math.ceil(limits.video_max_seconds * limits.video_fps)
    else:
        plan.images += 1


def remote_urls(parts: Iterable[Source]) -> Remote:
    """`https://` media URLs among `parts`: url -> (kind, param of its first use)."""
    urls: Remote = {}
    for p in parts:
        if isinstance(p, Encoded) and p.kind != "audio" and p.data[:8].lower() == "https://":
            urls.setdefault(p.data, (p.kind, p.param))
    return urls


def timestamp(second: float) -> str:
    """`mm:ss` as Gemma's own video processor labels frames.

    >>> timestamp(7.9), timestamp(61)
    ('00:07', '01:01')
    """
    s = int(second)
    return f"{s // 60:02d}:{s % 60:02d}"
