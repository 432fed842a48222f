"""`/metrics`: valid Prometheus text (checked by prometheus_client's own parser) whose
numbers follow what the gateway served."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Counter, Gauge, Histogram, Metrics
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator, OllamaModel
from tests.media import wav

USER = [{"role": "user", "content": "hi"}]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample, keyed by (name, labels); the parser fails on malformed text."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found[(name, frozenset(labels.items()))]


async def scrape(gateway: TestServer) -> Samples:
    async with ClientSession() as s, s.get(gateway.make_url("/metrics")) as r:
        assert r.status == 200 and r.content_type == "text/plain"
        return samples(await r.text())


def test_histogram_buckets_are_cumulative_with_le_inclusive() -> None:
    h = Histogram("t_seconds", "test", ("path",), buckets=(0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v, "/x")
    found = samples("\n".join(h.render()) + "\n")
    buckets = [value(found, "t_seconds_bucket", path="/x", le=le) for le in ("0.1", "1.0", "+Inf")]
    assert buckets == [2, 3, 4]
    assert value(found, "t_seconds_count", path="/x") == 4
    assert value(found, "t_seconds_sum", path="/x") == pytest.approx(3.65)


def test_label_values_are_escaped() -> None:
    c = Counter("t_total", "test", ("model",))
    c.inc('a "quoted"\\name\nwith a newline')
    found = samples("\n".join(c.render()) + "\n")
    assert value(found, "t_total", model='a "quoted"\\name\nwith a newline') == 1


def test_an_empty_registry_is_valid_text() -> None:
    text = Metrics().render([Gauge("t_up", "test", (), [((), 1.0)])])
    assert samples(text) == {("t_up", frozenset()): 1.0}


@pytest.fixture
async def pair(make_gateway: MakeGateway) -> Any:
    async with (
        OllamaEmulator([OllamaModel("gemma4:e4b")]) as first,
        OllamaEmulator([OllamaModel("gemma4:e4b")]) as second,
    ):
        yield (
            await make_gateway(
                backend("first", "ollama", first.url), backend("second", "ollama", second.url)
            ),
            first,
        )


async def test_metrics_follow_what_was_served(pair: tuple[TestServer, OllamaEmulator]) -> None:
    gateway, first = pair
    assert (await post_chat(gateway, {"messages": USER}))[0] == 200
    audio = base64.b64encode(wav(2)).decode()
    content = [{"type": "input_audio", "input_audio": {"data": audio, "format": "wav"}}]
    assert (await post_chat(gateway, {"messages": [{"role": "user", "content": content}]}))[
        0
    ] == 200
    assert (await post_chat(gateway, {"messages": "not a list"}))[0] == 400
    first.status_override = (500, {"error": "llama runner process has terminated"})
    for stream in (False, True):  # both answered by `second` after `first` fails
        # two conversations: a second turn of one would go straight to its host (affinity)
        said = [{"role": "user", "content": f"Hello, streamed={stream}"}]
        assert (await post_chat(gateway, {"messages": said, "stream": stream}))[0] == 200
    async with ClientSession() as s, s.get(gateway.make_url("/nowhere")) as r:
        assert r.status == 404

    found = await scrape(gateway)
    chat = {"method": "POST", "path": "/v1/chat/completions"}
    assert value(found, "gateway_http_requests_total", **chat, status="200") == 4
    assert value(found, "gateway_http_requests_total", **chat, status="400") == 1
    assert value(found, "gateway_http_requests_total", method="GET", path="unmatched",
                 status="404") == 1  # fmt: skip
    assert value(found, "gateway_http_request_duration_seconds_count", path=chat["path"]) == 5

    answered = {k: v for k, v in found.items() if k[0] == "gateway_chat_answered_total"}
    assert sum(answered.values()) == 4
    assert value(found, "gateway_chat_answered_total", model="gemma4:e4b", backend="second",
                 reason="fallback") == 2  # fmt: skip
    assert value(found, "gateway_chat_answered_total", model="gemma4:e4b", backend="first",
                 reason="audio") == 1  # fmt: skip
    assert value(found, "gateway_backend_failures_total", backend="first",
                 code="backend_error") == 2  # fmt: skip
    assert value(found, "gateway_media_prepare_seconds_count") == 1

    for name in ("first", "second"):
        assert value(found, "gateway_backend_up", backend=name) == 1
        assert value(found, "gateway_backend_in_flight", backend=name) == 0
        assert value(found, "gateway_backend_queued", backend=name) == 0
        assert value(found, "gateway_backend_models", backend=name, state="listed") == 1
    assert value(found, "gateway_inventory_age_seconds") >= 0
    # every body answered, none held; the budget is the default 512 MiB
    assert value(found, "gateway_inflight_body_bytes", state="in_use") == 0
    assert value(found, "gateway_inflight_body_bytes", state="capacity") == 512 * 2**20
