"""The gateway's Ollama-compatible front, driven by the official `ollama` Python client (the
one Ollama's own docs use) against two emulated backends at once: an Ollama with Gemma 4 E4B
and an LM Studio with the 26B A4B. A client that only speaks Ollama's native API must reach
every model of both through the same pipeline as the OpenAI front, and read what Ollama
itself would send: NDJSON streams whose last line carries the counts, `{"error": "..."}`
bodies that `ollama.ResponseError` turns into a message and a status.

Where the client hides a field (it drops what its pydantic models do not declare), the test
reads the raw HTTP answer instead, because other clients read those fields: Open WebUI takes
`name` and `model` from `/api/tags` and parses `/api/version` into integers; LiteLLM posts
`{"name": ...}` to `/api/show`.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import ollama
import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from PIL import Image

from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import OpenAIEmulator
from tests.gateway.racks import A26B, E4B, emu, gateway, lms  # noqa: F401 (fixtures)
from tests.media import png, wav

REPLY = "".join(DEFAULT_REPLY)
# E4B is on Ollama only (it sees and hears), A26B on LM Studio only (it sees, not hears).
KEY = "k1"
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": CITY,
    },
}


def host(gateway: TestServer) -> str:
    """What a user types as OLLAMA_HOST: the gateway's address, no path."""
    return f"http://{gateway.host}:{gateway.port}"


@pytest.fixture
async def client(
    gateway: TestServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ollama.AsyncClient]:
    # The client adds `Authorization` from OLLAMA_API_KEY when set; these tests decide it.
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    async with ollama.AsyncClient(host=host(gateway), timeout=30) as c:
        yield c


def user(text: str, *media: bytes) -> list[dict[str, Any]]:
    """One user message as the client takes it: `images` holds raw bytes (it base64s them),
    pictures and audio alike, as Ollama tells them apart by their bytes."""
    message: dict[str, Any] = {"role": "user", "content": text}
    if media:
        message["images"] = list(media)
    return [message]


def ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def raw(
    gateway: TestServer, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], str]:
    """One plain HTTP request: status, headers and the body as text."""
    async with (
        ClientSession() as s,
        s.request(method, gateway.make_url(path), data=body, headers=headers) as r,
    ):
        return r.status, dict(r.headers), await r.text()


async def streamed_chat(
    client: ollama.AsyncClient, model: str, messages: list[dict[str, Any]], **kwargs: Any
) -> list[ollama.ChatResponse]:
    return [part async for part in await client.chat(model, messages, stream=True, **kwargs)]


def assert_final_counts(last: ollama.ChatResponse | ollama.GenerateResponse) -> None:
    """The done chunk carries what Ollama's does: why it stopped, and the counts and
    durations clients turn into usage (LiteLLM, Open WebUI read exactly these)."""
    assert last.done is True
    assert last.done_reason == "stop"
    assert isinstance(last.prompt_eval_count, int) and last.prompt_eval_count > 0
    assert isinstance(last.eval_count, int) and last.eval_count > 0
    assert isinstance(last.total_duration, int) and last.total_duration > 0


# --- discovery: what a client asks before it chats ---------------------------------------


async def test_root_says_ollama_is_running_as_clients_probe_it(gateway: TestServer) -> None:
    # `ollama` CLI's Heartbeat is HEAD / (api/client.go); scripts and UIs GET / and compare
    # the text.
    status, _, text = await raw(gateway, "GET", "/")
    assert (status, text) == (200, "Ollama is running")
    status, _, _ = await raw(gateway, "HEAD", "/")
    assert status == 200


async def test_version_is_numeric_so_open_webui_can_compare_it(gateway: TestServer) -> None:
    # Open WebUI (routers/ollama.py get_ollama_versions) does
    # tuple(map(int, re.sub(r'^v|-.*', '', v['version']).split('.'))): anything but dotted
    # integers makes its model list fail.
    status, _, text = await raw(gateway, "GET", "/api/version")
    assert status == 200
    version = json.loads(text)["version"]
    assert all(p.isdigit() for p in re.sub(r"^v|-.*", "", version).split("."))


async def test_list_has_auto_the_aliases_and_every_model_of_both_backends(
    client: ollama.AsyncClient,
) -> None:
    listed = (await client.list()).models
    names = [m.model for m in listed]
    assert {"auto", "gemma4-e4b", "gemma4-26b-a4b", E4B, A26B} <= set(names)
    assert names[0] == "auto"
    assert all(m.details is not None for m in listed if m.model in (E4B, A26B))


async def test_tags_entries_have_name_and_model_as_open_webui_reads_them(
    gateway: TestServer,
) -> None:
    # Open WebUI merges /api/tags by entry['model'] and then reads model['name']
    # (utils/models.py fetch_ollama_models): an entry without either breaks its model list.
    status, _, text = await raw(gateway, "GET", "/api/tags")
    assert status == 200
    models = json.loads(text)["models"]
    assert all(isinstance(m["name"], str) and isinstance(m["model"], str) for m in models)
    assert all("details" in m for m in models if m["model"] in (E4B, A26B))


async def test_show_tells_capabilities_and_window_of_a_gemma4_on_either_backend(
    client: ollama.AsyncClient,
) -> None:
    shown = await client.show(E4B)
    assert {"completion", "vision", "audio"} <= set(shown.capabilities or ())
    assert shown.details is not None
    assert context_length(shown) == 131072
    shown = await client.show(A26B)  # LM Studio's: it sees, it does not hear
    assert "vision" in (shown.capabilities or ()) and "audio" not in (shown.capabilities or ())
    assert context_length(shown) == 262144
    shown = await client.show("gemma4-e4b")  # an alias /api/tags lists is shown too
    assert "audio" in (shown.capabilities or ())


def context_length(shown: ollama.ShowResponse) -> int:
    """`model_info["<arch>.context_length"]`, the key Ollama's show puts the window in."""
    info = shown.modelinfo or {}
    (value,) = [v for k, v in info.items() if k.endswith(".context_length")]
    return int(value)


async def test_show_takes_name_as_litellm_sends_it(gateway: TestServer) -> None:
    # LiteLLM's OllamaModelInfo.get_runtime_model_info posts {"name": model} to /api/show
    # and reads the window from the model_info key containing "context_length".
    status, _, text = await raw(
        gateway, "POST", "/api/show", json.dumps({"name": E4B}).encode(),
        **{"Content-Type": "application/json"},
    )  # fmt: skip
    assert status == 200
    info = json.loads(text)["model_info"]
    assert [v for k, v in info.items() if "context_length" in k] == [131072]


async def test_ps_lists_the_loaded_model_with_when_it_expires(client: ollama.AsyncClient) -> None:
    running = {m.model: m for m in (await client.ps()).models}
    assert E4B in running
    assert A26B not in running  # LM Studio has it, but not loaded
    # Open WebUI (routers/ollama.py get_all_models) copies each loaded model's expires_at
    # into its list and shows it; Ollama's own is in the future (now + keep_alive), and the
    # backend said so (the emulator: now + 5 min), so a zero time would be the gateway's.
    expires = running[E4B].expires_at
    assert expires is not None and expires > datetime.now(UTC)


# --- chat -------------------------------------------------------------------------------


async def test_chat_answers_whole(client: ollama.AsyncClient, emu: OllamaEmulator) -> None:
    reply = await client.chat(E4B, user("Hello there"), stream=False)
    assert reply.message.role == "assistant"
    assert reply.message.content == REPLY
    assert_final_counts(reply)
    assert emu.chats()[-1]["model"] == E4B


async def test_chat_streams_ndjson_ending_in_the_counts(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    parts = await streamed_chat(client, E4B, user("Hello there"))
    assert len(parts) > 2
    assert "".join(p.message.content or "" for p in parts) == REPLY
    assert all(p.done is False for p in parts[:-1])
    assert_final_counts(parts[-1])
    assert emu.chats()[-1]["model"] == E4B


async def test_stream_is_the_default_as_in_ollama(gateway: TestServer) -> None:
    # Ollama streams unless the body says "stream": false (api/types.go ChatRequest.Stream is
    # a *bool, nil meaning true); curl users rely on it.
    status, headers, text = await post_chat(
        gateway, {"model": E4B, "messages": user("Hello there")}, path="/api/chat"
    )
    assert status == 200
    assert headers["Content-Type"].startswith("application/x-ndjson")
    lines = ndjson(text)
    assert len(lines) > 2 and lines[-1]["done"] is True
    assert "".join(line["message"]["content"] for line in lines) == REPLY


async def test_options_reach_the_backend_and_length_is_the_reason(
    client: ollama.AsyncClient, emu: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    reply = await client.chat(E4B, user("Count"), stream=False, options={"num_predict": 3})
    assert (reply.message.content, reply.done_reason) == ("Hello! How", "length")
    assert emu.chats()[-1]["options"]["num_predict"] == 3
    reply = await client.chat(A26B, user("Count"), stream=False, options={"num_predict": 3})
    assert (reply.message.content, reply.done_reason) == ("Hello! How", "length")
    assert lms.chats()[-1]["max_tokens"] == 3


async def test_a_json_schema_format_is_honoured(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    reply = await client.chat(E4B, user("Where?"), stream=False, format=CITY)
    assert json.loads(reply.message.content or "") == {"city": "Tokyo"}
    assert emu.chats()[-1]["format"] == CITY


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_come_back_with_arguments_as_an_object(
    client: ollama.AsyncClient, stream: bool
) -> None:
    # Ollama's tool call arguments are a JSON object, not OpenAI's string: the client's
    # Message.ToolCall.Function.arguments is a Mapping and refuses a string.
    messages = user("What is the weather in Tokyo?")
    if stream:
        parts = await streamed_chat(client, E4B, messages, tools=[WEATHER])
        calls = [c for p in parts for c in p.message.tool_calls or ()]
        last: ollama.ChatResponse = parts[-1]
    else:
        last = await client.chat(E4B, messages, tools=[WEATHER], stream=False)
        calls = list(last.message.tool_calls or ())
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Tokyo"})
    ]
    assert last.done is True


async def test_an_image_in_images_reaches_ollama_as_an_image(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    reply = await client.chat(E4B, user("What is it?", png(64, 48)), stream=False)
    assert reply.message.content == REPLY
    (sent,) = [m for m in emu.chats()[-1]["messages"] if m.get("images")]
    (image,) = sent["images"]
    with Image.open(io.BytesIO(base64.b64decode(image))) as picture:
        assert picture.format in ("PNG", "JPEG")
    assert "[img-0]" in emu.prompts[-1]


async def test_audio_in_images_goes_to_a_model_that_hears_and_arrives_as_audio(
    client: ollama.AsyncClient, emu: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    reply = await client.chat("auto", user("Transcribe this.", wav(2)), stream=False)
    assert reply.message.content == REPLY  # not the empty answer of a thinking Gemma 4
    sent = emu.chats()[-1]
    assert sent["model"] == E4B
    (audio,) = [i for m in sent["messages"] for i in m.get("images") or ()]
    data = base64.b64decode(audio)
    assert (data[:4], data[8:12]) == (b"RIFF", b"WAVE")  # how Ollama tells audio (llm/media.go)
    assert not lms.chats()


async def test_audio_to_a_model_that_does_not_hear_is_a_400_saying_why(
    client: ollama.AsyncClient, lms: OpenAIEmulator
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat(A26B, user("Transcribe this.", wav(2)), stream=False)
    assert caught.value.status_code == 400
    assert isinstance(caught.value.error, str) and "audio" in caught.value.error.lower()
    assert not lms.chats()


async def test_thinking_comes_back_in_its_own_field(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    # Ollama returns a thinking model's reasoning as message.thinking, never in content.
    reply = await client.chat(E4B, user("Hello there"), stream=False, think=True)
    assert reply.message.content == REPLY and reply.message.thinking
    assert emu.chats()[-1]["think"] is True
    parts = await streamed_chat(client, E4B, user("Hello there"), think=True)
    assert "".join(p.message.thinking or "" for p in parts)
    assert "".join(p.message.content or "" for p in parts) == REPLY
    reply = await client.chat(E4B, user("Hello there"), stream=False, think=False)
    assert reply.message.content == REPLY and not reply.message.thinking
    assert emu.chats()[-1]["think"] is False


async def test_a_tool_result_turn_in_ollamas_shape_keeps_which_call_it_answers(
    client: ollama.AsyncClient, emu: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    # The second turn of a tool call as Ollama clients send it: the assistant's call with
    # arguments as an object, then a `tool` message naming the tool (`tool_name`, the
    # client's Message.tool_name), no ids. Each backend must still learn which call the
    # result answers: Ollama by `tool_name` (as backends/ollama_format.py sends it), an
    # OpenAI-compatible server by `tool_call_id` (Required in the openai SDK's
    # ChatCompletionToolMessageParam) matching the assistant's call `id`.
    call = {"function": {"name": "get_weather", "arguments": {"city": "Tokyo"}}}
    messages = [
        *user("What is the weather in Tokyo?"),
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": "22 degrees, sunny", "tool_name": "get_weather"},
    ]
    reply = await client.chat(E4B, messages, tools=[WEATHER], stream=False)
    assert reply.done is True
    sent = emu.chats()[-1]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Tokyo"}
    assert (sent[2]["role"], sent[2].get("tool_name")) == ("tool", "get_weather")
    reply = await client.chat(A26B, messages, tools=[WEATHER], stream=False)
    assert reply.done is True
    sent = lms.chats()[-1]["messages"]
    (sent_call,) = sent[1]["tool_calls"]
    assert json.loads(sent_call["function"]["arguments"]) == {"city": "Tokyo"}
    assert sent[2]["role"] == "tool" and sent[2].get("tool_call_id") == sent_call["id"]


async def test_a_backend_failing_mid_stream_ends_it_with_an_error_line(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    # Ollama reports a failure after the first line as a last `{"error": ...}` line (status
    # 200 already sent); the client raises it as ResponseError.
    emu.fail_mid_stream = "llama runner process has terminated"
    parts: list[ollama.ChatResponse] = []
    with pytest.raises(ollama.ResponseError) as caught:
        async for part in await client.chat(E4B, user("Hello there"), stream=True):
            parts.append(part)
    assert parts and not any(p.done for p in parts)
    assert isinstance(caught.value.error, str) and caught.value.error


@pytest.mark.parametrize("model", [A26B, "gemma4-26b-a4b"])
async def test_a_model_only_lm_studio_has_is_answered_through_the_ollama_front(
    client: ollama.AsyncClient, emu: OllamaEmulator, lms: OpenAIEmulator, model: str
) -> None:
    reply = await client.chat(model, user("Hello there"), stream=False)
    assert reply.message.content == REPLY
    assert (reply.prompt_eval_count, reply.eval_count) == (2, len(DEFAULT_REPLY))
    assert lms.chats()[-1]["model"] == A26B
    parts = await streamed_chat(client, model, user("Hello there"))
    assert "".join(p.message.content or "" for p in parts) == REPLY
    assert_final_counts(parts[-1])
    assert parts[-1].eval_count == len(DEFAULT_REPLY)
    assert [c["model"] for c in lms.chats()] == [A26B, A26B] and not emu.chats()


# --- generate ---------------------------------------------------------------------------


async def test_generate_answers_a_prompt_with_a_system(
    client: ollama.AsyncClient, emu: OllamaEmulator
) -> None:
    reply = await client.generate(
        E4B, "Why is the sky blue?", system="Answer like a pirate.", stream=False
    )
    assert reply.response == REPLY
    assert_final_counts(reply)
    assert "Answer like a pirate." in emu.prompts[-1]
    assert "Why is the sky blue?" in emu.prompts[-1]


async def test_generate_takes_images(client: ollama.AsyncClient, emu: OllamaEmulator) -> None:
    reply = await client.generate(E4B, "What is it?", images=[png(32, 32)], stream=False)
    assert reply.response == REPLY
    assert [len(m.get("images") or ()) for m in emu.chats()[-1]["messages"]] == [1]
    assert "[img-0]" in emu.prompts[-1]


async def test_generate_streams(client: ollama.AsyncClient, lms: OpenAIEmulator) -> None:
    stream = await client.generate(A26B, "Why is the sky blue?", system="Be brief.", stream=True)
    parts = [part async for part in stream]
    assert "".join(p.response or "" for p in parts) == REPLY
    assert all(p.done is False for p in parts[:-1])
    assert_final_counts(parts[-1])
    sent = lms.chats()[-1]["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/generate", {"model": E4B, "keep_alive": 0, "prompt": ""}),
        ("/api/chat", {"model": E4B, "keep_alive": 0, "messages": []}),
    ],
)
async def test_an_empty_request_with_keep_alive_0_unloads_the_model(
    gateway: TestServer, emu: OllamaEmulator, path: str, body: dict[str, Any]
) -> None:
    # Open WebUI's "unload" (routers/ollama.py unload_model) posts the generate body and wants
    # a 200. Ollama (server/routes.go, "expire the runner if unload is requested (empty
    # prompt, keep alive is 0)") frees the model and answers done_reason "unload".
    status, _, reply = await post_chat(gateway, body, path=path)
    assert status == 200
    last = ndjson(reply)[-1] if isinstance(reply, str) else reply
    assert (last["done"], last["done_reason"]) == (True, "unload")
    model = emu.find(E4B)
    assert model is not None and model.loaded is False


# --- what the gateway adds --------------------------------------------------------------


async def test_the_answer_says_which_model_served_it_and_why(gateway: TestServer) -> None:
    body = {"model": "auto", "messages": user("Hello there"), "stream": False}
    status, headers, reply = await post_chat(gateway, body, path="/api/chat", **{
        "X-Request-Id": "front-1"})  # fmt: skip
    assert status == 200 and reply["done"] is True
    assert (headers["X-Gateway-Model"], headers["X-Gateway-Backend"]) == (A26B, "lmstudio")
    assert headers["X-Gateway-Route"] == "default"
    assert {k.lower(): v for k, v in headers.items()}["x-request-id"] == "front-1"
    audio = base64.b64encode(wav(2)).decode()
    body = {"model": "auto", "messages": [{"role": "user", "content": "Transcribe.",
                                           "images": [audio]}]}  # fmt: skip
    status, headers, text = await post_chat(gateway, body, path="/api/chat")  # streamed
    assert status == 200 and ndjson(text)[-1]["done"] is True
    assert (headers["X-Gateway-Model"], headers["X-Gateway-Route"]) == (E4B, "audio")


# --- errors -----------------------------------------------------------------------------


async def test_an_unknown_model_is_a_404_with_a_readable_message(
    client: ollama.AsyncClient,
) -> None:
    with pytest.raises(ollama.ResponseError) as caught:
        await client.chat("llama9:1b", user("Hi"), stream=False)
    assert caught.value.status_code == 404
    assert isinstance(caught.value.error, str) and "llama9:1b" in caught.value.error
    with pytest.raises(ollama.ResponseError) as caught:  # streamed: refused before a byte
        await streamed_chat(client, "llama9:1b", user("Hi"))
    assert caught.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as caught:
        await client.show("llama9:1b")
    assert caught.value.status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[]",
        json.dumps({"model": E4B, "messages": "Hi"}).encode(),
        json.dumps({"model": E4B, "messages": [{"role": "user", "content": "Hi",
                                                "images": ["not base64!"]}]}).encode(),
        json.dumps({"model": E4B, "messages": user("Hi"), "think": "extreme"}).encode(),
    ],
    ids=["empty", "not-json", "not-an-object", "messages-not-a-list", "bad-base64", "bad-think"],
)  # fmt: skip
async def test_a_malformed_body_is_a_400_in_ollamas_shape(gateway: TestServer, body: bytes) -> None:
    status, _, text = await raw(
        gateway, "POST", "/api/chat", body, **{"Content-Type": "application/json"}
    )
    assert status == 400
    error = json.loads(text)["error"]
    assert isinstance(error, str) and error


@pytest.fixture
async def keyed(emu: OllamaEmulator, lms: OpenAIEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(
        backend("ollama", "ollama", emu.url),
        backend("lmstudio", "openai", lms.url),
        server={"api_keys": [KEY]},
    )


async def test_with_api_keys_the_ollama_routes_want_the_bearer_key(
    keyed: TestServer, emu: OllamaEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    async with ollama.AsyncClient(host=host(keyed), timeout=30) as anonymous:
        with pytest.raises(ollama.ResponseError) as caught:
            await anonymous.list()
        assert caught.value.status_code == 401
        assert isinstance(caught.value.error, str)  # Ollama's shape, not OpenAI's object
        with pytest.raises(ollama.ResponseError) as caught:
            await anonymous.chat(E4B, user("Hi"), stream=False)
        assert caught.value.status_code == 401
    assert not emu.chats()
    headers = {"Authorization": f"Bearer {KEY}"}
    async with ollama.AsyncClient(host=host(keyed), timeout=30, headers=headers) as keyholder:
        assert E4B in [m.model for m in (await keyholder.list()).models]
        reply = await keyholder.chat(E4B, user("Hi"), stream=False)
        assert reply.message.content == REPLY


def _pull(c: ollama.AsyncClient) -> Awaitable[Any]:
    return c.pull(E4B)


def _push(c: ollama.AsyncClient) -> Awaitable[Any]:
    return c.push(E4B)


def _create(c: ollama.AsyncClient) -> Awaitable[Any]:
    return c.create(model="mine", from_=E4B, system="Be brief.")


def _copy(c: ollama.AsyncClient) -> Awaitable[Any]:
    return c.copy(E4B, "mine")


def _delete(c: ollama.AsyncClient) -> Awaitable[Any]:
    return c.delete(E4B)


@pytest.mark.parametrize(
    ("call", "path"),
    [
        (_pull, "/api/pull"),
        (_push, "/api/push"),
        (_create, "/api/create"),
        (_copy, "/api/copy"),
        (_delete, "/api/delete"),
    ],
)
async def test_model_management_is_a_501_that_points_at_the_backend(
    client: ollama.AsyncClient,
    emu: OllamaEmulator,
    call: Callable[[ollama.AsyncClient], Awaitable[Any]],
    path: str,
) -> None:
    # The gateway fronts several servers: which one should pull, or lose, a model is the
    # user's call, made against that server, never guessed and forwarded.
    with pytest.raises(ollama.ResponseError) as caught:
        await call(client)
    assert caught.value.status_code == 501
    assert isinstance(caught.value.error, str) and "backend" in caught.value.error.lower()
    assert path not in [r.path for r in emu.received]


async def test_a_streamed_pull_is_refused_before_any_progress(client: ollama.AsyncClient) -> None:
    # `ollama pull` streams progress lines; the refusal must come as the HTTP status.
    with pytest.raises(ollama.ResponseError) as caught:
        async for _ in await client.pull(E4B, stream=True):
            pass
    assert caught.value.status_code == 501


# --- embeddings (land separately) -------------------------------------------------------


@pytest.fixture
async def embedder(make_gateway: MakeGateway) -> AsyncIterator[tuple[TestServer, OllamaEmulator]]:
    models = [
        OllamaModel(E4B),
        OllamaModel(
            "embeddinggemma:latest", family="gemma3", parameter_size="307.58M",
            capabilities=("embedding",), context_length=2048, size=621875417,
        ),
    ]  # fmt: skip
    async with OllamaEmulator(models) as emu:
        yield await make_gateway(backend("ollama", "ollama", emu.url)), emu


async def test_embed_returns_one_vector_per_input(
    embedder: tuple[TestServer, OllamaEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Needs the gateway's /api/embed and an emulator that answers /api/embed as Ollama does
    # ({"model", "embeddings": [[...], ...], "total_duration", "load_duration",
    # "prompt_eval_count"}).
    gateway, emu = embedder
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    async with ollama.AsyncClient(host=host(gateway), timeout=30) as c:
        embedded = await c.embed(model="embeddinggemma", input=["Hello", "World"])
    assert len(embedded.embeddings) == 2 and all(embedded.embeddings)
    (sent,) = [r.body for r in emu.received if r.path == "/api/embed"]
    assert sent["input"] == ["Hello", "World"]


async def test_legacy_embeddings_returns_one_vector(
    embedder: tuple[TestServer, OllamaEmulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    # /api/embeddings (prompt in, `embedding` out) is what older clients and Open WebUI's
    # legacy route call.
    gateway, _ = embedder
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    async with ollama.AsyncClient(host=host(gateway), timeout=30) as c:
        embedded = await c.embeddings(model="embeddinggemma", prompt="Hello")
    assert len(embedded.embedding) > 0
