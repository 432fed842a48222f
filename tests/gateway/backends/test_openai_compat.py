"""The OpenAI-compatible adapter: SSE decoding, error shapes, request bodies, and which model
listing it reads from each kind of server (against the emulators)."""

from __future__ import annotations

import base64
import json

import pytest

from gateway.backends.openai_compat import (
    OpenAICompatBackend,
    SSEDecoder,
    encoded_body,
    error_text,
    lmstudio_v1_info,
)
from gateway.core.errors import GatewayError
from gateway.core.messages import BackendRequest, ChatMessage
from gateway.core.model import Modality, ModelInfo
from preprocess.media import Audio, Image, Text
from tests.conftest import backend
from tests.fakes import vectors as tv
from tests.fakes.base import Emulator
from tests.fakes.llamacpp_server import LlamaServerEmulator
from tests.fakes.openai_server import LMModel, OpenAIEmulator

GEMMA = "google/gemma-4-26b-a4b"


@pytest.mark.parametrize("split", [1, 2, 7, 1000])
def test_sse_decoder_survives_any_split(split: int) -> None:
    stream = b': comment\r\n\r\ndata: {"a": 1}\r\n\r\ndata: {"b":\ndata: 2}\n\ndata:[DONE]\n\n'
    d = SSEDecoder()
    events = [e for i in range(0, len(stream), split) for e in d.feed(stream[i : i + split])]
    assert events == ['{"a": 1}', '{"b":\n2}', "[DONE]"]


LMS_IMAGE_ERROR = "'url' field must be a base64 encoded image."  # protocols.md §7 error vectors


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"error": LMS_IMAGE_ERROR}, LMS_IMAGE_ERROR),
        ({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
         "Loading model"),
        ({"detail": "Not Found"}, "Not Found"),
    ],
)  # fmt: skip
def test_error_text_reads_every_recorded_shape(body: dict[str, object], text: str) -> None:
    assert error_text(body) == text


async def test_the_body_rebuilds_openai_parts_with_the_media_spliced_in() -> None:
    req = BackendRequest(
        "google/gemma-4-e4b",
        [
            ChatMessage("system", [Text("be brief")]),
            ChatMessage("user", [Text("hi"), Image(b"png", "image/png"), Audio(b"wav", "wav")]),
            ChatMessage("assistant", [], {"tool_calls": [{"id": "c"}]}),
        ],
        {"temperature": 0.5, "max_tokens": 9},
        include_usage=True,
    )
    body = json.loads((await encoded_body(req, stream=True)).read())
    png, wav = base64.b64encode(b"png").decode(), base64.b64encode(b"wav").decode()
    assert body == {
        "model": "google/gemma-4-e4b",
        "temperature": 0.5,
        "max_tokens": 9,
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                {"type": "input_audio", "input_audio": {"data": wav, "format": "wav"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
        ],
    }  # fmt: skip
    assert "stream_options" not in json.loads((await encoded_body(req, stream=False)).read())


# --- model listings ---------------------------------------------------------------------


def test_an_lm_studio_model_is_windowed_by_its_loaded_context() -> None:
    info = lmstudio_v1_info(tv.TV_L3_ENTRY, "lms")
    assert info == ModelInfo(GEMMA, "lms", frozenset({Modality.TEXT, Modality.IMAGE}),
                             context=4096, loaded=True, loaded_context=4096)  # fmt: skip
    instances = [{"id": f"{GEMMA}:{n}", "config": {"context_length": c}}
                 for n, c in ((1, 4096), (2, 16384))]  # fmt: skip
    two = lmstudio_v1_info({**tv.TV_L3_ENTRY, "loaded_instances": instances}, "lms")
    assert (two.context, two.loaded_context) == (4096, 4096)  # it may land on either
    cold = lmstudio_v1_info({**tv.TV_L3_ENTRY, "loaded_instances": []}, "lms")
    assert (cold.context, cold.loaded, cold.loaded_context) == (262144, False, None)
    blind = lmstudio_v1_info({**tv.TV_L3_ENTRY, "capabilities": {"vision": False}}, "lms")
    assert blind.inputs == frozenset({Modality.TEXT})


async def listings(emu: Emulator, times: int = 2) -> tuple[list[list[ModelInfo]], list[list[str]]]:
    """List `times` times through the adapter: the models, and the paths each listing asked."""
    adapter = OpenAICompatBackend(backend("b", "openai", emu.url))
    models, paths = [], []
    try:
        for _ in range(times):
            seen = len(emu.received)
            models.append(await adapter.list_models())
            paths.append([r.path for r in emu.received[seen:]])
    finally:
        await adapter.close()
    return models, paths


async def test_lm_studio_0_4_is_listed_from_api_v1() -> None:
    lmodels = [LMModel(GEMMA, state="loaded", loaded_context_length=4096),
               LMModel("nomic-embed", type="embeddings")]  # fmt: skip
    async with OpenAIEmulator(lmodels) as lms:
        (first, _), paths = await listings(lms)
    assert paths == [["/api/v1/models"]] * 2
    assert [(m.id, m.context, m.loaded, m.embedding) for m in first] == [
        (GEMMA, 4096, True, False), ("nomic-embed", 262144, False, True)
    ]  # fmt: skip


async def test_lm_studio_0_3_is_listed_from_api_v0() -> None:
    async with OpenAIEmulator([LMModel(GEMMA, type="llm")], api_v1=False) as lms:
        (first, _), paths = await listings(lms)
    assert paths == [["/api/v1/models", "/api/v0/models"], ["/api/v0/models"]]
    assert [(m.id, m.inputs, m.context) for m in first] == [
        (GEMMA, frozenset({Modality.TEXT}), 262144)
    ]  # fmt: skip


async def test_llama_server_is_listed_from_props() -> None:
    async with LlamaServerEmulator(n_ctx=4096, n_ctx_train=131072, audio=False) as llama:
        (first, _), paths = await listings(llama)
    assert paths == [["/api/v1/models", "/api/v0/models", "/props", "/v1/models"],
                     ["/props", "/v1/models"]]  # fmt: skip
    assert first == [ModelInfo(llama.model_id, "b", frozenset({Modality.TEXT, Modality.IMAGE}),
                               context=4096, loaded=True, loaded_context=4096)]  # fmt: skip


async def test_a_plain_server_is_probed_once_then_asked_v1_models_only() -> None:
    async with OpenAIEmulator([LMModel("some-model")], flavour="plain") as plain:
        (first, _), paths = await listings(plain)
    assert paths == [["/api/v1/models", "/api/v0/models", "/props", "/v1/models"],
                     ["/v1/models"]]  # fmt: skip
    assert first == [ModelInfo("some-model", "b")]  # inputs and window left to the catalogue


async def test_a_listing_that_stops_answering_is_learnt_again() -> None:
    async with OpenAIEmulator([LMModel(GEMMA)]) as lms:
        adapter = OpenAICompatBackend(backend("b", "openai", lms.url))
        try:
            await adapter.list_models()
            lms.api_v1 = False  # e.g. an older LM Studio now answers at that address
            seen = len(lms.received)
            assert [m.id for m in await adapter.list_models()] == [GEMMA]
            assert [r.path for r in lms.received[seen:]] == ["/api/v1/models", "/api/v0/models"]
        finally:
            await adapter.close()


async def test_a_loading_llama_server_is_unavailable_not_plain() -> None:
    async with LlamaServerEmulator(n_ctx=4096) as llama:
        llama.loading = True  # /v1/models would answer, with meta null
        adapter = OpenAICompatBackend(backend("b", "openai", llama.url))
        try:
            with pytest.raises(GatewayError, match="Loading model"):
                await adapter.list_models()
            llama.loading = False
            assert [m.context for m in await adapter.list_models()] == [4096]
        finally:
            await adapter.close()
