"""Pure parts of the OpenAI-compatible adapter: SSE decoding, error shapes, request bodies."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.backends.openai_compat import SSEDecoder, encoded_body, error_text
from gateway.types import Audio, BackendRequest, ChatMessage, Image, Text


@pytest.mark.parametrize("split", [1, 2, 7, 1000])
def test_sse_decoder_survives_any_split(split: int) -> None:
    stream = b': comment\r\n\r\ndata: {"a": 1}\r\n\r\ndata: {"b":\ndata: 2}\n\ndata:[DONE]\n\n'
    d = SSEDecoder()
    events = [e for i in range(0, len(stream), split) for e in d.feed(stream[i : i + split])]
    assert events == ['{"a": 1}', '{"b":\n2}', "[DONE]"]


LMS_IMAGE_ERROR = "'url' field must be a base64 encoded image."  # protocols.md §7 error vectors


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"error": LMS_IMAGE_ERROR}, LMS_IMAGE_ERROR),
        ({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
         "Loading model"),
        ({"detail": "Not Found"}, "Not Found"),
    ],
)  # fmt: skip
def test_error_text_reads_every_recorded_shape(body: dict[str, object], text: str) -> None:
    assert error_text(body) == text


async def test_the_body_rebuilds_openai_parts_with_the_media_spliced_in() -> None:
    req = BackendRequest(
        "google/gemma-4-e4b",
        [
            ChatMessage("system", [Text("be brief")]),
            ChatMessage("user", [Text("hi"), Image(b"png", "image/png"), Audio(b"wav", "wav")]),
            ChatMessage("assistant", [], {"tool_calls": [{"id": "c"}]}),
        ],
        {"temperature": 0.5, "max_tokens": 9},
        include_usage=True,
    )
    body = json.loads((await encoded_body(req, stream=True)).read())
    png, wav = base64.b64encode(b"png").decode(), base64.b64encode(b"wav").decode()
    assert body == {
        "model": "google/gemma-4-e4b",
        "temperature": 0.5,
        "max_tokens": 9,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
        ],
    }  # fmt: skip
    assert "stream_options" not in json.loads((await encoded_body(req, stream=False)).read())
