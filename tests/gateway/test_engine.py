"""The gateway in front of the real engine: llama.cpp serving Gemma 3 270M.

The model is tiny and says odd things: these tests assert shape (non-empty text, finish
reason, usage, headers), never wording.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from openai import AsyncOpenAI

from tests.conftest import MakeGateway, backend

pytestmark = pytest.mark.engine
PROMPT = [{"role": "user", "content": "Write one sentence about the sea."}]


@pytest.fixture
async def client(engine_url: str, make_gateway: MakeGateway) -> AsyncIterator[AsyncOpenAI]:
    server = await make_gateway(backend("engine", "openai", engine_url))
    url = str(server.make_url("/v1"))
    async with AsyncOpenAI(base_url=url, api_key="unused", max_retries=0) as client:
        yield client


async def test_plain_completion_through_the_gateway(client: AsyncOpenAI) -> None:
    raw = await client.chat.completions.with_raw_response.create(
        model="auto",
        messages=PROMPT,
        max_tokens=24,  # type: ignore[arg-type]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage is not None and completion.usage.completion_tokens > 0
    assert completion.model == "gemma-3-270m"
    assert raw.headers["X-Gateway-Model"] == "gemma-3-270m"
    assert raw.headers["X-Gateway-Backend"] == "engine"
    assert raw.headers["X-Gateway-Route"] == "default"
    assert raw.headers["X-Request-Id"]


async def test_stream_through_the_gateway(client: AsyncOpenAI) -> None:
    async with client.chat.completions.with_streaming_response.create(
        model="gemma-3-270m", messages=PROMPT, max_tokens=24, stream=True,  # type: ignore[arg-type]
        extra_headers={"X-Request-Id": "req-42"},
    ) as raw:  # fmt: skip
        assert raw.headers["Content-Type"] == "text/event-stream"
        assert raw.headers["X-Gateway-Model"] == "gemma-3-270m"
        assert raw.headers["X-Gateway-Route"] == "override"
        assert raw.headers["X-Request-Id"] == "req-42"
        chunks = [c async for c in await raw.parse()]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert {c.model for c in chunks} == {"gemma-3-270m"}
