"""How long the event loop stalls while a backend adapter sends large media (not a test).

    .venv/bin/python bench/bench_loop_stall.py [--runs 3]

Decoding and preprocessing run in the media pool; what is left near the loop is turning
the prepared media into the backend's request body (gateway/backends/media_body.py). This
sends 1, 5 and 20 media parts the size of a 30 s WAV clip (20 is the 10-minute audio cap)
through each adapter to its emulator, which runs in a child process so its own parsing is
not counted, while a 1 ms ticker records the longest gap between its wake-ups (after one
text-only call has warmed the client up, as in a running gateway). Maximum of the runs.
Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import EMULATORS, emulator  # noqa: E402
from gateway.backends import build_backend  # noqa: E402
from gateway.config import BackendConfig  # noqa: E402
from gateway.core.messages import BackendRequest, ChatMessage  # noqa: E402
from preprocess.media import Image, Text  # noqa: E402

PART_BYTES = 30 * 16000 * 2 + 44  # as large as a 30 s clip of 16 kHz mono PCM_16 WAV


async def longest_stall(kind: str, url: str, model: str, parts: int) -> tuple[float, float]:
    """(longest loop gap, whole call) in ms for one chat carrying `parts` media parts."""
    backend = build_backend(BackendConfig(name=kind, kind=kind, url=url))  # type: ignore[arg-type]
    # Sent as images: both adapters take them, and Ollama sends audio clips the same way.
    media = (Image(os.urandom(PART_BYTES), "image/jpeg") for _ in range(parts))
    request = BackendRequest(model, [ChatMessage("user", [Text("What is it?"), *media])], {})
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    await backend.chat(BackendRequest(model, [ChatMessage("user", [Text("warm up")])], {}))
    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    try:
        await backend.chat(request)
    finally:
        took = time.perf_counter() - started
        done.set()
        await tick
        await backend.close()
    return max(gaps) * 1e3, took * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print("| adapter | parts | body MB (base64) | longest loop stall ms | whole call ms |")
    print("|---|---:|---:|---:|---:|")
    for kind, (_, _, model) in EMULATORS.items():
        with emulator(kind) as url:
            for parts in (1, 5, 20):
                runs = [
                    asyncio.run(longest_stall(kind, url, model, parts)) for _ in range(args.runs)
                ]
                stall, took = max(r[0] for r in runs), min(r[1] for r in runs)
                mb = parts * PART_BYTES * 4 / 3 / 1e6
                print(f"| {kind} | {parts} | {mb:.1f} | {stall:.1f} | {took:.0f} |")


if __name__ == "__main__":
    main()
