"""`POST /v1/responses` (issue 11), driven by the official `openai` SDK against the Ollama
emulator: what the SDK reads (output items, `output_text`, usage, the event stream it
accumulates), what reached the backend (instructions first, media, tool calls and their
results, the earlier turns of a continued conversation, the response format), and the
refusals (an unknown `previous_response_id`, items the gateway cannot serve)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI

from gateway.fronts.responses import ResponseStore, Stored
from tests.conftest import MakeGateway, backend
from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.media import png_data_url, wav

REPLY = "".join(DEFAULT_REPLY)
E4B = "gemma4:e4b"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": CITY,
    "strict": True,
}
QUESTION = "What is the weather in Tokyo?"


class AnsweringOllama(OllamaEmulator):
    """The emulator calls a tool whenever the last user message says "weather"; a model that
    has just been given its tool's result answers instead, as this one then does."""

    def _plan(
        self, body: dict[str, Any], messages: list[dict[str, Any]], options: dict[str, Any],
        thinking: bool,
    ) -> tuple[list[dict[str, Any]], str]:  # fmt: skip
        if messages and messages[-1].get("role") == "tool":
            body = {**body, "tools": []}
        return super()._plan(body, messages, options, thinking)


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with AnsweringOllama([OllamaModel(E4B, loaded=True)]) as emu:
        yield emu


@pytest.fixture
async def gateway(emu: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", emu.url))


@pytest.fixture
async def client(gateway: TestServer) -> AsyncIterator[AsyncOpenAI]:
    base_url = str(gateway.make_url("/v1"))
    async with AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0) as c:
        yield c


def sent(emu: OllamaEmulator) -> dict[str, Any]:
    """The last chat body the backend received."""
    return emu.chats()[-1]


async def test_plain_answer_as_the_sdk_reads_it(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    raw = await client.responses.with_raw_response.create(
        model="auto", input="Say hello", instructions="Be brief."
    )
    assert raw.headers["X-Gateway-Route"] == "default"
    assert raw.headers["X-Gateway-Model"] == E4B
    response = raw.parse()
    assert response.id.startswith("resp_")
    assert (response.object, response.status, response.model) == ("response", "completed", E4B)
    assert response.output_text == REPLY
    assert [item.type for item in response.output] == ["message"]
    assert response.usage is not None
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert sent(emu)["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Say hello"},
    ]


async def test_stream_is_the_responses_event_sequence(client: AsyncOpenAI) -> None:
    async with client.responses.stream(
        model="auto", input="Say hello", reasoning={"effort": "low"}
    ) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    types = [e.type for e in events]
    text_deltas = ["response.output_text.delta"] * len(DEFAULT_REPLY)
    assert types == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added",
        *["response.reasoning_text.delta"] * 3,
        "response.reasoning_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", *text_deltas,
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    ]  # fmt: skip
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.output_text == REPLY
    assert [item.type for item in final.output] == ["reasoning", "message"]
    assert final.reasoning is not None and final.reasoning.effort == "low"
    assert final.usage is not None and final.usage.output_tokens > 0
    assert final.id == events[0].response.id  # type: ignore[union-attr]


async def test_create_with_stream_true_yields_the_same_events(client: AsyncOpenAI) -> None:
    stream = await client.responses.create(model="auto", input="Say hello", stream=True)
    events = [event async for event in stream]
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == REPLY
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == REPLY


async def test_image_and_audio_inputs_reach_the_backend(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    clip = "data:audio/wav;base64," + base64.b64encode(wav(1.0)).decode()
    response = await client.responses.create(
        model="auto",
        input=[
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": png_data_url(), "detail": "auto"},
                    {"type": "input_file", "file_data": clip, "filename": "clip.wav"},
                ],
            }
        ],  # fmt: skip
    )
    assert response.status == "completed"
    message = sent(emu)["messages"][-1]
    assert len(message["images"]) == 2  # Ollama takes pictures and audio in `images`
    assert base64.b64decode(message["images"][1])[:4] == b"RIFF"


async def test_tool_round_trip(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    first = await client.responses.create(model="auto", input=QUESTION, tools=[WEATHER])
    calls = [item for item in first.output if item.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Tokyo"})
    assert call.call_id
    assert sent(emu)["tools"][0]["function"]["name"] == "get_weather"

    answer = await client.responses.create(
        model="auto",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 22 C"}],
        tools=[WEATHER],
    )
    assert answer.output_text == REPLY
    messages = sent(emu)["messages"]
    assert messages[0] == {"role": "user", "content": QUESTION}
    assert messages[1]["role"] == "assistant"
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": {"city": "Tokyo"},
    }
    assert messages[2] == {"role": "tool", "content": "Sunny, 22 C", "tool_name": "get_weather"}


async def test_tool_round_trip_without_the_store(client: AsyncOpenAI, emu: OllamaEmulator) -> None:
    """A stateless client sends the whole history back: its input, the call, the output."""
    question: Any = {"role": "user", "content": QUESTION}
    first = await client.responses.create(
        model="auto", input=[question], tools=[WEATHER], store=False
    )
    history = [question, *[item.model_dump(exclude_none=True) for item in first.output]]
    call = next(item for item in first.output if item.type == "function_call")
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny"}
    answer = await client.responses.create(
        model="auto", input=[*history, output], tools=[WEATHER], store=False
    )
    assert answer.output_text == REPLY
    roles = [m["role"] for m in sent(emu)["messages"]]
    assert roles == ["user", "assistant", "tool"]


async def test_stream_of_a_tool_call(client: AsyncOpenAI) -> None:
    async with client.responses.stream(model="auto", input=QUESTION, tools=[WEATHER]) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_response()
    types = [e.type for e in events]
    assert "response.function_call_arguments.delta" in types
    assert "response.function_call_arguments.done" in types
    call = next(item for item in final.output if item.type == "function_call")
    assert json.loads(call.arguments) == {"city": "Tokyo"}


async def test_previous_response_id_continues_the_conversation(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    first = await client.responses.create(model="auto", input="My name is Ada.")
    second = await client.responses.create(
        model="auto", previous_response_id=first.id, input="What is my name?",
        instructions="Answer in one word.",
    )  # fmt: skip
    assert second.previous_response_id == first.id
    assert sent(emu)["messages"] == [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": REPLY},
        {"role": "user", "content": "What is my name?"},
    ]
    kept = await client.responses.retrieve(first.id)
    assert (kept.id, kept.output_text) == (first.id, REPLY)


async def test_unknown_previous_response_is_a_400(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="auto", previous_response_id="resp_nope", input="x")
    assert caught.value.status_code == 400
    assert "Previous response with id 'resp_nope' not found" in caught.value.message
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"


async def test_a_response_not_stored_cannot_be_continued(client: AsyncOpenAI) -> None:
    first = await client.responses.create(model="auto", input="Hi", store=False)
    with pytest.raises(openai.BadRequestError):
        await client.responses.create(model="auto", previous_response_id=first.id, input="x")
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(first.id)


async def test_json_schema_format_reaches_the_backend(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    response = await client.responses.create(
        model="auto",
        input="Where?",
        text={"format": {"type": "json_schema", "name": "city", "schema": CITY, "strict": True}},
    )
    assert sent(emu)["format"] == CITY  # the Ollama adapter's `format` from response_format
    assert set(json.loads(response.output_text)) == {"city"}
    assert response.text is not None and response.text.format is not None
    assert response.text.format.type == "json_schema"


async def test_max_output_tokens_makes_an_incomplete_response(
    client: AsyncOpenAI, emu: OllamaEmulator
) -> None:
    response = await client.responses.create(model="auto", input="Hi", max_output_tokens=3)
    assert sent(emu)["options"]["num_predict"] == 3
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "".join(DEFAULT_REPLY[:3])


async def test_failure_mid_stream_is_an_error_event_and_response_failed(
    gateway: TestServer, emu: OllamaEmulator
) -> None:
    emu.fail_mid_stream = "the runner crashed"
    body = {"model": "auto", "input": "Hi", "stream": True}
    async with ClientSession() as s, s.post(gateway.make_url("/v1/responses"), json=body) as r:
        assert r.status == 200
        text = await r.text()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert "the runner crashed" in events[-2]["message"]
    assert events[-1]["response"]["status"] == "failed"
    assert "event: response.failed\n" in text


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"type": "web_search_call", "id": "ws_1", "status": "completed"}, "input"),
        ({"role": "user", "content": [{"type": "input_image", "file_id": "file-1",
                                       "detail": "auto"}]}, "input[0].content[0].image_url"),
        ({"role": "user", "content": [{"type": "input_file", "file_data":
                                       "data:application/pdf;base64,JVBERi0x"}]},
         "input[0].content[0].file_data"),
    ],
)  # fmt: skip
async def test_what_the_gateway_cannot_serve_is_a_400_naming_it(
    client: AsyncOpenAI, item: Any, param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="auto", input=[item])
    assert caught.value.param is not None and caught.value.param.startswith(param)


async def test_other_tools_are_refused(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(
            model="auto", input="x", tools=[{"type": "web_search_preview"}]
        )
    assert caught.value.param is not None and caught.value.param.startswith("tools")


async def test_no_input_is_a_400(client: AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await client.responses.create(model="auto", input=[], instructions="Be brief.")
    assert caught.value.param == "input"


async def test_store_limits(make_gateway: MakeGateway, emu: OllamaEmulator) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", emu.url), server={"responses_store_max": 1}
    )
    async with AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x") as client:
        first = await client.responses.create(model="auto", input="one")
        await client.responses.create(model="auto", input="two")
        with pytest.raises(openai.BadRequestError):  # pushed out by the second
            await client.responses.create(model="auto", previous_response_id=first.id, input="x")


def test_store_drops_the_least_recently_used_and_the_old() -> None:
    store = ResponseStore(max_items=2, ttl_s=60)
    for name in ("a", "b"):
        store.put(name, Stored([], {"id": name}))
    assert store.get("a") is not None  # now b is the least recently used
    store.put("c", Stored([], {"id": "c"}))
    assert store.get("b") is None
    assert store.get("a") is not None and store.get("c") is not None
    store.put("old", Stored([], {"id": "old"}, at=0.0))  # pushes out a; older than its ttl
    assert store.get("old") is None and store.get("a") is None and len(store) == 1
