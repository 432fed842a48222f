"""Wrongly typed client fields are a 400 naming the field, never a 500 (issue 8, class 7):
every field the Ollama adapter translates is typed at the edge, and what the ollama client
itself refuses is mapped at the adapter as a safety net. Unexpected errors are logged once
per request, with a full traceback only for the first of a type each minute."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from gateway import server
from gateway.backends.ollama import OllamaBackend
from gateway.core.errors import InvalidRequest
from gateway.core.messages import BackendRequest, ChatMessage
from gateway.fronts import openai as front
from preprocess.media import Text
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator

USER = {"role": "user", "content": "hi"}
CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL = {"type": "function", "function": {"name": "f"}}


def with_messages(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [USER, *messages]}


# field sent -> the param the 400 names. Each of these gave a 500 with a traceback, or
# reached Ollama as something it cannot take.
WRONG: list[tuple[dict[str, Any], str]] = [
    ({"stop": 5}, "stop"),
    ({"stop": [1, 2]}, "stop[0]"),
    ({"tools": "x"}, "tools"),
    ({"tools": ["x"]}, "tools[0]"),
    ({"tools": [{"type": "function", "function": "x"}]}, "tools[0].function"),
    ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": 3}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
     "tools[0].function.parameters"),
    ({"tools": [TOOL], "tool_choice": 3}, "tool_choice"),
    (with_messages({"role": "assistant", "tool_calls": "x"}), "messages[1].tool_calls"),
    (with_messages({"role": "assistant", "tool_calls": [1]}), "messages[1].tool_calls[0]"),
    (with_messages({"role": "assistant", "tool_calls": [{**CALL, "function": "x"}]}),
     "messages[1].tool_calls[0].function"),
    (with_messages({"role": "assistant", "tool_calls": [
        {**CALL, "function": {"name": "f", "arguments": "[1]"}}]}),
     "messages[1].tool_calls[0].function.arguments"),
    (with_messages({"role": "tool", "tool_call_id": 5, "content": "x"}),
     "messages[1].tool_call_id"),
    (with_messages({"role": "tool", "tool_call_id": [], "content": "x"}),
     "messages[1].tool_call_id"),
    (with_messages({"role": "user", "name": 5, "content": "x"}), "messages[1].name"),
    ({"response_format": "json"}, "response_format"),
    ({"response_format": {"type": "xml"}}, "response_format"),
    ({"response_format": {"type": "json_schema", "json_schema": "x"}},
     "response_format.json_schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": "x"}}},
     "response_format.json_schema.schema"),
    ({"keep_alive": [1]}, "keep_alive"),
    ({"keep_alive": {}}, "keep_alive"),
    ({"keep_alive": "forever"}, "keep_alive"),
    ({"keep_alive": True}, "keep_alive"),
    ({"seed": "x"}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"temperature": "hot"}, "temperature"),
    ({"temperature": True}, "temperature"),
    ({"top_p": {}}, "top_p"),
    ({"top_k": "x"}, "top_k"),
    ({"frequency_penalty": "x"}, "frequency_penalty"),
    ({"presence_penalty": []}, "presence_penalty"),
    ({"logprobs": "yes"}, "logprobs"),
    ({"top_logprobs": "x"}, "top_logprobs"),
    ({"top_logprobs": 21}, "top_logprobs"),
    ({"reasoning_effort": 3}, "reasoning_effort"),
    ({"reasoning_effort": "extreme"}, "reasoning_effort"),
    ({"think": {}}, "think"),
]  # fmt: skip


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("fields", "param"), WRONG, ids=[p for _, p in WRONG])
async def test_a_wrongly_typed_field_is_a_400_naming_it(
    gateway: TestServer, ollama: OllamaEmulator, fields: dict[str, Any], param: str, stream: bool
) -> None:
    body = {"model": "gemma4:e4b", "messages": [USER], "stream": stream, **fields}
    status, _, reply = await post_chat(gateway, body)
    assert status == 400, reply
    error = reply["error"]
    assert (error["param"], error["type"]) == (param, "invalid_request_error")
    assert param in error["message"]
    assert ollama.chats() == []  # refused before Ollama saw it


async def test_right_types_still_reach_ollama_as_sent(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    fields = {"stop": "x", "seed": 7, "temperature": 0, "top_p": 0.5, "keep_alive": "1h30m",
              "logprobs": False, "response_format": {"type": "json_schema", "json_schema": {
                  "name": "a", "schema": {"type": "object"}}}}  # fmt: skip
    status, _, reply = await post_chat(
        gateway, {"model": "gemma4:e4b", "messages": [USER], **fields}
    )
    assert status == 200, reply
    sent = ollama.chats()[-1]
    assert sent["options"] | {"num_ctx": 0} == {
        "stop": ["x"], "seed": 7, "temperature": 0, "top_p": 0.5, "num_ctx": 0
    }  # fmt: skip
    assert (sent["keep_alive"], sent["format"]) == ("1h30m", {"type": "object"})


async def test_what_the_ollama_client_refuses_is_a_400_at_the_adapter(
    ollama: OllamaEmulator,
) -> None:
    """The safety net, for a field that got past the edge (another front, a new field)."""
    adapter = OllamaBackend(backend("ollama", "ollama", ollama.url))
    request = BackendRequest("gemma4:e4b", [ChatMessage("user", [Text("hi")])], {"keep_alive": [1]})
    try:
        with pytest.raises(InvalidRequest) as caught:
            await adapter.chat(request)
    finally:
        await adapter.close()
    assert caught.value.param == "keep_alive"
    assert caught.value.message.startswith("Ollama cannot take keep_alive")


class Boom(Exception):
    """An exception only this module raises, so other tests' tracebacks do not count."""


async def test_alike_unexpected_errors_write_one_traceback(
    gateway: TestServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(body: bytes) -> None:
        raise Boom("a bug")

    monkeypatch.setattr(front, "parse_chat_request", explode)
    caplog.set_level(logging.INFO, logger="gateway")
    ids = [f"req-{i}" for i in range(5)]
    for request_id in ids:
        status, _, reply = await post_chat(
            gateway, {"messages": [USER]}, **{"X-Request-Id": request_id}
        )
        assert status == 500 and request_id in reply["error"]["message"]

    def unexpected() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "unexpected error" in r.getMessage()]

    logged = unexpected()  # one record per request, naming it
    assert all(i in r.getMessage() for r, i in zip(logged, ids, strict=True))
    assert [r.exc_info is not None for r in logged] == [True, False, False, False, False]
    assert "Boom: a bug" in logged[-1].getMessage()

    monkeypatch.setattr(server, "TRACEBACK_EVERY_S", 0.0)  # as if the minute had passed
    await post_chat(gateway, {"messages": [USER]})
    assert unexpected()[-1].exc_info is not None
