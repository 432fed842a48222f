"""Hypothesis fuzzing through a live gateway in front of the Ollama emulator (issue 8): chat
bodies with a wrong type in any field, deep nesting, huge numbers, lone surrogates and null
bytes, and media that are random, truncated or mislabelled. Every answer is a 2xx, a 4xx or a
named 5xx (502/503/504) with the OpenAI error body, none takes longer than `HANG_S`, and
`/healthz` answers after each one."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, ClientTimeout
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator
from tests.gateway.test_media import make_video
from tests.media import png, wav

NAMED_5XX = {502, 503, 504}
HANG_S = 30  # far above any answer here (media decode included): beyond it, a hang
CHAT_EXAMPLES, RAW_EXAMPLES, MEDIA_EXAMPLES = 1000, 300, 300  # ~20 s together
FUZZ = settings(
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI is stable
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

Media = tuple[str, str, bytes]  # part type, MIME type or audio format, bytes

# --- strategies -------------------------------------------------------------------------

TEXT = st.text(max_size=40)  # every code point but the surrogates, NUL included
# Lone surrogates too: json.dumps escapes them, strict parsers refuse them.
ANY_TEXT = st.text(st.characters(exclude_categories=()), max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 1, max_value=10**40)
    | st.floats()  # NaN and ±Infinity too: Python's json writes them, strict parsers refuse
    | ANY_TEXT
)
HOSTILE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)


def either(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's plausible values or, one time in ten, any JSON value at all (any more often
    and nearly every body would stop at the first field the gateway checks)."""
    return st.sampled_from(range(10)).flatmap(lambda k: HOSTILE if k == 9 else good)


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def tool(name: str) -> dict[str, Any]:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


MIMES = st.sampled_from(
    ["image/png", "image/jpeg", "image/webp", "image/gif", "image/svg+xml", "audio/wav",
     "video/mp4", "video/webm", "text/plain", "application/octet-stream", ""]
)  # fmt: skip
URLS = either(
    st.builds(data_url, MIMES, st.binary(max_size=64))
    | st.sampled_from(["https://example.invalid/a.png", "file:///etc/passwd",
                       "http://127.0.0.1/x.png", "data:,", "data:image/png;base64,%%%"])
)  # fmt: skip
PART_LABELS = {
    "image_url": ["image/png", "image/jpeg", "image/webp", "image/gif"],
    "input_audio": ["wav", "mp3", "flac", "ogg"],
    "video_url": ["video/mp4", "video/webm", "video/quicktime"],
}
ALL_LABELS = [label for labels in PART_LABELS.values() for label in labels]
B64 = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())
PARTS = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": either(TEXT)}),
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": either(
        st.fixed_dictionaries({"url": URLS}, optional={"detail": either(TEXT)}))}),
    st.fixed_dictionaries({"type": st.just("input_audio"), "input_audio": either(
        st.fixed_dictionaries({"data": either(B64), "format": either(
            st.sampled_from(["wav", "mp3", "flac", "ogg", "aac"]))}))}),
    st.fixed_dictionaries({"type": st.just("video_url"), "video_url": either(
        st.fixed_dictionaries({"url": URLS}))}),
    st.dictionaries(st.sampled_from(["type", "text", "image_url", "file"]), HOSTILE, max_size=3),
)  # fmt: skip
TOOL_CALLS = st.lists(
    st.builds(lambda name, args: {"id": "call_1", "type": "function",
                                  "function": {"name": name, "arguments": args}},
              st.sampled_from(["get_weather", "f"]), st.sampled_from(['{"city": "Tokyo"}', "{}"])),
    max_size=2,
)  # fmt: skip
MESSAGES = st.fixed_dictionaries(
    {
        "role": either(st.sampled_from(["system", "developer", "user", "assistant", "tool"])),
        "content": either(TEXT | st.lists(PARTS, max_size=3)),
    },
    optional={"name": HOSTILE, "tool_calls": either(TOOL_CALLS), "tool_call_id": HOSTILE},
)
OPTIONAL_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "model": either(st.sampled_from(["auto", "gemma4", "gemma4-e4b", "gemma4:e4b", "x"])),
    "stream_options": either(st.fixed_dictionaries({"include_usage": either(st.booleans())})),
    "n": either(st.integers(-1, 9)),
    "max_tokens": either(st.integers(-2, 64)),
    "max_completion_tokens": either(st.integers(-2, 64)),
    "temperature": either(st.floats(0, 2)),
    "top_p": either(st.floats(0, 1)),
    "top_k": either(st.integers(0, 100)),
    "seed": either(st.integers()),
    "stop": either(st.none() | TEXT | st.lists(TEXT, max_size=4)),
    "frequency_penalty": HOSTILE,
    "presence_penalty": HOSTILE,
    "logprobs": either(st.booleans()),
    "top_logprobs": either(st.integers(0, 20)),
    "reasoning_effort": either(st.sampled_from(["none", "low", "high", "xhigh"])),
    "think": either(st.sampled_from([True, False, "low", "max"])),
    "response_format": either(st.sampled_from([
        {"type": "text"}, {"type": "json_object"},
        {"type": "json_schema", "json_schema": {"name": "x", "schema": tool("x")["function"]
                                                ["parameters"]}}])),
    "tools": either(st.lists(st.sampled_from(["get_weather", "f"]).map(tool), max_size=2)),
    "tool_choice": either(st.sampled_from(
        ["none", "auto", "required", {"type": "function", "function": {"name": "f"}}])),
    "metadata": HOSTILE,
}  # fmt: skip


@st.composite
def chat_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """`messages`, `stream` (two paths through the gateway) and a few other fields
    (fixed_dictionaries would rarely add one)."""
    body = {
        "messages": draw(either(st.lists(MESSAGES, min_size=1, max_size=3))),
        "stream": draw(either(st.booleans())),
    }
    for name in draw(st.lists(st.sampled_from(sorted(OPTIONAL_FIELDS)), unique=True, max_size=6)):
        body[name] = draw(OPTIONAL_FIELDS[name])
    return body


def nested(field: str, depth: int) -> bytes:
    """A valid chat with `field` nested `depth` lists deep: the recursion limits of the
    parsers and encoders on the way to the backend (`seed` and `tools` are forwarded,
    `metadata` not)."""
    head = b'{"messages": [{"role": "user", "content": "hi"}], "%s": ' % field.encode()
    return head + b"[" * depth + b"]" * depth + b"}"


RAW_BODIES = st.one_of(
    st.binary(max_size=256),
    st.builds(nested, st.sampled_from(["seed", "tools", "metadata"]), st.integers(1, 100_000)),
    st.sampled_from([
        b"", b"null", b"[]", b'"messages"', b"\xef\xbb\xbf{}", b"\xff\xfe{}",
        b'{"messages": [{"role": "user", "content": "hi"}], "n": 1e999999}',
        b'{"messages": [{"role": "user", "content": "hi"}], "seed": ' + b"9" * 5000 + b"}",
        b'{"messages": [{"role": "user", "content": "hi"}], "max_tokens": ' + b"9" * 5000 + b"}",
        b'{"messages": [{"role": "user", "content": "\\ud800"}]}',
        b'{"messages": [{"role": "user", "content": "a\\u0000b"}]}',
        b'{"messages": [{"role": "user", "content": "hi"}], "messages": 1}',
    ]),
)  # fmt: skip


# --- the gateway under test -------------------------------------------------------------


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


@pytest.fixture
def real_media(tmp_path: Path) -> list[Media]:
    """A whole file of each kind the decoders take, to cut and mislabel."""
    return [
        ("image_url", "image/png", png(16, 16, "red")),
        ("input_audio", "wav", wav(0.5)),
        ("video_url", "video/mp4", make_video(tmp_path / "v.mp4", 1.2, size=(32, 24))),
    ]


async def fuzz(gateway: TestServer, bodies: st.SearchStrategy[bytes], n: int) -> int:
    """POST `n` examples of `bodies`; returns how many ran. Hypothesis blocks, so it runs in
    a thread; each request goes out on this loop, where the gateway serves, and must be
    answered within HANG_S."""
    loop = asyncio.get_running_loop()
    async with ClientSession(timeout=ClientTimeout(total=HANG_S)) as session:
        ran = 0

        @settings(FUZZ, max_examples=n)
        @given(body=bodies)
        def example(body: bytes) -> None:
            nonlocal ran
            ran += 1
            exchange = asyncio.run_coroutine_threadsafe(ask(session, gateway, body), loop)
            exchange.result(HANG_S + 5)

        await asyncio.to_thread(example)
        return ran


async def ask(session: ClientSession, gateway: TestServer, body: bytes) -> None:
    """POST the body, check the answer, then check the gateway is still alive."""
    url, headers = gateway.make_url("/v1/chat/completions"), {"Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as r:
        text = await r.text(errors="replace")
        assert_answer(r.status, r.content_type, text, body[:2000])
    async with session.get(gateway.make_url("/healthz")) as alive:
        assert alive.status == 200


def assert_answer(status: int, content_type: str, text: str, sent: bytes) -> None:
    """`sent` goes into every message: hypothesis cannot print examples made in a thread."""
    if 200 <= status < 300:
        if content_type == "text/event-stream":  # it ends in [DONE] or in one error event
            last = text.strip().rsplit("\n\n", 1)[-1]
            assert last == "data: [DONE]" or last.startswith('data: {"error"'), (text, sent)
        else:
            assert "choices" in json.loads(text), (text, sent)
        return
    assert status < 500 or status in NAMED_5XX, (status, text, sent)
    error = json.loads(text)["error"]
    assert set(error) >= {"message", "type", "param", "code"} and error["message"], (text, sent)


# --- the fuzz tests ---------------------------------------------------------------------


async def test_any_chat_body_gets_a_named_answer(gateway: TestServer) -> None:
    assert await fuzz(gateway, chat_bodies().map(to_json), CHAT_EXAMPLES) >= CHAT_EXAMPLES


async def test_any_raw_body_gets_a_named_answer(gateway: TestServer) -> None:
    assert await fuzz(gateway, RAW_BODIES, RAW_EXAMPLES) >= RAW_EXAMPLES


async def test_any_media_bytes_get_a_named_answer(
    gateway: TestServer, real_media: list[Media]
) -> None:
    """Real files whole, cut anywhere or with bytes overwritten, and random bytes, mostly
    under their own part type and label (or the decoders are never reached), else any."""
    parts = st.lists(media_parts(real_media), min_size=1, max_size=2)
    bodies = st.builds(describe, parts, st.booleans()).map(to_json)
    assert await fuzz(gateway, bodies, MEDIA_EXAMPLES) >= MEDIA_EXAMPLES


@pytest.mark.parametrize(  # found by the fuzzing: these were 502s blamed on the backend
    "field",
    [
        b'"temperature": NaN',
        b'"top_p": Infinity',
        b'"presence_penalty": -Infinity',
        b'"response_format": {"type": "json_schema", "json_schema": {"schema": {"maximum": NaN}}}',
    ],
    ids=["temperature", "top_p", "presence_penalty", "json_schema"],
)
async def test_a_non_finite_number_is_the_clients_error(gateway: TestServer, field: bytes) -> None:
    body = b'{"messages": [{"role": "user", "content": "hi"}], %s}' % field
    headers = {"Content-Type": "application/json"}
    async with (
        ClientSession() as session,
        session.post(gateway.make_url("/v1/chat/completions"), data=body, headers=headers) as r,
    ):
        assert r.status == 400, await r.text()


def to_json(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def describe(parts: list[dict[str, Any]], stream: bool) -> dict[str, Any]:
    content = [{"type": "text", "text": "describe"}, *parts]
    return {"messages": [{"role": "user", "content": content}], "stream": stream}


def media_parts(real: list[Media]) -> st.SearchStrategy[dict[str, Any]]:
    """Content parts of damaged real files and of noise, usually labelled as they are."""

    def damaged(data: bytes) -> st.SearchStrategy[bytes]:
        cut = st.integers(0, len(data) - 1).map(lambda n: data[:n])
        flipped = st.tuples(st.integers(0, len(data) - 1), st.binary(min_size=1, max_size=16))
        overwrite = flipped.map(lambda d: data[: d[0]] + d[1] + data[d[0] + len(d[1]) :])
        return st.just(data) | cut | overwrite

    def labelled(media: Media) -> st.SearchStrategy[dict[str, Any]]:
        kind, label, data = media
        kinds, labels = st.sampled_from(sorted(PART_LABELS)), st.sampled_from(ALL_LABELS)
        return st.builds(media_part, usually(st.just(kind), kinds),
                         usually(st.just(label), labels), damaged(data))  # fmt: skip

    def noise(kind: str) -> st.SearchStrategy[dict[str, Any]]:
        labels = usually(st.sampled_from(PART_LABELS[kind]), st.sampled_from(ALL_LABELS))
        return st.builds(media_part, st.just(kind), labels, st.binary(max_size=4096))

    kinds = st.sampled_from(sorted(PART_LABELS))
    return st.sampled_from(real).flatmap(labelled) | kinds.flatmap(noise)


def usually(
    fitting: st.SearchStrategy[Any], other: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """`fitting` four times in five, else `other`."""
    return st.sampled_from(range(5)).flatmap(lambda k: other if k == 4 else fitting)


def media_part(kind: str, label: str, data: bytes) -> dict[str, Any]:
    """A content part of `kind`; `label` is the data URL's MIME type or the audio format."""
    if kind == "input_audio":
        return {"type": kind, kind: {"data": base64.b64encode(data).decode(), "format": label}}
    return {"type": kind, kind: {"url": data_url(label, data)}}
