"""Glue from the client's content parts to what backends take.

`expand_messages` decodes base64 (or takes already-fetched remote bytes) into typed parts;
`prepare_media` turns them into what every backend accepts: images as PNG/JPEG within the
size limits, audio as 16 kHz mono WAV clips of at most 30 s, video as timestamped JPEG
stills. Both are blocking and pure; the server runs them in a bounded executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import PreprocessConfig
from gateway.core.estimate import MediaPlan
from gateway.core.messages import ChatMessage
from gateway.fronts.openai_wire import (
    AudioPart,
    ChatRequest,
    ImagePart,
    Message,
    TextPart,
    VideoPart,
)
from preprocess.audio import audio_clips
from preprocess.errors import InvalidMedia
from preprocess.image import normalize_image
from preprocess.media import Audio, BackendPart, Part, Text, Video
from preprocess.media import Image as ImageData
from preprocess.sources import decode_base64, decode_data_url
from preprocess.video import video_stills

Fetched = Mapping[str, tuple[str, bytes]]  # remote URL -> (content type, bytes)


def expand_messages(
    req: ChatRequest, max_media_bytes: int, fetched: Fetched | None = None
) -> list[ChatMessage[Part]]:
    """Decode every message's media; raises InvalidMedia naming the offending part."""
    return [_message(m, i, max_media_bytes, fetched or {}) for i, m in enumerate(req.messages)]


def _message(msg: Message, i: int, max_bytes: int, fetched: Fetched) -> ChatMessage[Part]:
    extra = msg.passthrough()
    if msg.content is None:
        return ChatMessage(msg.role, [], extra)
    if isinstance(msg.content, str):
        return ChatMessage(msg.role, [Text(msg.content)], extra)
    parts = [
        _part(p, f"messages[{i}].content[{j}]", max_bytes, fetched)
        for j, p in enumerate(msg.content)
    ]
    return ChatMessage(msg.role, parts, extra)


def _part(
    part: TextPart | ImagePart | AudioPart | VideoPart, param: str, max_bytes: int,
    fetched: Fetched,
) -> Part:  # fmt: skip
    if isinstance(part, TextPart):
        return Text(part.text)
    if isinstance(part, AudioPart):
        param += ".input_audio.data"
        return Audio(decode_base64(part.input_audio.data, "audio", param, max_bytes),
                     part.input_audio.format)  # fmt: skip
    if isinstance(part, ImagePart):
        kind, url, param = "image", part.image_url.url, param + ".image_url.url"
    else:
        kind, url, param = "video", part.video_url.url, param + ".video_url.url"
    mime, data = fetched.get(url) or decode_data_url(url, kind, param, max_bytes)
    if not mime.startswith(f"{kind}/") and mime != "application/octet-stream":
        raise InvalidMedia(f"{kind} data URL has MIME type {mime!r}; expected {kind}/*", param)
    return ImageData(data, mime) if kind == "image" else Video(data, mime)


def remote_urls(req: ChatRequest) -> dict[str, tuple[str, str]]:
    """`https://` media URLs in the request: url -> (kind, param of its first use)."""
    urls: dict[str, tuple[str, str]] = {}
    for i, msg in enumerate(req.messages):
        for j, p in enumerate(msg.content if isinstance(msg.content, list) else ()):
            if isinstance(p, ImagePart | VideoPart):
                kind = "image" if isinstance(p, ImagePart) else "video"
                url = p.image_url.url if isinstance(p, ImagePart) else p.video_url.url
                if url.lower().startswith("https://"):
                    urls.setdefault(url, (kind, f"messages[{i}].content[{j}].{kind}_url.url"))
    return urls


@dataclass(frozen=True, slots=True)
class Prepared:
    messages: list[ChatMessage[BackendPart]]
    plan: MediaPlan


def prepare_media(messages: list[ChatMessage[Part]], cfg: PreprocessConfig) -> Prepared:
    """Every part made into what any backend takes; the plan says what was done."""
    plan = MediaPlan()
    out = []
    for i, msg in enumerate(messages):
        parts: list[BackendPart] = []
        for j, part in enumerate(msg.parts):
            parts += _prepared(part, f"messages[{i}].content[{j}]", cfg, plan)
        out.append(ChatMessage(msg.role, parts, msg.extra))
    return Prepared(out, plan)


def _prepared(part: Part, param: str, cfg: PreprocessConfig, plan: MediaPlan) -> list[BackendPart]:
    if isinstance(part, ImageData):
        image = normalize_image(
            part.data,
            part.mime,
            max_side=cfg.image_max_side,
            max_pixels=cfg.image_max_pixels,
            param=param + ".image_url.url",
        )
        plan.images += 1
        return [ImageData(image.data, image.mime)]  # fmt: skip
    if isinstance(part, Audio):
        clips = audio_clips(
            part.data,
            clip_seconds=cfg.audio_clip_seconds,
            max_seconds=cfg.max_audio_seconds,
            param=param + ".input_audio.data",
        )
        plan.audios += 1
        plan.clips += len(clips)
        plan.audio_s += sum(c.seconds for c in clips)
        return [Audio(c.wav, "wav") for c in clips]  # fmt: skip
    if isinstance(part, Video):
        stills = video_stills(
            part.data,
            fps=cfg.video_fps,
            max_seconds=cfg.video_max_seconds,
            max_side=cfg.still_max_side,
            param=param + ".video_url.url",
        )
        plan.videos += 1
        plan.frames += len(stills.stills)
        plan.truncated_s += stills.truncated_s
        # Labelled as Gemma's own video processor does: "mm:ss" right before each frame.
        return [p for s in stills.stills for p in (Text(timestamp(s.second)),
                                                    ImageData(s.jpeg, "image/jpeg"))]  # fmt: skip
    return [part]


def timestamp(second: float) -> str:
    """`mm:ss` as Gemma's own video processor labels frames.

    >>> timestamp(7.9), timestamp(61)
    ('00:07', '01:01')
    """
    s = int(second)
    return f"{s // 60:02d}:{s % 60:02d}"
