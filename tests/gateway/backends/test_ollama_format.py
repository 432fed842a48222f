"""OpenAI <-> Ollama translation, checked against Ollama's recorded payloads (protocols.md §7)."""

from __future__ import annotations

import json

import pytest
from ollama import ChatResponse

from gateway.backends.ollama_format import (
    ChunkTranslator,
    completion_from_ollama,
    to_ollama_kwargs,
    to_ollama_messages,
)
from gateway.errors import InvalidRequest
from gateway.types import Audio, BackendRequest, ChatMessage, Image, Text
from tests.fakes.vectors import TV_O1_CHUNK, TV_O1_FINAL, TV_O3_CHUNK, TV_O3_FINAL, TV_O4


def test_completion_from_tv_o4() -> None:
    c = completion_from_ollama(ChatResponse(**TV_O4), "gemma4")
    assert c["object"] == "chat.completion" and c["model"] == "gemma4"
    assert c["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello! How can I help you today?",
    }
    assert c["choices"][0]["finish_reason"] == "stop"
    assert c["usage"] == {"prompt_tokens": 11, "completion_tokens": 18, "total_tokens": 29}


@pytest.mark.parametrize("include_usage", [False, True])
def test_stream_from_tv_o1(include_usage: bool) -> None:
    t = ChunkTranslator("llama3.2", include_usage)
    chunks = t.translate(ChatResponse(**TV_O1_CHUNK)) + t.translate(ChatResponse(**TV_O1_FINAL))
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "The"}
    assert chunks[1]["choices"][0] == {
        "index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"
    }  # fmt: skip
    assert {c["id"] for c in chunks} == {t.id}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    if include_usage:
        assert chunks[2]["choices"] == []
        assert chunks[2]["usage"] == {
            "prompt_tokens": 26, "completion_tokens": 282, "total_tokens": 308
        }  # fmt: skip
    else:
        assert len(chunks) == 2


def test_stream_tool_call_from_tv_o3() -> None:
    t = ChunkTranslator("llama3.2", False)
    chunks = t.translate(ChatResponse(**TV_O3_CHUNK)) + t.translate(ChatResponse(**TV_O3_FINAL))
    call = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert call["index"] == 0 and call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Tokyo"}
    # Ollama says "stop" after a tool call; OpenAI clients expect "tool_calls".
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_length_finish_reason() -> None:
    c = completion_from_ollama(ChatResponse(**{**TV_O4, "done_reason": "length"}), "m")
    assert c["choices"][0]["finish_reason"] == "length"


def test_messages_carry_media_as_bytes_and_map_roles() -> None:
    png, wav = b"\x89PNG...", b"RIFF....WAVE"
    out = to_ollama_messages(
        [
            ChatMessage("developer", [Text("be brief")]),
            ChatMessage("user", [Text("what is "), Image(png, "image/png"), Text("this?"),
                                 Audio(wav, "wav")]),
        ]
    )  # fmt: skip
    assert out[0] == {"role": "system", "content": "be brief"}
    # bytes, never str: ollama-python would read a str naming an existing file from disk
    assert out[1] == {"role": "user", "content": "what is this?", "images": [png, wav]}


def test_non_wav_audio_is_refused_for_ollama() -> None:
    with pytest.raises(InvalidRequest, match="WAV"):
        to_ollama_messages([ChatMessage("user", [Audio(b"ID3", "mp3")])])


def test_tool_round_trip_messages() -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Tokyo"}'}}  # fmt: skip
    out = to_ollama_messages(
        [
            ChatMessage("assistant", [], {"tool_calls": [call]}),
            ChatMessage("tool", [Text("sunny")], {"tool_call_id": "call_1"}),
        ]
    )
    assert out[0]["tool_calls"] == [
        {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
    ]
    assert out[1] == {"role": "tool", "content": "sunny", "tool_name": "get_weather"}


def test_sampling_fields_become_options() -> None:
    req = BackendRequest(
        "gemma4",
        [],
        {
            "temperature": 0, "top_p": 0.9, "seed": 7, "stop": "END", "max_tokens": 50,
            "frequency_penalty": 0.1, "presence_penalty": 0.2, "top_k": 40,
            "response_format": {"type": "json_object"}, "tools": [{"type": "function"}],
            "reasoning_effort": "none",
        },
        num_ctx=16384,
    )  # fmt: skip
    kwargs = to_ollama_kwargs(req)
    assert kwargs["options"] == {
        "temperature": 0, "top_p": 0.9, "seed": 7, "stop": ["END"], "num_predict": 50,
        "frequency_penalty": 0.1, "presence_penalty": 0.2, "top_k": 40, "num_ctx": 16384,
    }  # fmt: skip
    assert kwargs["format"] == "json"
    assert kwargs["tools"] == [{"type": "function"}]
    assert kwargs["think"] is False


def test_json_schema_response_format_becomes_the_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert to_ollama_kwargs(BackendRequest("m", [], {"response_format": fmt}))["format"] == schema


def test_no_sampling_sends_no_options() -> None:
    # Omitted values must stay omitted: the model's own defaults apply (protocols.md §0.6).
    assert to_ollama_kwargs(BackendRequest("m", [], {})) == {"options": None}
