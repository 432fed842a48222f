"""The emulators' raw-prompt routes: Ollama's `/api/generate` (server/routes.go
GenerateHandler) and the OpenAI-compatible `/v1/completions`."""

from __future__ import annotations

import json

from aiohttp import ClientSession

from tests.fakes.base import DEFAULT_REPLY
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import OpenAIEmulator


async def test_generate_raw_templated_load_unload(
    ollama: OllamaEmulator, http: ClientSession
) -> None:
    url = ollama.url + "/api/generate"
    async with http.post(url, json={"model": "gemma4:e4b", "prompt": "2+2=", "raw": True,
                                    "stream": False, "think": False}) as r:  # fmt: skip
        raw = await r.json()
    assert raw["response"] == "".join(DEFAULT_REPLY) and "context" not in raw
    assert raw["done"] is True and raw["prompt_eval_count"] == 1
    async with http.post(url, json={"model": "gemma4:e4b", "prompt": "Hi", "system": "Be"}) as r:
        lines = [json.loads(line) for line in (await r.text()).splitlines()]
    assert [line.get("thinking") for line in lines[:1]] == ["The user"]  # thinks by default
    assert "context" in lines[-1] and lines[-1]["done"] is True
    assert ollama.prompts == ["2+2=", ollama.prompts[1]]
    assert ollama.prompts[1].startswith("<bos><|turn>system\n<|think|>\nBe<turn|>")
    async with http.post(url, json={"model": "gemma4:e4b", "prompt": "x", "raw": True,
                                    "system": "s"}) as r:  # fmt: skip
        assert r.status == 400
        assert (await r.json())["error"].startswith("raw mode does not support")
    async with http.post(url, json={"model": "gemma4:e4b", "keep_alive": 0}) as r:
        assert (await r.json())["done_reason"] == "unload"
    async with http.post(url, json={"model": "gemma4:e4b"}) as r:
        assert (await r.json())["done_reason"] == "load"
    async with http.post(url, json={"model": "nope", "prompt": "x"}) as r:
        assert r.status == 404
    assert len(ollama.generates()) == 6


async def test_lmstudio_completions(http: ClientSession) -> None:
    async with OpenAIEmulator() as lms:
        url, model = lms.url + "/v1/completions", lms.models[0].id
        async with http.post(url, json={"model": model, "prompt": "a b", "max_tokens": 2}) as r:
            whole = await r.json()
        assert whole["object"] == "text_completion" and whole["id"].startswith("cmpl-")
        assert whole["choices"][0]["text"] == "Hello!"
        assert whole["choices"][0]["finish_reason"] == "length"
        body = {"model": model, "prompt": "a", "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        async with http.post(url, json=body) as r:
            events = [e.removeprefix("data: ") for e in (await r.text()).split("\n\n") if e]
        assert events[-1] == "[DONE]"
        chunks = [json.loads(e) for e in events[:-1]]
        assert "".join(c["choices"][0]["text"] for c in chunks if c["choices"]) == "".join(
            DEFAULT_REPLY
        )
        assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 1
        async with http.post(url, json={"model": model, "prompt": [1, 2]}) as r:
            assert r.status == 400
        assert len(lms.completions()) == 3
