"""Backends several test modules put behind one gateway, as fixtures to import.

- The Ollama front's rack: Ollama serving Gemma 4 E4B (loaded, so `/api/ps` shows it at once)
  and LM Studio serving the 26B, behind `gateway`: `emu`, `lms`, `gateway`.
- The embeddings rack: Ollama with E4B and EmbeddingGemma, LM Studio with the 26B and a nomic
  embedding model: `ollama`, `embedding_lms` (named `lms` for the tests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel, embeddinggemma
from tests.fakes.openai_server import LMModel, OpenAIEmulator

E4B = "gemma4:e4b"
A26B = "google/gemma-4-26b-a4b"
NOMIC = "text-embedding-nomic-embed-text-v1.5"  # LM Studio's id for it (lmstudio.ai docs)


@pytest.fixture
async def emu() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator([OllamaModel(E4B, loaded=True)]) as emu:
        yield emu


@pytest.fixture
async def lms() -> AsyncIterator[OpenAIEmulator]:
    async with OpenAIEmulator([LMModel(A26B)]) as lms:
        yield lms


@pytest.fixture
async def gateway(
    emu: OllamaEmulator, lms: OpenAIEmulator, make_gateway: MakeGateway
) -> TestServer:
    return await make_gateway(
        backend("ollama", "ollama", emu.url), backend("lmstudio", "openai", lms.url)
    )


@pytest.fixture
async def ollama() -> AsyncIterator[OllamaEmulator]:
    async with OllamaEmulator([OllamaModel(E4B), embeddinggemma()]) as emu:
        yield emu


@pytest.fixture(name="lms")
async def embedding_lms() -> AsyncIterator[OpenAIEmulator]:
    models = [LMModel(A26B), LMModel(NOMIC, type="embeddings", arch="nomic")]
    async with OpenAIEmulator(models) as emu:
        yield emu
