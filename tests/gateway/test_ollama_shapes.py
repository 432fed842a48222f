"""The Ollama front's translations, table by table: where media goes in a message, how
`images` entries are told apart, and how OpenAI-shaped chunks become Ollama's lines."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gateway.core.errors import BackendError
from gateway.fronts.ollama import NDJSON, Reply, _media, _parts
from preprocess.media import Encoded, Text
from tests.media import png, wav

PNG = base64.b64encode(png(4, 4)).decode()
WAV = base64.b64encode(wav(0.5)).decode()
MP3 = base64.b64encode(b"ID3\x04\x00" + bytes(32)).decode()


def shape(parts: list[Any]) -> list[str]:
    return [p.text if isinstance(p, Text) else f"<{p.kind} {p.param}>" for p in parts]


@pytest.mark.parametrize(
    ("text", "items", "expected"),
    [
        ("describe", 1, ["<image i[0]>", "describe"]),  # Ollama prepends untagged items
        ("a [img] b", 1, ["a ", "<image i[0]>", " b"]),
        ("a [img] b [img] c", 2, ["a ", "<image i[0]>", " b ", "<image i[1]>", " c"]),
        ("x [img] y", 3, ["<image i[1]>", "<image i[2]>", "x ", "<image i[0]>", " y"]),
        ("a [img] b [img] c", 1, ["a ", "<image i[0]>", " b ", "[img] c"]),  # no item left
        ("", 2, ["<image i[0]>", "<image i[1]>"]),
    ],
)
def test_images_go_where_ollamas_renderer_puts_them(
    text: str, items: int, expected: list[str]
) -> None:
    """`model/renderers/image_tags.go`: placeholders filled in order, the rest prepended."""
    assert shape(_parts(text, [PNG] * items, "i")) == expected


def test_images_entries_are_told_apart_by_their_bytes() -> None:
    """As Ollama's `llm/media.go` sniffs them: WAV and MP3 are audio, the rest pictures."""
    assert (_media(WAV, "p").kind, _media(WAV, "p").format) == ("audio", "wav")
    assert (_media(MP3, "p").kind, _media(MP3, "p").format) == ("audio", "mp3")
    picture = _media(PNG, "p")
    assert isinstance(picture, Encoded) and picture.kind == "image"
    assert picture.data.startswith("data:application/octet-stream;base64,")
    assert _media("not base64 at all!", "p").kind == "image"  # decoding it names the error


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines()]


def test_a_stream_becomes_ollamas_lines_with_tool_calls_whole_and_counts_last() -> None:
    framing = NDJSON(Reply(chat=True, model="m", started=0.0))
    out = framing.chunk(chunk({"role": "assistant", "content": ""}))
    out += framing.chunk(chunk({"content": "Hel"}))
    out += framing.chunk(chunk({"reasoning_content": "hmm"}))
    out += framing.chunk(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "get", "arguments": '{"ci'}}
                ]
            }
        )
    )
    out += framing.chunk(chunk({"tool_calls": [
        {"index": 0, "function": {"arguments": 'ty": "Oslo"}'}}]}, "tool_calls"))  # fmt: skip
    out += framing.chunk({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3},
                          "timings": {"prompt_ms": 2.0, "predicted_ms": 5.5}})  # fmt: skip
    out += framing.end()
    got = lines(out)
    assert [g["done"] for g in got] == [False, False, False, True]
    assert got[0]["message"] == {"role": "assistant", "content": "Hel"}
    assert got[1]["message"]["thinking"] == "hmm"
    assert got[2]["message"]["tool_calls"] == [
        {"id": "c1", "function": {"name": "get", "arguments": {"city": "Oslo"}}}
    ]
    last = got[-1]
    assert (last["done_reason"], last["prompt_eval_count"], last["eval_count"]) == ("stop", 7, 3)
    assert (last["prompt_eval_duration"], last["eval_duration"]) == (2_000_000, 5_500_000)


def test_a_generate_answer_is_a_response_and_a_length_stop_is_kept() -> None:
    reply = Reply(chat=False, model="m", started=0.0)
    completion = {"choices": [{"message": {"content": "hi"}, "finish_reason": "length"}],
                  "usage": {"prompt_tokens": 2, "completion_tokens": 1}}  # fmt: skip
    whole = reply.whole(completion)
    assert (whole["response"], whole["done"], whole["done_reason"]) == ("hi", True, "length")
    assert "message" not in whole and whole["eval_count"] == 1


def test_an_error_after_the_first_byte_is_an_error_line() -> None:
    framing = NDJSON(Reply(chat=True, model="m", started=0.0))
    assert lines(framing.error(BackendError("backend 'o' broke off"))) == [
        {"error": "backend 'o' broke off"}
    ]
