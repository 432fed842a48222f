"""What the gateway costs per request, against calling the backend directly (not a test).

    .venv/bin/python bench/bench_proxy.py [--seconds 5] [--connections 1 16]

For each backend kind (Ollama native API, OpenAI-compatible), an emulator runs in a child
process, and so does the gateway (`gateway up`, default log level) in front of it. A
closed-loop aiohttp load generator in this process keeps N requests in flight for a fixed
time, first straight to the emulator (in its own protocol), then (OpenAI-compatible only)
through a bare aiohttp pass-through (`bench/passthrough.py`: the floor), then through the
gateway (as an OpenAI chat), and reports requests per second and latency percentiles
(streams: time to first chunk too): non-streamed, and streamed with 50 chunks. Then the
ratios issue 13 sets targets on: gateway/bare requests per second, added p50 gateway/bare,
the gateway's added time to first token. Everything shares the machine's cores, the load generator
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

from bench.children import EMULATORS, emulator, gateway, passthrough  # noqa: E402

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]
DIRECT_PATH = {"ollama": "/api/chat", "openai": "/v1/chat/completions"}


async def load(
    url: str, body: dict[str, object], connections: int, seconds: float
) -> tuple[float, list[float], list[float]]:
    """(requests per second, latencies in ms, times to first chunk in ms) with `connections`
    requests always in flight; a request's latency ends at the last byte of its answer."""
    latencies: list[float] = []
    firsts: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            while (started := time.perf_counter()) < deadline:
                async with session.post(url, json=body) as r:
                    await r.content.readany()
                    firsts.append((time.perf_counter() - started) * 1e3)
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url} answered {r.status}: {await r.text()}")
                latencies.append((time.perf_counter() - started) * 1e3)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return len(latencies) / (time.perf_counter() - began), latencies, firsts


def row(
    kind: str, path: str, mode: str, n: int, result: tuple[float, list[float], list[float]]
) -> str:
    rps, lat, firsts = result
    q = statistics.quantiles(lat, n=100)
    first = statistics.median(firsts)
    return (
        f"| {kind} | {path} | {mode} | {n} | {rps:,.0f} | {q[49]:.2f} | {q[98]:.2f} | {first:.2f} |"
    )


RATIOS: list[str] = []


def ratios(mode: str, n: int, results: dict[str, tuple[float, list[float], list[float]]]) -> None:
    """Issue 13's targets for one mode and concurrency (needs direct, bare and gateway)."""
    if "bare" not in results:
        return
    rps = {k: r[0] for k, r in results.items()}
    p50 = {k: statistics.median(r[1]) for k, r in results.items()}
    ttft = {k: statistics.median(r[2]) for k, r in results.items()}
    bare_added = p50["bare"] - p50["direct"]
    gw_added = p50["gateway"] - p50["direct"]
    RATIOS.append(
        f"| {mode} | {n} | {rps['gateway'] / rps['bare']:.2f} | {gw_added:.2f} "
        f"| {bare_added:.2f} | {gw_added / bare_added if bare_added > 0 else float('nan'):.2f} "
        f"| {ttft['gateway'] - ttft['direct']:.2f} | {ttft['bare'] - ttft['direct']:.2f} |"
    )


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
            with gateway(config) as gateway_url, passthrough(backend_url) as bare_url:
                stream = mode != "plain"
                direct = {"model": model, "messages": PROMPT, "stream": stream}
                routed = {"model": "auto", "messages": PROMPT, "stream": stream}
                paths = [("direct", backend_url + DIRECT_PATH[kind], direct)]
                if kind == "openai":  # the pass-through speaks the same protocol as it
                    paths.append(("bare", bare_url + "/v1/chat/completions", direct))
                paths.append(("gateway", gateway_url + "/v1/chat/completions", routed))
                for _, url, body in paths[1:]:  # warm up
                    await load(url, body, 1, 1.0)
                for n in connections:
                    results = {}
                    for path, url, body in paths:
                        results[path] = await load(url, body, n, seconds)
                        print(row(kind, path, mode, n, results[path]), flush=True)
                    ratios(mode, n, results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    ap.add_argument("--kinds", nargs="+", default=list(EMULATORS))
    args = ap.parse_args()
    print(
        "| backend | path | answer | connections | req/s | p50 ms | p99 ms | first chunk p50 ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds:
            asyncio.run(bench_kind(kind, args.connections, args.seconds, Path(tmp)))
    if RATIOS:
        print("\nOpenAI-compatible backend; added = p50 minus direct's p50 (ms).\n")
        print(
            "| answer | connections | req/s gateway/bare | added p50 gateway | added p50 bare "
            "| added p50 gateway/bare | added first chunk gateway | added first chunk bare |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        print("\n".join(RATIOS))


if __name__ == "__main__":
    main()
