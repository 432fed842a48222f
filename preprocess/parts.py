"""OpenAI content parts -> decoded `ChatMessage`s, the form backends translate from."""

from __future__ import annotations

from gateway.types import (
    Audio,
    AudioPart,
    ChatMessage,
    ChatRequest,
    ImagePart,
    Message,
    Part,
    Text,
    TextPart,
    Video,
    VideoPart,
)
from gateway.types import Image as ImageData
from preprocess.errors import InvalidMedia
from preprocess.sources import decode_base64, decode_data_url


def expand_messages(req: ChatRequest, max_media_bytes: int) -> list[ChatMessage]:
    """Decode every message's media; raises InvalidMedia naming the offending part."""
    return [_message(m, i, max_media_bytes) for i, m in enumerate(req.messages)]


def _message(msg: Message, i: int, max_bytes: int) -> ChatMessage:
    extra = dict(msg.model_extra or {})
    if msg.content is None:
        return ChatMessage(msg.role, [], extra)
    if isinstance(msg.content, str):
        return ChatMessage(msg.role, [Text(msg.content)], extra)
    parts = [_part(p, f"messages[{i}].content[{j}]", max_bytes) for j, p in enumerate(msg.content)]
    return ChatMessage(msg.role, parts, extra)


def _part(part: TextPart | ImagePart | AudioPart | VideoPart, param: str, max_bytes: int) -> Part:
    if isinstance(part, TextPart):
        return Text(part.text)
    if isinstance(part, ImagePart):
        param += ".image_url.url"
        mime, data = decode_data_url(part.image_url.url, "image", param, max_bytes)
        if not mime.startswith("image/"):
            raise InvalidMedia(f"image data URL has MIME type {mime!r}; expected image/*", param)
        return ImageData(data, mime)
    if isinstance(part, AudioPart):
        param += ".input_audio.data"
        return Audio(
            decode_base64(part.input_audio.data, "audio", param, max_bytes), part.input_audio.format
        )
    param += ".video_url.url"
    mime, data = decode_data_url(part.video_url.url, "video", param, max_bytes)
    return Video(data, mime)
