"""Decoding in a child: results and errors come back; crashes, memory blow-ups and hangs
end the child only."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import pytest

from gateway.core.errors import GatewayError
from gateway.isolation import Limits, kill_children, run_isolated
from preprocess.errors import InvalidMedia, MediaTooLarge

LIMITS = Limits(memory_mb=256, timeout_s=30)


def add(a: int, b: int) -> int:
    return a + b


def refuse(param: str) -> None:
    raise InvalidMedia("not a video", param)


def crash() -> None:
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def allocate(megabytes: int) -> int:
    return len(bytearray(megabytes * 2**20))


def ffmpeg_allocates(side: int) -> None:
    av.VideoFrame(side, side, "rgb24")  # as a decoder's frame buffer


def hang(pid_file: str) -> None:
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)


def pieces(count: int, megabytes: int) -> list[bytes]:
    return [bytes([i]) * (megabytes * 2**20) for i in range(count)]


def unpicklable() -> object:
    return threading.Lock()


def test_the_result_comes_back() -> None:
    assert run_isolated(LIMITS, add, 2, 3) == 5


def test_a_large_result_comes_back_whole() -> None:
    # 40 MiB in 1 MiB pieces, as clips come back: streamed into the pipe, read as it comes.
    got = run_isolated(LIMITS, pieces, 40, 1)
    assert [len(p) for p in got] == [2**20] * 40
    assert all(p == bytes([i]) * 2**20 for i, p in enumerate(got))


def test_an_unpicklable_result_is_a_named_error_and_the_next_call_works() -> None:
    with pytest.raises(GatewayError, match="exited with code 0 before answering"):
        run_isolated(LIMITS, unpicklable)
    assert run_isolated(LIMITS, add, 1, 1) == 2


def test_an_error_comes_back_whole() -> None:
    with pytest.raises(InvalidMedia, match="not a video") as err:
        run_isolated(LIMITS, refuse, "messages[0].content[1]")
    assert err.value.param == "messages[0].content[1]" and err.value.status == 400


def test_a_crash_is_a_400_and_the_next_call_works() -> None:
    with pytest.raises(InvalidMedia, match="crashed"):
        run_isolated(LIMITS, crash)
    assert run_isolated(LIMITS, add, 1, 1) == 2


def test_memory_over_the_budget_is_a_413() -> None:
    assert run_isolated(LIMITS, allocate, 64) == 64 * 2**20  # within the budget
    with pytest.raises(MediaTooLarge, match="decode_memory_mb \\(256 MiB\\)"):
        run_isolated(LIMITS, allocate, 512)


def test_ffmpeg_out_of_memory_is_a_413_too() -> None:
    """FFmpeg's ENOMEM reaches Python as av.error.MemoryError, a MemoryError."""
    with pytest.raises(MediaTooLarge):
        run_isolated(LIMITS, ffmpeg_allocates, 16_000)  # 732 MiB


def test_a_hang_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with pytest.raises(InvalidMedia, match="took over 1s"):
        run_isolated(Limits(memory_mb=256, timeout_s=1), hang, str(pid_file))
    with pytest.raises(ProcessLookupError):  # the child is gone, not left sleeping
        os.kill(int(pid_file.read_text()), 0)


def test_kill_children_frees_a_waiting_thread_at_once(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(run_isolated, Limits(256, 600), hang, str(pid_file))
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.01)
        kill_children()
        with pytest.raises(InvalidMedia, match="SIGKILL"):
            waiting.result(timeout=30)


def test_children_start_without_the_http_stack() -> None:
    """What a child starts with (the forkserver's preload, and the console script's main
    module, which a child imports) holds no HTTP stack: its memory is every child's floor."""
    code = (
        "import sys, gateway.__main__, gateway.isolation as i\n"
        "for m in i.PRELOAD: __import__(m)\n"
        "print(sorted(m for m in ('aiohttp', 'httpx', 'ollama', 'gateway.cli', 'gateway.server')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
