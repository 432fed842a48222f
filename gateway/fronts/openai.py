"""The OpenAI front: `/v1/chat/completions`, `/v1/models` and the dry run `/v1/gateway/route`.

It owns OpenAI's wire format both ways: the body is parsed (`openai_wire`) into the core
`Request`, outcomes are rendered as `chat.completion` objects or SSE, errors in OpenAI's
envelope. Everything between is the shared pipeline (`core.pipeline`).
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from aiohttp import web

from gateway.core.errors import GatewayError, InvalidRequest, ModelNotFound
from gateway.core.messages import ChatMessage, Chunk
from gateway.core.pipeline import EmbedCall, Outcome, Pipeline, explain
from gateway.core.request import Request
from gateway.core.routing import Wish
from gateway.edge import parse_body, parse_chat_request
from gateway.fastjson import dumps, json_response
from gateway.fetch import unfetched_note
from gateway.fronts import Endpoint, wish
from gateway.fronts.body import read_body
from gateway.fronts.openai_wire import (
    AudioPart,
    ChatRequest,
    ContentPart,
    EmbeddingsRequest,
    ImagePart,
    Message,
    TextPart,
    error_body,
)
from gateway.fronts.stream import stream_response
from gateway.logs import note_usage
from gateway.state import PIPELINE, REQUEST_ID
from preprocess.media import Encoded, Source, Text


async def chat_completions(request: web.Request) -> web.StreamResponse:
    pipeline, request_id = request.app[PIPELINE], request[REQUEST_ID]
    req = await read_request(request)
    prepared = await pipeline.prepare(req)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    return await render(request, await pipeline.dispatch(req, prepared, decision, request_id))


async def route_dry_run(request: web.Request) -> web.Response:
    """`POST /v1/gateway/route`: the decision a chat request would get, on the live inventory
    and load, with nothing forwarded. `gateway route` asks it when a gateway runs, so the dry
    run sees what the gateway sees (the embedded engine, requests in flight)."""
    req = await read_request(request)
    return web.json_response(await dry_run(request.app[PIPELINE], req, request[REQUEST_ID]))


async def dry_run(pipeline: Pipeline, req: Request, request_id: str = "-") -> dict[str, Any]:
    """What a real request goes through, up to the decision: remote media is counted, not
    fetched (`fetch.unfetched`)."""
    prepared = await pipeline.prepare(req, dry=True)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    answer = explain(decision, prepared, pipeline.keeper.snapshot)
    if pipeline.config.preprocess.allow_remote_media and (urls := req.remote()):
        answer["remote_media"] = unfetched_note(urls)
    return answer


async def read_request(request: web.Request) -> Request:
    """The body parsed (off the loop when it is large) into the core request."""
    chat = await read_body(request, parse_chat_request)
    return to_request(chat, wish(request, None))


def to_request(chat: ChatRequest, wished: Wish) -> Request:
    """The OpenAI request in the core's terms; the body's `model` is the wish unless a header
    named one."""
    return Request(
        messages=[_message(m, i) for i, m in enumerate(chat.messages)],
        wish=Wish(wished.model or chat.model, wished.backend, wished.prefer),
        sampling=chat.sampling(),
        stream=chat.stream,
        include_usage=chat.include_usage,
        choices=chat.n_choices,
        output_tokens=chat.output_tokens,
    )


def _message(msg: Message, i: int) -> ChatMessage[Source]:
    parts: list[Source]
    if msg.content is None:
        parts = []
    elif isinstance(msg.content, str):
        parts = [Text(msg.content)]
    else:
        parts = [_part(p, f"messages[{i}].content[{j}]") for j, p in enumerate(msg.content)]
    return ChatMessage(msg.role, parts, msg.passthrough())


def _part(part: ContentPart, param: str) -> Source:
    if isinstance(part, TextPart):
        return Text(part.text)
    if isinstance(part, AudioPart):
        audio = part.input_audio
        return Encoded("audio", audio.data, param + ".input_audio.data", audio.format)
    if isinstance(part, ImagePart):
        return Encoded("image", part.image_url.url, param + ".image_url.url")
    return Encoded("video", part.video_url.url, param + ".video_url.url")


async def render(request: web.Request, outcome: Outcome) -> web.StreamResponse:
    if outcome.stream is not None:
        return await stream_response(request, outcome.stream, outcome.headers, SSE())
    note_usage(request, outcome.completion)
    return json_response(outcome.completion, headers=outcome.headers)


class SSE:
    """OpenAI's server-sent events: each chunk an event, `data: [DONE]` at a clean end."""

    content_type = "text/event-stream"

    def chunk(self, chunk: Chunk) -> bytes:
        return event(chunk)

    def error(self, e: GatewayError) -> bytes:
        return event(error_body(e))

    def end(self) -> bytes:
        return b"data: [DONE]\n\n"


def event(obj: object) -> bytes:
    """One SSE event.

    >>> event({"a": 1})
    b'data: {"a":1}\\n\\n'
    """
    return b"data: " + dumps(obj) + b"\n\n"


def error_response(e: GatewayError) -> web.Response:
    return json_response(error_body(e), status=e.status, headers=e.headers)


async def list_models(request: web.Request) -> web.Response:
    """OpenAI model list: `auto`, the family aliases present, then every concrete model."""
    return web.json_response({"object": "list", "data": await _model_list(request)})


async def _model_list(request: web.Request) -> list[dict[str, Any]]:
    keeper = request.app[PIPELINE].keeper
    models = keeper.snapshot.models()
    present = {m.member for m in models}
    aliases = ["auto"] + [a for a in keeper.catalogue.members if a in present]
    data = [{"id": a, "object": "model", "created": 0, "owned_by": "gateway"} for a in aliases]
    data += [
        {
            "id": m.id,
            "object": "model",
            "created": 0,
            "owned_by": m.backend,
            "gateway": {
                "backend": m.backend,
                "member": m.member,
                "inputs": sorted(m.takes),
                "context": m.context,
                "loaded": m.loaded,
                "embedding": m.embedding,
            },
        }
        for m in models
    ]
    return data


async def embeddings(request: web.Request) -> web.Response:
    """`POST /v1/embeddings` over the pipeline's embedding routing: any backend's embedding
    model, or `auto` (EmbeddingGemma first)."""
    body = await read_body(request, parse_embeddings_request)
    if isinstance(body.input, list) and body.input and not isinstance(body.input[0], str):
        raise InvalidRequest(
            "input: token arrays are not supported by the gateway; send the text",
            param="input",
        )
    texts = [body.input] if isinstance(body.input, str) else [str(t) for t in body.input]
    wished = wish(request, body.model)
    call = EmbedCall(texts, Wish(wished.model or "auto", wished.backend, wished.prefer),
                     dimensions=body.dimensions, request_id=request[REQUEST_ID])  # fmt: skip
    outcome = await request.app[PIPELINE].embed(call)
    vectors = outcome.embeddings
    tokens = vectors.prompt_tokens or int(outcome.headers["X-Gateway-Tokens-Estimate"])
    data = [{"object": "embedding", "index": i, "embedding": _encoded(v, body.encoding_format)}
            for i, v in enumerate(vectors.vectors)]  # fmt: skip
    return web.json_response(
        {"object": "list", "data": data, "model": outcome.model.id,
         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}},
        headers=outcome.headers,
    )  # fmt: skip


def parse_embeddings_request(body: bytes) -> EmbeddingsRequest:
    return parse_body(EmbeddingsRequest, body, "a JSON embeddings request")


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    """OpenAI's `base64`: the vector as little-endian float32, base64-encoded.

    >>> _encoded([1.0, -2.0], "base64"), _encoded([0.5], "float")
    ('AACAPwAAAMA=', [0.5])
    """
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def retrieve_model(request: web.Request) -> web.Response:
    """`GET /v1/models/{model}`: one entry of the list, by id or alias (ids may hold `/`)."""
    name = request.match_info["model"]
    listing = await _model_list(request)
    found = next((m for m in listing if m["id"] == name), None)
    if found is None:
        raise ModelNotFound(f"model {name!r} is not listed; GET /v1/models lists them",
                            param="model")  # fmt: skip
    return web.json_response(found)


ENDPOINTS = [
    Endpoint("POST", "/v1/chat/completions", chat_completions, error_response),
    Endpoint("GET", "/v1/models", list_models, error_response),
    Endpoint("GET", "/v1/models/{model:.+}", retrieve_model, error_response),
    Endpoint("POST", "/v1/embeddings", embeddings, error_response),
    Endpoint("POST", "/v1/gateway/route", route_dry_run, error_response),
]
