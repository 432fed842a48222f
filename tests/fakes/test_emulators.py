"""The emulators against the recorded payloads (protocols.md §7) and the official clients.

Gateway tests trust these emulators to speak the real protocols, so every reply is checked
for the same keys and value types as a recording, and the `ollama` / `openai` packages are
driven against them exactly as they would be against the real servers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import ollama
import openai
import pytest
from aiohttp import ClientSession

from tests.fakes import vectors as tv
from tests.fakes.base import Received
from tests.fakes.ollama_render import image_tags
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.fakes.openai_server import LMModel, OpenAIEmulator

USER = [{"role": "user", "content": "why is the sky blue?"}]
REPLY = "Hello! How can I help you today?"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt "
PNG_B64 = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(16)).decode()
GEMMA = "google/gemma-4-26b-a4b"
# Keys the recordings and the emulators may legitimately differ by (all documented):
O1_EXTRA = frozenset({"images", "done_reason"})  # 2023 docs: images:null, no done_reason
SHOW_EXTRA = frozenset({"modelfile", "template"})  # §1.4 lists them; TV-S1 is a subset
V0_EXTRA = frozenset({"stats", "model_info", "runtime"})  # /v1 drops them (TV-L4 note)
# Today's /api/tags adds capabilities and details.context_length (api/types.go, §0b.5)
TAGS_EXTRA = frozenset({"capabilities", "context_length"})


def assert_same_shape(
    actual: Any, recorded: Any, optional: frozenset[str] = frozenset(), path: str = "$"
) -> None:
    """Same keys (up to `optional`) and same value types, recursively; list items are
    compared with the recording's first item. bool is not int, None is its own type."""
    if isinstance(recorded, dict):
        assert isinstance(actual, dict), f"{path}: want an object, got {actual!r}"
        differ = set(actual) ^ set(recorded)
        assert differ <= optional, f"{path}: keys differ by {sorted(differ - optional)}"
        for key in set(actual) & set(recorded):
            assert_same_shape(actual[key], recorded[key], optional, f"{path}.{key}")
    elif isinstance(recorded, list):
        assert isinstance(actual, list), f"{path}: want a list, got {actual!r}"
        for i, item in enumerate(actual if recorded else []):
            assert_same_shape(item, recorded[0], optional, f"{path}[{i}]")
    else:
        assert type(actual) is type(recorded), (
            f"{path}: {type(actual).__name__} {actual!r} where the recording has "
            f"{type(recorded).__name__} {recorded!r}"
        )


@pytest.mark.parametrize(
    ("actual", "recorded", "optional"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, frozenset()),  # a key missing
        ({"a": 1, "c": 3}, {"a": 1}, frozenset()),  # a key too many
        ({"a": True}, {"a": 1}, frozenset()),  # bool is not int
        ({"a": 1.0}, {"a": 1}, frozenset()),  # float is not int
        ({"a": None}, {"a": "x"}, frozenset()),  # null is not a string
        ({"a": [{"b": "1"}]}, {"a": [{"b": 1}]}, frozenset()),  # inside list items
        ({"a": {"b": 1}}, {"a": {"b": 1, "c": 1}}, frozenset({"d"})),  # c is not optional
    ],
)
def test_shape_check_can_fail(actual: Any, recorded: Any, optional: frozenset[str]) -> None:
    with pytest.raises(AssertionError):
        assert_same_shape(actual, recorded, optional)


def test_shape_check_accepts_documented_extras() -> None:
    assert_same_shape({"a": 1, "x": None, "l": [{"b": "s"}, {"b": "t"}]},
                      {"a": 2, "l": [{"b": "r"}]}, frozenset({"x"}))  # fmt: skip


# --- helpers --------------------------------------------------------------------------


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    models = [  # "gemma4" as TV-S1 shows it (plus audio, from its encoder): no thinking
        OllamaModel("gemma4", capabilities=("completion", "vision", "audio")),
        OllamaModel("gemma4:26b", capabilities=("completion", "vision"), context_length=262144),
        OllamaModel("textonly", family="llama", capabilities=("completion",)),
        OllamaModel("gemma4:e4b"),  # as today's `ollama show gemma4:e4b`: it thinks
    ]
    async with OllamaEmulator(models) as emu:
        yield emu


async def post_lines(http: ClientSession, url: str, body: dict[str, Any]) -> list[Any]:
    """POST and split an NDJSON answer (checking it is one) into parsed lines."""
    async with http.post(url, json=body) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "application/x-ndjson"
        text = await r.text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


async def post_json(http: ClientSession, url: str, body: Any) -> tuple[int, Any]:
    async with http.post(url, json=body) as r:
        return r.status, await r.json()


async def get_json(http: ClientSession, url: str, **kw: Any) -> tuple[int, Any]:
    async with http.get(url, **kw) as r:
        return r.status, await r.json(content_type=None)


# --- Ollama: model endpoints ----------------------------------------------------------


async def test_ollama_root_version_and_recording(emu: OllamaEmulator, http: ClientSession) -> None:
    async with http.get(emu.url + "/") as r:
        assert r.status == 200 and await r.text() == "Ollama is running"
    assert await get_json(http, emu.url + "/api/version") == (200, {"version": "0.20.0"})
    await post_json(http, emu.url + "/api/show", {"model": "gemma4"})
    assert emu.received == [
        Received("GET", "/", None),
        Received("GET", "/api/version", None),
        Received("POST", "/api/show", {"model": "gemma4"}),
    ]
    assert emu.url.startswith("http://127.0.0.1:") and emu.chats() == []


async def test_ollama_tags_match_tv_t1_and_t2(emu: OllamaEmulator, http: ClientSession) -> None:
    status, tags = await get_json(http, emu.url + "/api/tags")
    assert status == 200
    assert_same_shape(tags, tv.TV_T1, TAGS_EXTRA)
    assert_same_shape(tags, tv.TV_T2, TAGS_EXTRA | {"parent_model"})  # TV-T2 omits it
    first = tags["models"][0]
    assert [m["name"] for m in tags["models"]] == ["gemma4", "gemma4:26b", "textonly", "gemma4:e4b"]
    assert first["digest"] == hashlib.sha256(b"gemma4").hexdigest()
    assert first["size"] == 9608350245
    assert first["details"] == {
        **tv.TV_T2["models"][0]["details"], "parent_model": "", "context_length": 131072
    }  # fmt: skip
    assert first["capabilities"] == ["completion", "vision", "audio"]
    assert tags["models"][3]["capabilities"] == [
        "completion", "vision", "audio", "tools", "thinking"
    ]  # fmt: skip
    assert tags["models"][2]["details"]["families"] == ["llama"]


async def test_ollama_show_matches_tv_s1(emu: OllamaEmulator, http: ClientSession) -> None:
    status, show = await post_json(http, emu.url + "/api/show", {"model": "gemma4"})
    assert status == 200
    assert_same_shape(show, tv.TV_S1, SHOW_EXTRA)
    assert set(show["model_info"]) == set(tv.TV_S1["model_info"])  # all encoder keys
    assert show["model_info"]["gemma4.context_length"] == 131072
    assert show["capabilities"] == ["completion", "vision", "audio"]
    assert show["details"] == tv.TV_S1["details"]

    _, show = await post_json(http, emu.url + "/api/show", {"model": "gemma4:26b"})
    info = show["model_info"]
    assert "gemma4.vision.block_count" in info and "gemma4.audio.block_count" not in info
    assert info["gemma4.context_length"] == 262144

    _, show = await post_json(http, emu.url + "/api/show", {"model": "textonly"})
    assert show["model_info"]["general.architecture"] == "llama"
    assert not any(".vision." in k or ".audio." in k for k in show["model_info"])
    assert show["model_info"]["llama.context_length"] == 131072

    assert await post_json(http, emu.url + "/api/show", {"model": "nope"}) == (
        404,
        {"error": "model 'nope' not found"},
    )


async def test_ollama_ps_and_reloads_follow_num_ctx(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    assert await get_json(http, emu.url + "/api/ps") == (200, {"models": []})
    chat = {"model": "gemma4", "messages": USER, "stream": False}
    for num_ctx, reloads in [(8192, 1), (8192, 1), (None, 1), (16384, 2)]:
        options = {"num_ctx": num_ctx} if num_ctx else {}
        status, reply = await post_json(http, emu.url + "/api/chat", {**chat, "options": options})
        assert status == 200 and emu.reloads == reloads
    assert reply["load_duration"] == 101_397_084  # the last one paid for a load
    _, ps = await get_json(http, emu.url + "/api/ps")
    assert_same_shape(ps, tv.TV_P1)
    assert [(m["name"], m["context_length"]) for m in ps["models"]] == [("gemma4", 16384)]
    assert emu.models[0].loaded and emu.models[0].loaded_context == 16384


async def test_ollama_load_and_unload_requests(emu: OllamaEmulator, http: ClientSession) -> None:
    status, reply = await post_json(http, emu.url + "/api/chat", {"model": "gemma4:26b"})
    assert status == 200
    assert_same_shape(reply, tv.TV_O_LOAD)
    assert reply["done_reason"] == "load" and emu.models[1].loaded
    body = {"model": "gemma4:26b", "messages": [], "keep_alive": 0}
    _, reply = await post_json(http, emu.url + "/api/chat", body)
    assert reply["done_reason"] == "unload" and not emu.models[1].loaded
    assert (await get_json(http, emu.url + "/api/ps"))[1] == {"models": []}


# --- Ollama: chat ---------------------------------------------------------------------


async def test_ollama_stream_matches_tv_o1_and_o4(emu: OllamaEmulator, http: ClientSession) -> None:
    lines = await post_lines(http, emu.url + "/api/chat", {"model": "gemma4", "messages": USER})
    *chunks, final = lines
    assert len(chunks) == len(emu.reply_tokens)
    for chunk in chunks:
        assert_same_shape(chunk, tv.TV_O1_CHUNK, O1_EXTRA)
        assert chunk["done"] is False and chunk["model"] == "gemma4"
    assert "".join(c["message"]["content"] for c in chunks) == REPLY
    assert_same_shape(final, tv.TV_O4)
    assert_same_shape(final, tv.TV_O1_FINAL, O1_EXTRA)
    assert_same_shape(final, tv.TV_O3_FINAL)
    assert final["message"] == {"role": "assistant", "content": ""}
    assert (final["done"], final["done_reason"]) == (True, "stop")
    # the rendered prompt's words: 5 of the question and 2 of Gemma 4's turn markup
    assert final["eval_count"] == 9 and final["prompt_eval_count"] == 5 + 2
    assert emu.prompts == ["<bos><|turn>user\nwhy is the sky blue?<turn|>\n<|turn>model\n"]
    assert emu.chats() == [{"model": "gemma4", "messages": USER}]


async def test_ollama_non_stream_matches_tv_o4_and_o2(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    body = {"model": "gemma4", "stream": False, "messages": [
        {"role": "user", "content": "what is in this image?", "images": [PNG_B64]}
    ]}  # fmt: skip
    status, reply = await post_json(http, emu.url + "/api/chat", body)
    assert status == 200
    assert_same_shape(reply, tv.TV_O4)
    assert_same_shape(reply, tv.TV_O2_RESPONSE, O1_EXTRA)
    assert reply["message"] == {"role": "assistant", "content": REPLY}
    # words, markup, the [img-0] tag, and Ollama's flat per-image count
    assert reply["prompt_eval_count"] == 5 + 2 + 1 + 768
    assert reply["total_duration"] == (
        reply["load_duration"] + reply["prompt_eval_duration"] + reply["eval_duration"]
    )


async def test_ollama_num_predict_stops_with_length(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    body = {"model": "gemma4", "messages": USER, "options": {"num_predict": 2}}
    *chunks, final = await post_lines(http, emu.url + "/api/chat", body)
    assert [c["message"]["content"] for c in chunks] == ["Hello", "!"]
    assert (final["done_reason"], final["eval_count"]) == ("length", 2)
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "stream": False})
    assert (reply["message"]["content"], reply["done_reason"]) == ("Hello!", "length")
    body["options"] = {"num_predict": -1}  # unlimited
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "stream": False})
    assert (reply["message"]["content"], reply["done_reason"]) == (REPLY, "stop")


async def test_ollama_tool_call_matches_tv_o3(emu: OllamaEmulator, http: ClientSession) -> None:
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}
    body = {"model": "gemma4", "tools": [tool],
            "messages": [{"role": "user", "content": "What is the weather in Tokyo?"}]}  # fmt: skip
    chunk, final = await post_lines(http, emu.url + "/api/chat", body)
    assert_same_shape(chunk, tv.TV_O3_CHUNK)
    assert chunk["message"]["tool_calls"] == tv.TV_O3_CHUNK["message"]["tool_calls"]
    assert_same_shape(final, tv.TV_O3_FINAL)
    assert final["done_reason"] == "stop"
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "stream": False})
    assert reply["message"]["tool_calls"][0]["function"]["arguments"] == {"city": "Tokyo"}
    body["messages"] = USER  # no "weather": an ordinary answer despite the tools
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "stream": False})
    assert reply["message"] == {"role": "assistant", "content": REPLY}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"messages": USER}, 400, "model is required"),
        ({"model": "llama3", "messages": USER}, 404,
         'model "llama3" not found, try pulling it first'),
        ({"model": "gemma4", "messages": [{"role": "user", "content": "x", "images": ["a@b="]}]},
         400, "illegal base64 data at input byte 1"),
        ({"model": "gemma4", "messages": [{"role": "user", "content": "x", "images": [
            "data:image/png;base64," + PNG_B64]}]}, 400, "illegal base64 data at input byte 4"),
        ({"model": "textonly", "messages": [{"role": "user", "content": "x", "images": [PNG_B64]}]},
         400, '"textonly" does not support vision'),
        ({"model": "gemma4:26b", "messages": [{"role": "user", "content": "x", "images": [
            base64.b64encode(WAV).decode()]}]}, 400, '"gemma4:26b" does not support audio'),
    ],
)  # fmt: skip
async def test_ollama_chat_errors(
    emu: OllamaEmulator, http: ClientSession, body: dict[str, Any], status: int, error: str
) -> None:
    assert await post_json(http, emu.url + "/api/chat", body) == (status, {"error": error})


async def test_ollama_wav_goes_to_an_audio_model(emu: OllamaEmulator, http: ClientSession) -> None:
    message = {"role": "user", "content": "x", "images": [base64.b64encode(WAV).decode()]}
    body = {"model": "gemma4:latest", "messages": [message], "stream": False}
    status, reply = await post_json(http, emu.url + "/api/chat", body)
    assert status == 200 and reply["model"] == "gemma4:latest"  # echoes the name asked for


async def test_ollama_mid_stream_error_matches_tv_o5(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    emu.fail_mid_stream = tv.TV_O5_ERROR["error"]
    lines = await post_lines(http, emu.url + "/api/chat", {"model": "gemma4", "messages": USER})
    assert len(lines) == 2  # one token, then the error line, then the end (status 200)
    assert_same_shape(lines[0], tv.TV_O1_CHUNK, O1_EXTRA)
    assert lines[0]["message"]["content"] == "Hello"
    assert lines[1] == tv.TV_O5_ERROR
    body = {"model": "gemma4", "messages": USER, "stream": False}
    assert await post_json(http, emu.url + "/api/chat", body) == (500, tv.TV_O5_ERROR)


async def test_ollama_status_override_and_first_byte_delay(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    busy = {"error": "server busy, please try again.  maximum pending requests exceeded"}
    emu.status_override = (503, busy)
    assert await post_json(http, emu.url + "/api/chat", {"model": "x"}) == (503, busy)
    emu.status_override = None
    emu.delay_first_byte = 0.3
    started = time.monotonic()
    body = {"model": "gemma4", "messages": USER, "stream": False}
    status, _ = await post_json(http, emu.url + "/api/chat", body)
    assert status == 200 and time.monotonic() - started >= 0.3


async def test_ollama_notices_a_client_hanging_up(emu: OllamaEmulator, http: ClientSession) -> None:
    emu.token_delay = 0.2
    body = {"model": "gemma4", "messages": USER}
    async with http.post(emu.url + "/api/chat", json=body) as r:
        first = json.loads(await r.content.readline())
        assert first["message"]["content"] == "Hello"
        assert not emu.chat_cancelled.is_set()
        r.close()  # drop the connection mid-answer
    await asyncio.wait_for(emu.chat_cancelled.wait(), 5)
    assert emu.cancellations == 1


async def test_ollama_stop_refuses_connections(http: ClientSession) -> None:
    emu = OllamaEmulator()
    url = await emu.start()
    await emu.stop()
    with pytest.raises(OSError):
        await get_json(http, url + "/api/version")


# --- Ollama through the official client -----------------------------------------------


async def test_ollama_client_chat_list_show_ps(emu: OllamaEmulator) -> None:
    client = ollama.AsyncClient(host=emu.url)
    reply = await client.chat(model="gemma4", messages=USER, options={"num_ctx": 8192})
    assert reply.message.content == REPLY and reply.done_reason == "stop"
    assert reply.eval_count == len(emu.reply_tokens)

    parts = [p async for p in await client.chat(model="gemma4", messages=USER, stream=True)]
    assert "".join(p.message.content or "" for p in parts) == REPLY
    assert parts[-1].done and not parts[0].done

    images = [{"role": "user", "content": "what is this?", "images": [b"\x89PNG raw bytes"]}]
    reply = await client.chat(model="gemma4", messages=images)
    assert reply.prompt_eval_count == 3 + 2 + 1 + 768
    assert base64.b64decode(emu.chats()[-1]["messages"][0]["images"][0]) == b"\x89PNG raw bytes"

    listing = await client.list()
    assert [m.model for m in listing.models] == ["gemma4", "gemma4:26b", "textonly", "gemma4:e4b"]
    assert listing.models[0].details and listing.models[0].details.family == "gemma4"
    show = await client.show("gemma4:26b")
    assert show.modelinfo and show.modelinfo["gemma4.context_length"] == 262144
    assert show.capabilities == ["completion", "vision"]
    ps = await client.ps()
    assert [(m.model, m.context_length) for m in ps.models] == [("gemma4", 8192)]
    await client.close()


async def test_ollama_client_sees_errors(emu: OllamaEmulator) -> None:
    client = ollama.AsyncClient(host=emu.url)
    with pytest.raises(ollama.ResponseError) as err:
        await client.chat(model="llama3", messages=USER)
    assert err.value.status_code == 404
    assert err.value.error == 'model "llama3" not found, try pulling it first'
    with pytest.raises(ollama.ResponseError) as err:
        await client.show("llama3")
    assert err.value.status_code == 404

    emu.fail_mid_stream = "an error was encountered while running the model"
    got: list[str] = []
    with pytest.raises(ollama.ResponseError) as err:
        async for part in await client.chat(model="gemma4", messages=USER, stream=True):
            got.append(part.message.content or "")
    assert got == ["Hello"]
    assert err.value.error == emu.fail_mid_stream and err.value.status_code == -1
    await client.close()


# --- Ollama as it behaves today (protocols.md §0b) -------------------------------------


@pytest.mark.parametrize(
    ("content", "count", "offset", "want", "next_offset"),
    [  # the cases of model/renderers/image_tags_test.go, copied
        ("describe this image", 2, 0, "[img-0][img-1] describe this image", 2),
        ("compare [img] and [img]", 2, 3, "compare [img-3] and [img-4]", 5),
        ("compare [img]", 2, 0, "[img-1] compare [img-0]", 2),
        ("compare [img] and [img]", 1, 0, "compare [img-0] and [img]", 1),
        ("compare [img-0] and [img-1]", 2, 0, "compare [img-0] and [img-1]", 2),
    ],
)
def test_ollama_image_tags_match_the_renderer_tests(
    content: str, count: int, offset: int, want: str, next_offset: int
) -> None:
    assert image_tags(content, count, offset) == (want, next_offset)


async def test_ollama_thinks_unless_told_not_to(emu: OllamaEmulator, http: ClientSession) -> None:
    body = {"model": "gemma4:e4b", "messages": USER, "stream": False}
    _, reply = await post_json(http, emu.url + "/api/chat", body)
    assert reply["message"]["thinking"] and reply["message"]["content"] == REPLY
    assert emu.prompts[-1].startswith("<bos><|turn>system\n<|think|>\n<turn|>")
    for think in (False, "low", "max", True):
        status, reply = await post_json(http, emu.url + "/api/chat", {**body, "think": think})
        assert status == 200 and ("thinking" in reply["message"]) is (think is not False)
    # a model without the capability: think=true is refused, think=false is fine
    textonly = {**body, "model": "textonly"}
    assert await post_json(http, emu.url + "/api/chat", {**textonly, "think": True}) == (
        400, {"error": '"textonly" does not support thinking'}
    )  # fmt: skip
    assert (await post_json(http, emu.url + "/api/chat", {**textonly, "think": False}))[0] == 200


@pytest.mark.parametrize("think", ["minimal", "none", "xhigh", 1])
async def test_ollama_refuses_invalid_think_values(
    emu: OllamaEmulator, http: ClientSession, think: Any
) -> None:
    body = {"model": "gemma4:e4b", "messages": USER, "think": think}
    assert await post_json(http, emu.url + "/api/chat", body) == (400, {"error": (
        f"invalid think value: {json.dumps(think)} "
        '(must be "high", "medium", "low", "max", true, or false)'
    )})  # fmt: skip


async def test_ollama_audio_with_thinking_answers_nothing(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    message = {"role": "user", "content": "Transcribe", "images": [base64.b64encode(WAV).decode()]}
    body = {"model": "gemma4:e4b", "messages": [message], "stream": False}
    _, reply = await post_json(http, emu.url + "/api/chat", body)
    assert reply["message"]["content"] == "" and "thank you" in reply["message"]["thinking"]
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "think": False})
    assert reply["message"] == {"role": "assistant", "content": REPLY}


async def test_ollama_renders_media_where_placeholders_are(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    def user(content: str) -> dict[str, Any]:
        return {"role": "user", "content": content, "images": [PNG_B64, PNG_B64]}

    for content, rendered in [
        ("00:00 [img] 00:01 [img] what happens?", "00:00 [img-0] 00:01 [img-1] what happens?"),
        ("what happens?", "[img-0][img-1] what happens?"),  # all before the text
    ]:
        body = {"model": "gemma4", "messages": [user(content)], "stream": False}
        assert (await post_json(http, emu.url + "/api/chat", body))[0] == 200
        assert emu.prompts[-1] == f"<bos><|turn>user\n{rendered}<turn|>\n<|turn>model\n"


async def test_ollama_drops_old_messages_counting_768_per_image(
    emu: OllamaEmulator, http: ClientSession
) -> None:
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "look", "images": [PNG_B64] * 6},  # 6 x 768 = 4608
        {"role": "assistant", "content": "a cat"},
        {"role": "user", "content": "and now?"},
    ]
    body = {"model": "gemma4", "messages": history, "stream": False}
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "options": {"num_ctx": 4096}})
    assert emu.truncated[-1] == 1  # the images' message went, silently
    assert "[img-" not in emu.prompts[-1] and "be brief" in emu.prompts[-1]
    assert reply["done_reason"] == "stop" and reply["prompt_eval_count"] < 100
    _, reply = await post_json(http, emu.url + "/api/chat", {**body, "options": {"num_ctx": 8192}})
    assert emu.truncated[-1] == 0 and reply["prompt_eval_count"] > 6 * 768


async def test_ollama_format_and_logprobs(emu: OllamaEmulator, http: ClientSession) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"},
              "days": {"type": "integer"}}, "required": ["city", "days"]}  # fmt: skip
    body = {"model": "gemma4", "messages": USER, "format": schema, "logprobs": True,
            "top_logprobs": 2}  # fmt: skip
    *chunks, final = await post_lines(http, emu.url + "/api/chat", body)
    assert json.loads("".join(c["message"]["content"] for c in chunks)) == {
        "city": "Tokyo", "days": 1
    }  # fmt: skip
    for chunk in chunks:
        (logprob,) = chunk["logprobs"]
        assert logprob["token"] == chunk["message"]["content"]
        assert len(logprob["top_logprobs"]) == 2
    status, error = await post_json(http, emu.url + "/api/chat", {**body, "top_logprobs": 21})
    assert (status, error) == (400, {"error": "top_logprobs must be between 0 and 20"})


# --- OpenAI-compatible: listings ------------------------------------------------------


@pytest.fixture(params=["string", "object"])
async def lms(request: pytest.FixtureRequest) -> AsyncIterator[OpenAIEmulator]:
    models = [
        LMModel(GEMMA, state="loaded", loaded_context_length=8192),
        LMModel("qwen2-7b", type="llm", arch="qwen2", publisher="lmstudio-community"),
        LMModel("gemma-3-4b-it", arch="gemma3", max_context_length=131072),
    ]
    async with OpenAIEmulator(models, error_shape=request.param) as emu:
        yield emu


async def test_lmstudio_v1_models_matches_tv_l5(lms: OpenAIEmulator, http: ClientSession) -> None:
    status, listing = await get_json(http, lms.url + "/v1/models")
    assert status == 200
    assert_same_shape(listing, tv.TV_L5)
    assert [m["id"] for m in listing["data"]] == [GEMMA, "qwen2-7b", "gemma-3-4b-it"]


async def test_lmstudio_v0_models_matches_tv_l1_and_l2(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    status, listing = await get_json(http, lms.url + "/api/v0/models")
    assert status == 200
    loaded, llm, cold = listing["data"]
    assert_same_shape(loaded, tv.TV_L2_ENTRY)
    assert_same_shape({**listing, "data": [llm, cold]}, tv.TV_L1)
    assert (loaded["state"], loaded["loaded_context_length"]) == ("loaded", 8192)
    assert (llm["type"], llm["state"], llm["arch"]) == ("llm", "not-loaded", "qwen2")
    assert cold["max_context_length"] == 131072 and "loaded_context_length" not in cold


async def test_lmstudio_answers_unknown_routes_with_200(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    for path in ("/", "/health", "/api/v9/anything"):
        async with http.get(lms.url + path) as r:
            assert r.status == 200 and "Unexpected endpoint" in await r.text()


async def test_plain_server_has_no_v0_listing(http: ClientSession) -> None:
    async with OpenAIEmulator([LMModel("some-model")], flavour="plain") as emu:
        async with http.get(emu.url + "/") as r:
            assert r.status == 200
        async with http.get(emu.url + "/api/v0/models") as r:
            assert r.status == 404
        status, listing = await get_json(http, emu.url + "/v1/models")
    assert status == 200 and listing["object"] == "list"
    assert [set(m) for m in listing["data"]] == [{"id", "object", "created", "owned_by"}]


# --- OpenAI-compatible: chat ----------------------------------------------------------


async def sse_events(http: ClientSession, url: str, body: dict[str, Any]) -> list[Any]:
    """POST and split an SSE answer into parsed `data:` payloads ("[DONE]" kept as is)."""
    async with http.post(url, json=body) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == "text/event-stream"
        text = await r.text()
    frames = text.split("\n\n")
    assert frames[-1] == "" and all(f.startswith("data: ") for f in frames[:-1])
    payloads = [f.removeprefix("data: ") for f in frames[:-1]]
    return [p if p == "[DONE]" else json.loads(p) for p in payloads]


async def test_lmstudio_non_stream_matches_tv_l4(lms: OpenAIEmulator, http: ClientSession) -> None:
    status, reply = await post_json(http, lms.url + "/v1/chat/completions", tv.TV_L4_REQUEST)
    assert status == 404  # granite is not one of this server's models
    body = {**tv.TV_L4_REQUEST, "model": GEMMA}
    status, reply = await post_json(http, lms.url + "/v1/chat/completions", body)
    assert status == 200
    assert_same_shape(reply, tv.TV_L4_RESPONSE, V0_EXTRA)
    assert not set(reply) & V0_EXTRA
    assert re.fullmatch(r"chatcmpl-[a-z0-9]{21}", reply["id"])
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": REPLY}
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"] == {"prompt_tokens": 6, "completion_tokens": 9, "total_tokens": 15}
    assert lms.chats()[-1] == body

    body["max_tokens"] = 3
    _, reply = await post_json(http, lms.url + "/v1/chat/completions", body)
    assert reply["choices"][0]["message"]["content"] == "Hello! How"
    assert reply["choices"][0]["finish_reason"] == "length"
    assert reply["usage"]["completion_tokens"] == 3


async def test_lmstudio_stream_matches_tv_a1(lms: OpenAIEmulator, http: ClientSession) -> None:
    body = {"model": GEMMA, "messages": USER, "stream": True}
    events = await sse_events(http, lms.url + "/v1/chat/completions", body)
    role, *tokens, finish, done = events
    assert done == "[DONE]"
    assert_same_shape(role, tv.TV_A1[0])
    for chunk in tokens:
        assert_same_shape(chunk, tv.TV_A1[1])
    assert_same_shape(finish, tv.TV_A1[2])
    assert role["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"]["content"] for c in tokens) == REPLY
    assert finish["choices"][0] == {"index": 0, "delta": {}, "logprobs": None,
                                    "finish_reason": "stop"}  # fmt: skip
    assert len({(e["id"], e["created"], e["model"]) for e in events[:-1]}) == 1


async def test_lmstudio_stream_usage_matches_tv_a2(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    body = {"model": GEMMA, "messages": USER, "stream": True, "max_tokens": 1,
            "stream_options": {"include_usage": True}}  # fmt: skip
    events = await sse_events(http, lms.url + "/v1/chat/completions", body)
    role, token, finish, usage, done = events
    for chunk, recorded in [(role, tv.TV_A1[0]), (token, tv.TV_A1[1]), (finish, tv.TV_A1[2])]:
        assert_same_shape(chunk, recorded, frozenset({"usage"}))
        assert chunk["usage"] is None  # A-oas: null on every chunk but the last
    assert finish["choices"][0]["finish_reason"] == "length"
    assert set(usage) == set(tv.TV_A1[0]) | {"usage"}
    assert_same_shape({"choices": usage["choices"], "usage": usage["usage"]},
                      tv.TV_A2_USAGE_CHUNK)  # fmt: skip
    assert usage["choices"] == [] and usage["usage"] == {
        "prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6}  # fmt: skip
    assert done == "[DONE]"


def error_text(shape: str, body: Any) -> str:
    """The message of an error body in either recorded shape, checking the shape."""
    if shape == "string":
        assert set(body) == {"error"} and isinstance(body["error"], str)
        return str(body["error"])
    assert set(body["error"]) == {"message", "type", "param", "code"}  # A-oas error object
    return str(body["error"]["message"])


def image_message(url: str) -> list[dict[str, Any]]:
    parts = [{"type": "text", "text": "what is this?"},
             {"type": "image_url", "image_url": {"url": url}}]  # fmt: skip
    return [{"role": "user", "content": parts}]


@pytest.mark.parametrize(
    ("model", "url", "error"),
    [
        (GEMMA, "data:image/webp;base64," + PNG_B64, tv.LMSTUDIO_ERROR["error"]),
        (GEMMA, "https://example.com/cat.png", tv.LMSTUDIO_ERROR["error"]),
        (GEMMA, "data:image/png;base64,not base64!", tv.LMSTUDIO_ERROR["error"]),
        ("qwen2-7b", "data:image/png;base64," + PNG_B64,
         "Model does not support images. Please use a model that does."),
    ],
)  # fmt: skip
async def test_lmstudio_image_errors(
    lms: OpenAIEmulator, http: ClientSession, model: str, url: str, error: str
) -> None:
    body = {"model": model, "messages": image_message(url)}
    status, reply = await post_json(http, lms.url + "/v1/chat/completions", body)
    assert status == 400 and error_text(lms.error_shape, reply) == error
    if lms.error_shape == "string":
        assert reply == {"error": error}  # exactly the recorded LM Studio bodies


async def test_lmstudio_accepts_png_and_jpeg(lms: OpenAIEmulator, http: ClientSession) -> None:
    for kind in ("png", "jpeg"):
        body = {"model": GEMMA, "messages": image_message(f"data:image/{kind};base64,{PNG_B64}")}
        status, reply = await post_json(http, lms.url + "/v1/chat/completions", body)
        assert status == 200 and reply["usage"]["prompt_tokens"] == 3 + 256


async def test_lmstudio_unknown_model(lms: OpenAIEmulator, http: ClientSession) -> None:
    body = {"model": "llama3", "messages": USER}
    status, reply = await post_json(http, lms.url + "/v1/chat/completions", body)
    assert status == 404
    assert error_text(lms.error_shape, reply).startswith('Model "llama3" not found.')
    assert GEMMA in error_text(lms.error_shape, reply)  # it lists "Your models"
    if lms.error_shape == "object":
        assert reply["error"]["code"] == "model_not_found" and reply["error"]["param"] == "model"


async def test_lmstudio_jit_load_evicts_the_previous_jit_model(
    lms: OpenAIEmulator, http: ClientSession
) -> None:
    for model in ("qwen2-7b", "gemma-3-4b-it"):
        status, _ = await post_json(
            http, lms.url + "/v1/chat/completions", {"model": model, "messages": USER}
        )
        assert status == 200
    _, listing = await get_json(http, lms.url + "/api/v0/models")
    states = {m["id"]: (m["state"], m.get("loaded_context_length")) for m in listing["data"]}
    assert states == {GEMMA: ("loaded", 8192), "qwen2-7b": ("not-loaded", None),
                      "gemma-3-4b-it": ("loaded", 4096)}  # fmt: skip


async def test_lmstudio_mid_stream_error(lms: OpenAIEmulator, http: ClientSession) -> None:
    lms.fail_mid_stream = "model crashed"
    body = {"model": GEMMA, "messages": USER, "stream": True}
    role, token, error = await sse_events(http, lms.url + "/v1/chat/completions", body)
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert token["choices"][0]["delta"] == {"content": "Hello"}
    assert error_text(lms.error_shape, error) == "model crashed"  # and no [DONE]
    status, reply = await post_json(http, lms.url + "/v1/chat/completions", {**body, "stream": 0})
    assert status == 500 and error_text(lms.error_shape, reply) == "model crashed"


async def test_lmstudio_knobs(lms: OpenAIEmulator, http: ClientSession) -> None:
    lms.status_override = (500, {"error": "boom"})
    assert await post_json(http, lms.url + "/v1/chat/completions", {}) == (500, {"error": "boom"})
    lms.status_override = None
    lms.delay_first_byte = 0.3
    started = time.monotonic()
    body = {"model": GEMMA, "messages": USER}
    status, _ = await post_json(http, lms.url + "/v1/chat/completions", body)
    assert status == 200 and time.monotonic() - started >= 0.3
    lms.delay_first_byte, lms.token_delay = 0, 0.2
    async with http.post(lms.url + "/v1/chat/completions", json={**body, "stream": True}) as r:
        assert (await r.content.readline()).startswith(b"data: {")
        r.close()
    await asyncio.wait_for(lms.chat_cancelled.wait(), 5)


async def test_api_key_is_required_when_set(http: ClientSession) -> None:
    async with OpenAIEmulator([LMModel(GEMMA)], api_key="sekrit", error_shape="object") as emu:
        body = {"model": GEMMA, "messages": USER}
        for headers, status in [({}, 401), ({"Authorization": "Bearer nope"}, 401),
                                ({"Authorization": "Bearer sekrit"}, 200)]:  # fmt: skip
            async with http.post(emu.url + "/v1/chat/completions", json=body, headers=headers) as r:
                assert r.status == status
                if status == 401:
                    assert (await r.json())["error"]["code"] == "invalid_api_key"
        assert (await get_json(http, emu.url + "/v1/models"))[0] == 401
        assert len(emu.chats()) == 3  # refused requests are recorded too


# --- OpenAI-compatible through the official client ------------------------------------


async def test_openai_client_plain_and_stream_with_usage(lms: OpenAIEmulator) -> None:
    async with openai.AsyncOpenAI(base_url=lms.url + "/v1", api_key="x", max_retries=0) as c:
        completion = await c.chat.completions.create(model=GEMMA, messages=USER)  # type: ignore[arg-type]
        assert completion.choices[0].message.content == REPLY
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage and completion.usage.total_tokens == 14
        assert [m.id async for m in c.models.list()] == [GEMMA, "qwen2-7b", "gemma-3-4b-it"]

        stream = await c.chat.completions.create(
            model=GEMMA, messages=USER, stream=True,  # type: ignore[arg-type]
            stream_options={"include_usage": True},
        )  # fmt: skip
        chunks = [chunk async for chunk in stream]
    # The TV-A2 sequence: role + "", the tokens, the finish chunk, then choices=[] + usage.
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks[1:-2]) == REPLY
    assert chunks[-2].choices[0].delta.content is None
    assert chunks[-2].choices[0].finish_reason == "stop" and chunks[-2].usage is None
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9 and chunks[-1].usage.prompt_tokens == 5


async def test_openai_client_sees_errors(lms: OpenAIEmulator) -> None:
    async with openai.AsyncOpenAI(base_url=lms.url + "/v1", api_key="x", max_retries=0) as c:
        with pytest.raises(openai.NotFoundError) as err:
            await c.chat.completions.create(model="llama3", messages=USER)  # type: ignore[arg-type]
        # The client keeps the "error" member as `body`: a string or an error object.
        body = err.value.body
        message = body if lms.error_shape == "string" else body["message"]  # type: ignore[index]
        assert str(message).startswith('Model "llama3" not found')
        lms.fail_mid_stream = "model crashed"
        stream = await c.chat.completions.create(model=GEMMA, messages=USER, stream=True)  # type: ignore[arg-type]
        with pytest.raises(openai.APIError) as stream_err:
            async for _ in stream:
                pass
    # The client keeps the event's "error" member as `body`; only the object shape gives it
    # a message (a bare string becomes "An error occurred during streaming").
    if lms.error_shape == "string":
        assert stream_err.value.body == "model crashed"
    else:
        assert stream_err.value.message == "model crashed"
