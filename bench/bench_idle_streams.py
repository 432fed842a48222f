"""Memory of the gateway holding many idle streams (not a test).

    .venv/bin/python bench/bench_idle_streams.py [--streams 1000] [--hold 20]

An OpenAI-compatible emulator (child process) answers every streamed chat with its first
chunk, then nothing for a long while (its `token_delay`); the gateway (`gateway up`, child
process) relays N such streams at once from a load generator in this process. The
gateway's resident memory is read from /proc before any stream, once all N have their first
chunk, every 2 s while they are held idle, and after the clients have gone. Flat means the
held samples do not grow: an idle stream costs a fixed amount, and nothing accumulates
while it waits. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import _child, emulator  # noqa: E402

child = contextmanager(_child)

BODY = {"model": "auto", "messages": [{"role": "user", "content": "Hi"}], "stream": True}


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def gateway_pid(pid_file: Path) -> int:
    import json

    return int(json.loads(pid_file.read_text())["pid"])


async def hold(url: str, streams: int, seconds: float, pid: int) -> list[tuple[str, float]]:
    samples = [("before", rss_mib(pid))]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = asyncio.Event()
        ready = 0

        async def one() -> None:
            nonlocal ready
            async with session.post(url + "/v1/chat/completions", json=BODY) as r:
                if r.status != 200:
                    raise RuntimeError(f"gateway answered {r.status}: {await r.text()}")
                await r.content.readany()  # the first chunk
                ready += 1
                if ready == streams:
                    started.set()
                await asyncio.Event().wait()  # then idle until cancelled

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(one()) for _ in range(streams)]
        waiting = asyncio.create_task(started.wait())
        done, _ = await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        if waiting not in done:
            for t in done:
                t.result()  # a stream failed: say why
        took = time.perf_counter() - t0
        samples.append((f"{streams} open ({took:.1f}s to open)", rss_mib(pid)))
        for i in range(int(seconds // 2)):
            await asyncio.sleep(2)
            samples.append((f"held {2 * (i + 1)}s", rss_mib(pid)))
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(2)
    samples.append(("2s after the clients left", rss_mib(pid)))
    return samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=20.0)
    args = ap.parse_args()
    idle = args.hold + 60
    # three chunks, the first at once, then nothing for `idle` seconds
    with (
        tempfile.TemporaryDirectory() as tmp,
        emulator("openai", reply_tokens=3, token_delay=idle) as backend_url,
    ):
        pid_file = Path(tmp) / "gateway.pid"
        config = Path(tmp) / "gateway.toml"
        config.write_text(
            f'[server]\nport = 0\npid_file = "{pid_file}"\n'
            f'[[backends]]\nname = "b"\nkind = "openai"\nurl = "{backend_url}"\n'
            f"max_concurrency = {args.streams + 16}\nmax_queue = 16\n"
            f"read_timeout_s = {idle + 60}\n"
        )
        cmd = [sys.executable, "-m", "gateway", "up", "--config", str(config)]
        with child(cmd, "gateway listening on ", subprocess.DEVNULL) as url:
            samples = asyncio.run(hold(url, args.streams, args.hold, gateway_pid(pid_file)))
    print("| gateway | RSS MiB |")
    print("|---|---:|")
    for what, mib in samples:
        print(f"| {what} | {mib:.1f} |")
    held = [m for w, m in samples if w.startswith("held")]
    if held:
        print(f"\nwhile held: {min(held):.1f} to {max(held):.1f} MiB "
              f"({max(held) - min(held):+.1f} MiB over {args.hold:g}s)")  # fmt: skip


if __name__ == "__main__":
    main()
