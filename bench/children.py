"""Servers the benchmarks run as child processes, so their CPU is not the measured loop's."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_EMULATOR = """
import asyncio, sys
from tests.fakes.{module} import {cls}
async def main():
    emu = {cls}()
    emu.reply_tokens = ["tok"] * int(sys.argv[1]) if int(sys.argv[1]) else emu.reply_tokens
    emu.token_delay = float(sys.argv[2])  # between two chunks
    emu.received = _Forgetful()  # a benchmark sends far more requests than a test
    await emu.start()
    print(emu.url, flush=True)
    await asyncio.Event().wait()
class _Forgetful(list):
    def append(self, item): pass
asyncio.run(main())
"""
EMULATORS = {  # backend kind -> (module, class, a model it serves)
    "ollama": ("ollama_server", "OllamaEmulator", "gemma4"),
    "openai": ("openai_server", "OpenAIEmulator", "google/gemma-4-26b-a4b"),
}


@contextmanager
def emulator(kind: str, reply_tokens: int = 0, token_delay: float = 0.0) -> Iterator[str]:
    """An Ollama or OpenAI-compatible emulator in a child process; yields its URL.
    `reply_tokens` > 0 makes every answer that many chunks long, `token_delay` seconds
    apart."""
    yield from _child(emulator_command(kind, reply_tokens, token_delay), "http://")


def emulator_command(kind: str, reply_tokens: int = 0, token_delay: float = 0.0) -> list[str]:
    """The command `emulator` runs; it prints the emulator's URL once it serves."""
    module, cls, _ = EMULATORS[kind]
    code = _EMULATOR.format(module=module, cls=cls)
    return [sys.executable, "-c", code, str(reply_tokens), str(token_delay)]


@contextmanager
def gateway(config: Path) -> Iterator[str]:
    """`gateway up --config CONFIG` in a child process (its config should say port 0)."""
    yield from _child([sys.executable, "-m", "gateway", "up", "--config", str(config)],
                      "gateway listening on ", stderr=subprocess.DEVNULL)  # fmt: skip


@contextmanager
def gateway_process(config: Path, tree: Path = ROOT) -> Iterator[tuple[str, int]]:
    """As `gateway`, from the checkout `tree` (its cwd, first on PYTHONPATH); yields its URL
    and pid, so its forkserver's decoding children can be found under /proc."""
    path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    yield from _started([sys.executable, "-m", "gateway", "up", "--config", str(config)],
                        "gateway listening on ", subprocess.DEVNULL, tree,
                        {**os.environ, "PYTHONPATH": path})  # fmt: skip


@contextmanager
def llama_server() -> Iterator[str]:
    """The llama-server emulator (one Gemma E4B that hears audio) in a child process."""
    code = _EMULATOR.format(module="llamacpp_server", cls="LlamaServerEmulator")
    yield from _child([sys.executable, "-c", code, "0", "0"], "http://")


@contextmanager
def passthrough(backend_url: str) -> Iterator[str]:
    """`bench/passthrough.py` (a bare aiohttp proxy) in front of `backend_url`."""
    yield from _child([sys.executable, str(ROOT / "bench" / "passthrough.py"), backend_url],
                      "passthrough listening on ")  # fmt: skip


def _child(cmd: list[str], marker: str, stderr: int | None = None) -> Iterator[str]:
    with closing(_started(cmd, marker, stderr)) as started:
        yield next(started)[0]


def _started(
    cmd: list[str],
    marker: str,
    stderr: int | None = None,
    cwd: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=stderr,
                            text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if marker in line:
                yield "http://" + line.split("http://", 1)[1].strip(), proc.pid
                return
        raise RuntimeError(f"{cmd[:3]} exited before printing its URL")
    finally:
        proc.kill()
        proc.wait()
