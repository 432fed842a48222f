"""`/openapi.json` (issue 8): the document matches the router and is valid OpenAPI 3.1, and
schemathesis, generating requests from it, finds no 500 and no answer the document does not
describe on a live gateway in front of the Ollama emulator."""

from __future__ import annotations

import asyncio

import pytest
import requests
import schemathesis
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

from gateway.config import GatewayConfig
from gateway.openapi import openapi_document
from gateway.server import create_app
from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator

KEY = "sk-test"
MAX_EXAMPLES = 100  # per operation and mode
CHECK_NAMES = [
    "status_code_conformance",  # no status the document does not list (so no 500)
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",  # a body the schema refuses is a 4xx, never a 2xx
    "ignored_auth",  # without the key (or with a wrong one) a /v1/ operation is a 401
]
OPERATIONS = [
    (method.upper(), path, op)
    for path, item in openapi_document()["paths"].items()
    for method, op in item.items()
]
# Negative cases need something to break: a body, a parameter or a key.
CASES = [
    pytest.param(method, path, mode, id=f"{method} {path} {mode.value}")
    for method, path, op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or {"requestBody", "parameters"} & set(op) or op["security"]
]


def served_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; aiohttp adds a HEAD to every GET."""
    router = create_app(GatewayConfig()).router
    return {
        (route.method, route.resource.canonical)
        for route in router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def test_document_describes_every_route_and_only_those() -> None:
    assert {(method, path) for method, path, _ in OPERATIONS} == served_routes()


def test_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    validate(document)
    assert document["openapi"].startswith("3.1")
    chat = document["paths"]["/v1/chat/completions"]["post"]
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert set(chat["responses"]) >= {"200", "400", "401", "404", "413", "429", "502", "503", "504"}


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    """With API keys, so the document's bearer scheme is exercised too."""
    return await make_gateway(backend("ollama", "ollama", ollama.url), server={"api_keys": [KEY]})


async def test_document_is_served_without_a_key(gateway: TestServer) -> None:
    async with ClientSession() as s, s.get(gateway.make_url("/openapi.json")) as r:
        assert r.status == 200
        assert await r.json() == openapi_document()


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
async def test_schemathesis_finds_no_undocumented_answer(
    gateway: TestServer, method: str, path: str, mode: GenerationMode
) -> None:
    """The gateway serves on this loop; schemathesis's blocking client runs in a thread."""
    base_url = str(gateway.make_url("")).rstrip("/")
    ran = await asyncio.to_thread(run_schemathesis, base_url, f"{method} {path}", mode)
    assert ran > 0


def run_schemathesis(base_url: str, label: str, mode: GenerationMode) -> int:
    """Call the operation with generated cases; returns how many ran."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    load_all_checks()
    checks = [CHECKS.get_one(name) for name in CHECK_NAMES]
    ran = 0

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def call(case: schemathesis.Case) -> None:
        nonlocal ran
        ran += 1
        with requests.Session() as session:
            headers = {"Authorization": f"Bearer {KEY}"}
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
            case.validate_response(response, checks=checks, headers=headers)
        alive = requests.get(f"{base_url}/healthz", timeout=10)
        assert alive.status_code == 200

    call()
    return ran
