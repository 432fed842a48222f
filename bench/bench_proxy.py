"""What the gateway costs per request, against calling the backend directly (not a test).

    .venv/bin/python bench/bench_proxy.py [--seconds 5] [--connections 1 16]

For each backend kind (Ollama native API, OpenAI-compatible), an emulator runs in a child
process, and so does the gateway (`gateway up`, default log level) in front of it. A
closed-loop aiohttp load generator in this process keeps N requests in flight for a fixed
time, first straight to the emulator (in its own protocol), then through the gateway (as an
OpenAI chat), and reports requests per second and latency percentiles: non-streamed, and
streamed with 50 chunks. Everything shares the machine's cores, the load generator
included, so compare rows with each other, not with other machines. Prints markdown.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import EMULATORS, emulator, gateway  # noqa: E402

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]
DIRECT_PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


async def load(
    url: str, body: dict[str, object], connections: int, seconds: float
) -> tuple[float, list[float]]:
    """(requests per second, latencies in ms) with `connections` requests always in flight;
    a request's latency ends at the last byte of its answer."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while (started := time.perf_counter()) < deadline:
                async with session.post(url, json=body) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url} answered {r.status}: {await r.text()}")
                latencies.append((time.perf_counter() - started) * 1e3)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return len(latencies) / (time.perf_counter() - began), latencies


def row(kind: str, path: str, mode: str, n: int, rps: float, lat: list[float]) -> str:
    q = statistics.quantiles(lat, n=100)
    return f"| {kind} | {path} | {mode} | {n} | {rps:,.0f} | {q[49]:.2f} | {q[98]:.2f} |"


async def bench_kind(kind: str, connections: list[int], seconds: float, tmp: Path) -> None:
    model = EMULATORS[kind][2]
    for mode, chunks in (("plain", 0), ("stream 50", 50)):
        with emulator(kind, chunks) as backend_url:
            config = tmp / f"{kind}.toml"
            config.write_text(
                f'[server]\nport = 0\npid_file = "{tmp / "gateway.pid"}"\n'
                f'[[backends]]\nname = "b"\nkind = "{kind}"\nurl = "{backend_url}"\n'
                "max_concurrency = 64\nmax_queue = 256\n"
            )
            with gateway(config) as gateway_url:
                stream = mode != "plain"
                direct = {"model": model, "messages": PROMPT, "stream": stream}
                routed = {"model": "auto", "messages": PROMPT, "stream": stream}
                await load(gateway_url + "/v1/chat/completions", routed, 1, 1.0)  # warm up
                for n in connections:
                    for path, url, body in (
                        ("direct", backend_url + DIRECT_PATH[kind], direct),
                        ("gateway", gateway_url + "/v1/chat/completions", routed),
                    ):
                        rps, lat = await load(url, body, n, seconds)
                        print(row(kind, path, mode, n, rps, lat), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--kinds", nargs="+", default=list(EMULATORS))
    args = ap.parse_args()
    print("| backend | path | answer | connections | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            asyncio.run(bench_kind(kind, args.connections, args.seconds, Path(tmp)))


if __name__ == "__main__":
    main()
