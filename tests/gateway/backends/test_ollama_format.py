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
from gateway.core.errors import InvalidRequest
from gateway.core.messages import BackendRequest, ChatMessage
from gateway.edge import parse_chat_request
from preprocess.media import Audio, Image, Text
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
    # bytes, never str: ollama-python would read a str naming an existing file from disk;
    # each item's [img] stands where it was, so Ollama's renderer puts its tag there
    assert out[1] == {"role": "user", "content": "what is [img] this? [img]", "images": [png, wav]}


def test_video_stills_keep_their_labels_before_their_placeholders() -> None:
    stills = [p for k in range(3) for p in (Text(f"00:0{k}"), Image(b"jpg%d" % k, "image/jpeg"))]
    (out,) = to_ollama_messages([ChatMessage("user", [Text("What happens?"), *stills])])
    assert out["content"] == "What happens? 00:00 [img] 00:01 [img] 00:02 [img]"
    assert out["images"] == [b"jpg0", b"jpg1", b"jpg2"]


def test_text_parts_never_run_together_and_cannot_take_a_place() -> None:
    parts = [Text("Compare"), Image(b"a", "image/png"), Text("with"), Image(b"b", "image/png"),
             Text("(my [img] tag)")]  # fmt: skip
    (out,) = to_ollama_messages([ChatMessage("user", parts)])
    assert out["content"] == "Compare [img] with [img] (my [ img] tag)"
    (out,) = to_ollama_messages([ChatMessage("user", [Text("Hello"), Text("world")])])
    assert out == {"role": "user", "content": "Hello world"}


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
    kwargs, forced = to_ollama_kwargs(req)
    assert forced is None
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
    kwargs, _ = to_ollama_kwargs(BackendRequest("m", [], {"response_format": fmt}))
    assert kwargs["format"] == schema


def test_no_sampling_sends_no_options_and_no_thinking() -> None:
    # Omitted values must stay omitted: the model's own defaults apply (protocols.md §0.6).
    # But not think: Ollama would turn thinking on, and audio would come back empty (§0b.1).
    kwargs, _ = to_ollama_kwargs(BackendRequest("m", [], {}))
    assert kwargs == {"options": None, "think": False}


@pytest.mark.parametrize(
    ("fields", "think"),
    [
        ({"reasoning_effort": "none"}, False),
        ({"reasoning_effort": "minimal"}, "low"),
        ({"reasoning_effort": "low"}, "low"),
        ({"reasoning_effort": "medium"}, "medium"),
        ({"reasoning_effort": "high"}, "high"),
        ({"reasoning_effort": "xhigh"}, "max"),
        ({"reasoning": {"effort": "high"}}, "high"),
        ({"think": True}, True),
        ({"think": "max"}, "max"),
        ({"think": False, "reasoning_effort": "high"}, False),  # Ollama's own field wins
    ],
)
def test_reasoning_effort_maps_onto_what_ollama_accepts(
    fields: dict[str, object], think: object
) -> None:
    # openai/openai.go thinkFromReasoningEffort; api/types.go ThinkValue
    assert to_ollama_kwargs(BackendRequest("m", [], fields))[0]["think"] == think


@pytest.mark.parametrize("fields", [{"reasoning_effort": "extreme"}, {"think": "minimal"}])
def test_unknown_reasoning_values_are_a_400(fields: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest, match="must be"):
        to_ollama_kwargs(BackendRequest("m", [], fields))


def test_logprobs_are_forwarded_and_translated() -> None:
    kwargs, _ = to_ollama_kwargs(BackendRequest("m", [], {"logprobs": True, "top_logprobs": 2}))
    assert (kwargs["logprobs"], kwargs["top_logprobs"]) == (True, 2)
    with pytest.raises(InvalidRequest, match="top_logprobs: Input should be less than or equal"):
        parse_chat_request(b'{"messages": [{"role": "user"}], "top_logprobs": 21}')
    lp = {"token": "é", "logprob": -0.5, "top_logprobs": [{"token": "é", "logprob": -0.5}]}
    c = completion_from_ollama(ChatResponse(**{**TV_O4, "logprobs": [lp]}), "m")
    assert c["choices"][0]["logprobs"] == {"content": [{
        "token": "é", "logprob": -0.5, "bytes": [195, 169],
        "top_logprobs": [{"token": "é", "logprob": -0.5, "bytes": [195, 169]}],
    }]}  # fmt: skip


WEATHER = {"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}}}}  # fmt: skip
TIME = {"type": "function", "function": {"name": "time"}}


def test_a_named_tool_choice_constrains_the_output_to_its_arguments() -> None:
    fields = {"tools": [WEATHER, TIME],
              "tool_choice": {"type": "function", "function": {"name": "weather"}}}  # fmt: skip
    kwargs, forced = to_ollama_kwargs(BackendRequest("m", [], fields))
    assert kwargs["format"] == WEATHER["function"]["parameters"]
    assert kwargs["tools"] == [WEATHER, TIME] and forced is not None
    reply = {**TV_O4, "message": {"role": "assistant", "content": '{"city": "Oslo"}'}}
    c = completion_from_ollama(ChatResponse(**reply), "m", forced)
    (call,) = c["choices"][0]["message"]["tool_calls"]
    assert call["function"] == {"name": "weather", "arguments": '{"city": "Oslo"}'}
    assert c["choices"][0]["finish_reason"] == "tool_calls"


def test_a_forced_stream_streams_the_arguments() -> None:
    fields = {"tools": [WEATHER], "tool_choice": "required"}
    _, forced = to_ollama_kwargs(BackendRequest("m", [], fields))
    t = ChunkTranslator("m", False, forced)
    parts = [{**TV_O1_CHUNK, "message": {"role": "assistant", "content": piece}}
             for piece in ('{"city": ', '"Oslo"}')] + [TV_O1_FINAL]  # fmt: skip
    chunks = [c for p in parts for c in t.translate(ChatResponse(**p))]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    assert deltas[0]["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"city": '}
    assert deltas[1]["tool_calls"][0]["function"] == {"arguments": '"Oslo"}'}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert "content" not in deltas[1]


def test_required_among_several_tools_lets_the_output_name_one() -> None:
    _, forced = to_ollama_kwargs(BackendRequest("m", [], {"tools": [WEATHER, TIME],
                                                          "tool_choice": "required"}))  # fmt: skip
    assert forced is not None and [b["properties"]["name"] for b in forced.schema()["anyOf"]] == [
        {"const": "weather"}, {"const": "time"}
    ]  # fmt: skip
    reply = {**TV_O4, "message": {"role": "assistant",
                                  "content": '{"name": "time", "arguments": {}}'}}  # fmt: skip
    call = completion_from_ollama(ChatResponse(**reply), "m", forced)["choices"][0]["message"]
    assert call["tool_calls"][0]["function"] == {"name": "time", "arguments": "{}"}


@pytest.mark.parametrize("choice", [{"type": "function", "function": {"name": "weather"}},
                                    "required"])  # fmt: skip
def test_a_call_ollama_makes_itself_answers_a_forced_choice(choice: object) -> None:
    native = {**TV_O3_CHUNK, "message": {**TV_O3_CHUNK["message"], "tool_calls": [
        {"function": {"name": "weather", "arguments": {"city": "Tokyo"}}}]}}  # fmt: skip
    fields = {"tools": [WEATHER, TIME], "tool_choice": choice}
    _, forced = to_ollama_kwargs(BackendRequest("m", [], fields))
    c = completion_from_ollama(ChatResponse(**{**TV_O3_FINAL, **native, "done": True}), "m",
                               forced)  # fmt: skip
    (call,) = c["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "Tokyo"}
    _, forced = to_ollama_kwargs(BackendRequest("m", [], fields))
    t = ChunkTranslator("m", False, forced)
    chunks = t.translate(ChatResponse(**native)) + t.translate(ChatResponse(**TV_O3_FINAL))
    calls = [tc for ch in chunks for tc in ch["choices"][0]["delta"].get("tool_calls", ())]
    assert [(tc["index"], json.loads(tc["function"]["arguments"])) for tc in calls] == [
        (0, {"city": "Tokyo"})
    ]  # fmt: skip
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tool_choice": "required"}, "no tools"),
        ({"tools": [TIME], "tool_choice": {"type": "function", "function": {"name": "x"}}},
         "not among the tools"),
        ({"tools": [TIME], "tool_choice": "required", "response_format": {"type": "json_object"}},
         "at once"),
        ({"tools": [TIME], "tool_choice": "sometimes"}, "must be"),
    ],
)  # fmt: skip
def test_a_tool_choice_that_cannot_be_honoured_is_a_400(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        to_ollama_kwargs(BackendRequest("m", [], fields))


def test_tool_choice_none_sends_no_tools() -> None:
    kwargs, forced = to_ollama_kwargs(BackendRequest("m", [], {"tools": [TIME],
                                                               "tool_choice": "none"}))  # fmt: skip
    assert "tools" not in kwargs and forced is None
