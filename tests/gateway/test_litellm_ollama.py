"""LiteLLM's `ollama_chat/` provider against the gateway's Ollama front (issue 10): a model on
Ollama and one only on LM Studio, whole and streamed, by changing only `api_base`."""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch from GitHub at import


import litellm
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import make_gateway  # noqa: F401 (a fixture)
from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import OpenAIEmulator
from tests.gateway.racks import A26B, E4B, emu, gateway, lms  # noqa: F401 (fixtures)

REPLY = "".join(DEFAULT_REPLY)


# litellm's own types trip pydantic's ReadOnly warning, which the project turns into errors
@pytest.mark.filterwarnings("ignore:Item.*ReadOnly.*:UserWarning")
async def test_litellm_ollama_chat_provider_whole_and_streamed(
    gateway: TestServer, emu: OllamaEmulator, lms: OpenAIEmulator
) -> None:
    # litellm/llms/ollama/chat/transformation.py: POST {api_base}/api/chat with model,
    # messages, options (num_predict...), stream; it reads message, done_reason,
    # prompt_eval_count and eval_count, and in a stream `message`, `done`, `model` on
    # every line (a line without them is an OllamaError).
    base = f"http://{gateway.host}:{gateway.port}"
    messages = [{"role": "user", "content": "Hello there"}]
    # In a thread: after each answer LiteLLM's success logging POSTs /api/show {"name": ...}
    # with a *synchronous* httpx client from its event loop (for cost and window), which
    # would block the loop this test's gateway runs on.
    reply = await asyncio.to_thread(
        litellm.completion,
        model=f"ollama_chat/{E4B}", api_base=base, messages=messages, max_tokens=50,
    )  # fmt: skip
    assert reply.choices[0].message.content == REPLY
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0
    sent = emu.chats()[-1]
    assert (sent["model"], sent["options"]["num_predict"]) == (E4B, 50)

    def streamed() -> tuple[str, str | None]:
        text, finish = "", None
        for chunk in litellm.completion(
            model=f"ollama_chat/{A26B}", api_base=base, messages=messages, stream=True
        ):
            text += chunk.choices[0].delta.content or "" if chunk.choices else ""
            finish = (chunk.choices[0].finish_reason if chunk.choices else None) or finish
        return text, finish

    assert await asyncio.to_thread(streamed) == (REPLY, "stop")
    assert lms.chats()[-1]["model"] == A26B
