"""A closed-loop load generator, run as its own process by `python -m bench` (not a test).

    .venv/bin/python bench/loadgen.py URL MODEL --concurrency 16 --seconds 3 [--stream]
                                      [--timeout 60] [--key bench]

Keeps CONCURRENCY OpenAI chat completions in flight against URL for --warmup seconds
(discarded), then for --seconds, and prints one JSON line: requests, errors, requests/s and
the latency percentiles in ms (p50, p90, p99) of the whole answer (to its last byte) and,
with --stream, of the first token (the first SSE event carrying non-empty content).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time

import aiohttp

PROMPT = [{"role": "user", "content": "Why is the sky blue?"}]
CONTENT = re.compile(rb'"content"\s*:\s*"[^"]')


def percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        v = values[0] if values else float("nan")
        return {"p50": v, "p90": v, "p99": v}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": q[49], "p90": q[89], "p99": q[98]}


async def first_token(r: aiohttp.ClientResponse) -> float | None:
    """perf_counter() when the first SSE event with content arrives; reads the rest."""
    first = None
    async for line in r.content:
        if first is None and line.startswith(b"data:") and CONTENT.search(line):
            first = time.perf_counter()
    return first


async def run(a: argparse.Namespace) -> dict[str, object]:
    """One cell: the command line's URL, model, concurrency, durations, stream and key."""
    url, concurrency, stream = a.url, a.concurrency, a.stream
    body = json.dumps({"model": a.model, "messages": PROMPT, "stream": stream}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {a.key}"}
    totals: list[float] = []
    firsts: list[float] = []
    errors: list[str] = []
    measuring = False
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=a.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one() -> None:
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as r:
                if r.status != 200:
                    errors.append(f"{r.status}: {(await r.text())[:300]}")
                    return
                first = await first_token(r) if stream else None
                await r.read()
            if measuring:
                totals.append((time.perf_counter() - started) * 1e3)
                if first is not None:
                    firsts.append((first - started) * 1e3)

        async def worker(until: float) -> None:
            while time.perf_counter() < until:
                try:
                    await one()
                except (aiohttp.ClientError, TimeoutError) as e:
                    errors.append(repr(e)[:300])
                    await asyncio.sleep(0.01)

        await asyncio.gather(*(worker(time.perf_counter() + a.warmup) for _ in range(concurrency)))
        errors.clear()
        measuring = True
        began = time.perf_counter()
        await asyncio.gather(*(worker(began + a.seconds) for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return {
        "requests": len(totals),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
        "rps": len(totals) / elapsed,
        "total": percentiles(totals),
        "ttft": percentiles(firsts) if stream else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("model")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--stream", action="store_true")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="per request (s): a stalled proxy ends its cell soon")  # fmt: skip
    ap.add_argument("--key", default="bench", help="sent as the bearer token")
    print(json.dumps(asyncio.run(run(ap.parse_args()))))


if __name__ == "__main__":
    main()
