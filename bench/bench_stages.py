"""What the gateway's own work costs per chat request, stage by stage (not a test: run it).

    .venv/bin/python bench/bench_stages.py

`bench_proxy.py` measures the whole request through HTTP; this times, in one process and
with no I/O, each step the gateway takes for a short non-streamed OpenAI chat that a bare
pass-through does not: parse and validate the body, build the core request, prepare
(token estimate), route, conversation affinity, the backend's body, checking the backend's
answer, the reply's headers and body, the access line and the metrics. Microseconds per
request, minimum of 5 repeats; it is the breakdown behind the gap to the bare pass-through.
Prints markdown.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402
from aiohttp.test_utils import make_mocked_request  # noqa: E402

from bench.bench_route import CAT, POLICY, SMALL  # noqa: E402
from gateway import fastjson, logs  # noqa: E402
from gateway.backends.openai_compat import OpenAICompatBackend, encoded_body  # noqa: E402
from gateway.config import BackendConfig, GatewayConfig  # noqa: E402
from gateway.core.affinity import Affinity  # noqa: E402
from gateway.core.pipeline import backend_request, response_headers  # noqa: E402
from gateway.core.prepare import prepare  # noqa: E402
from gateway.core.routing import route  # noqa: E402
from gateway.edge import parse_chat_request  # noqa: E402
from gateway.fronts import Wish  # noqa: E402
from gateway.fronts.openai import to_request  # noqa: E402
from gateway.metrics import Metrics  # noqa: E402

BODY = fastjson.dumps({
    "model": "auto",
    "messages": [{"role": "user", "content": "Why is the sky blue?"}],
})  # fmt: skip
ANSWER = fastjson.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gemma4:e4b",
    "choices": [{"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": "tok " * 50}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 50, "total_tokens": 62},
})  # fmt: skip


def per_call_us(fn: Callable[[], object], number: int = 2_000) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def stages(loop: asyncio.AbstractEventLoop) -> dict[str, Callable[[], object]]:
    """Each stage as a call on the output of the ones before it (made once here); the
    backend body is made on `loop`, as the gateway makes it on its own."""
    config = GatewayConfig.model_validate(
        {"backends": [{"name": "ollama", "kind": "openai", "url": "http://127.0.0.1:1"}]}
    )
    backend = OpenAICompatBackend(BackendConfig(name="ollama", kind="openai", url="http://h"))
    chat = parse_chat_request(BODY)
    req = to_request(chat, Wish())
    prepared = prepare(req.messages, req.output_tokens, config)
    decision = route(prepared.need(), req.wish, SMALL, POLICY, CAT, {})
    model = decision.model
    affinity, metrics = Affinity(), Metrics()
    completion = backend._completion(ANSWER)
    headers = response_headers(model, decision.reason, decision.tokens, prepared.plan, "r1")
    request = make_mocked_request("POST", "/v1/chat/completions")
    response = web.Response(status=200, headers=headers)

    def affine() -> None:
        affinity.host(prepared.messages)
        affinity.served(prepared.messages, model.backend)

    def body() -> object:
        breq = backend_request(req, prepared, model, backend, decision)
        return loop.run_until_complete(encoded_body(breq, stream=False))

    def measure() -> None:
        metrics.http_requests.inc("POST", "/v1/chat/completions", "200")
        metrics.http_seconds.observe(0.001, "/v1/chat/completions")
        metrics.routed.inc(model.id, model.backend, decision.reason)

    return {
        "parse and validate the body": lambda: parse_chat_request(BODY),
        "core request": lambda: to_request(chat, Wish()),
        "prepare (token estimate)": lambda: prepare(req.messages, req.output_tokens, config),
        "route": lambda: route(prepared.need(), req.wish, SMALL, POLICY, CAT, {}),
        "affinity (look up, record)": affine,
        "backend body (incl. one loop turn)": body,
        "check the backend's answer": lambda: backend._completion(ANSWER),
        "reply headers": lambda: response_headers(model, decision.reason, 12, prepared.plan, "r"),
        "reply body": lambda: fastjson.json_response(completion, headers=headers),
        "access line (text, to /dev/null)": lambda: logs.log_access(
            request, response, time.perf_counter(), "openai"
        ),
        "metrics": measure,
    }


def main() -> None:
    loop = asyncio.new_event_loop()
    with open(os.devnull, "w") as devnull:
        handler = logs.configure(GatewayConfig(), devnull)
        logging.getLogger("gateway.access").setLevel(logging.INFO)
        print("| stage | µs per request |")
        print("|---|---:|")
        total = 0.0
        for name, fn in stages(loop).items():
            us = per_call_us(fn)
            total += us
            print(f"| {name} | {us:.1f} |")
        print(f"| **total** | **{total:.1f}** |")
        logging.getLogger().removeHandler(handler)
    loop.close()


if __name__ == "__main__":
    main()
