"""`GET /openapi.json`: the gateway's HTTP API as an OpenAPI 3.1 document.

The chat request schema is generated from `ChatRequest`, so the document says what the edge
validates; the rest is written here. A test holds the document to the app's router (every
route described, nothing more) and runs schemathesis against a live gateway with it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aiohttp import web

from gateway import __version__
from gateway.fronts import SCHEMA_REF, audio, completions, responses, sse_event_schema
from gateway.fronts.ollama_wire import (
    ChatBody,
    EmbedBody,
    GenerateBody,
    LegacyEmbedBody,
    ModelBody,
)
from gateway.fronts.openai_wire import ChatRequest, EmbeddingsRequest

Schema = dict[str, Any]

ERROR_STATUSES = {
    400: "Bad input, or a model that cannot take the request; `param` names the field.",
    401: "Missing or wrong API key (only when `server.api_keys` is set).",
    404: "The named model or alias is on no reachable backend.",
    408: "The body did not arrive within `server.body_timeout_s`.",
    413: "The body is over `server.max_body_mb`, or media over a pixel or size limit.",
    415: "The body is compressed (`Content-Encoding`); send it as plain JSON.",
    429: "The backend's concurrency slots and queue are full; retry after `Retry-After`.",
    502: "The backend failed or could not be reached.",
    503: "No healthy backend has a model that can take the request (the message says how "
    "to get one), or the bodies in flight are over `server.max_inflight_mb` (with "
    "`Retry-After`).",
    504: "The backend timed out.",
}
ROUTE_REASONS = [
    "override",
    "audio",
    "long-context",
    "prefer-speed",
    "prefer-quality",
    "default",
    "fallback",
]


@cache
def openapi_document() -> Schema:
    """The whole document, built once: it depends on nothing but the code."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "gemma-gateway",
            "version": __version__,
            "description": "An OpenAI-compatible gateway routing chat across the Gemma 4 "
            "family on local backends (Ollama, LM Studio, llama.cpp).",
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Required on every API path (not the health probes, "
                    "metrics, `/` or this document) when `server.api_keys` is set.",
                }
            },
        },
    }


async def serve_openapi(request: web.Request) -> web.Response:
    """Open like the health probes: it describes the API, not the backends or models."""
    return web.json_response(openapi_document())


def _paths() -> Schema:
    chat_body = {"required": True, "content": {"application/json": {"schema": _ref("ChatRequest")}}}
    return {
        "/v1/chat/completions": {
            "post": {
                "operationId": "createChatCompletion",
                "summary": "Route a chat to a backend and relay its answer (JSON or SSE).",
                "security": [{"bearerAuth": []}],
                "parameters": _gateway_headers(),
                "requestBody": chat_body,
                "responses": {"200": _chat_ok(), **_errors(*ERROR_STATUSES)},
            }
        },
        "/v1/models": {
            "get": {
                "operationId": "listModels",
                "summary": "`auto`, the family aliases present, then every concrete model.",
                "security": [{"bearerAuth": []}],
                "responses": {"200": _json("The model list.", "ModelList"), **_errors(401)},
            }
        },
        "/v1/models/{model}": {
            "get": {
                "operationId": "retrieveModel",
                "summary": "One entry of the model list, by id or alias.",
                "security": [{"bearerAuth": []}],
                "parameters": [{"name": "model", "in": "path", "required": True,
                                "schema": {"type": "string"}}],  # fmt: skip
                "responses": {"200": _json("The model.", "ModelEntry"), **_errors(401, 404)},
            }
        },
        "/v1/embeddings": {
            "post": {
                "operationId": "createEmbeddings",
                "summary": "Vectors from an embedding model on any backend (`auto`: "
                "EmbeddingGemma first), one per input, in order.",
                "security": [{"bearerAuth": []}],
                "parameters": _gateway_headers(),
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": _ref("EmbeddingsRequest")}}},  # fmt: skip
                "responses": {
                    "200": _json("The vectors.", "EmbeddingList"),
                    **_errors(*ERROR_STATUSES),
                },
            }
        },
        "/v1/gateway/route": {
            "post": {
                "operationId": "routeDryRun",
                "summary": "The routing decision a chat body would get; nothing is forwarded.",
                "security": [{"bearerAuth": []}],
                "parameters": _gateway_headers(),
                "requestBody": chat_body,
                "responses": {
                    "200": _json("The decision.", "RouteDecision"),
                    **_errors(400, 401, 404, 408, 413, 415, 503),
                },
            }
        },
        "/healthz": _open("liveness", "Liveness: 200 while the process serves.", "Health"),
        "/readyz": {
            "get": {
                "operationId": "readiness",
                "summary": "Whether a healthy backend lists a routable model.",
                "security": [],
                "responses": {
                    "200": _json("Ready.", "Readiness"),
                    "503": _json("Not ready; `reason` says why per backend.", "Readiness"),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus text exposition (models and backends, never content).",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Prometheus text format 0.0.4.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": _open("openapi", "This document.", "OpenAPIDocument"),
        **_ollama_paths(),
        **audio.openapi_paths(),
        **completions.openapi_paths(),
        **responses.openapi_paths(),
    }


def _ollama_paths() -> Schema:
    """Ollama's native API (`fronts/ollama.py`): Ollama's shapes, Ollama's errors."""

    def op(operation_id: str, summary: str, ok: Schema, body: str | None = None,
           errors: tuple[int, ...] = (401,), method: str = "get") -> Schema:  # fmt: skip
        operation: Schema = {
            "operationId": operation_id, "summary": summary, "security": [{"bearerAuth": []}],
            "responses": {"200": ok, **_errors(*errors, schema="OllamaError")},
        }  # fmt: skip
        if body:
            operation["parameters"] = _gateway_headers()
            operation["requestBody"] = {
                "required": True, "content": {"application/json": {"schema": _ref(body)}}
            }  # fmt: skip
        return {method: operation}

    answer = {"schema": _ref("OllamaAnswer")}
    generation = {"description": "One JSON object, or with `stream` (the default) NDJSON "
                  "lines ending in a `done` line with Ollama's counters.",
                  "content": {"application/json": answer,
                              "application/x-ndjson": answer}}  # fmt: skip
    every = tuple(ERROR_STATUSES)
    store = {"summary": "Not proxied: run it against the backend itself.", "security": [],
             "responses": {"501": _json("Not proxied.", "OllamaError"),
                           **_errors(401, schema="OllamaError")}}  # fmt: skip
    return {
        "/api/chat": op("ollamaChat", "Ollama chat, routed.", generation, "OllamaChat",
                        every, "post"),
        "/api/generate": op("ollamaGenerate", "Ollama generate, routed.", generation,
                            "OllamaGenerate", every, "post"),
        "/api/tags": op("ollamaTags", "Every routable model.", _json("Models.", "OllamaModels")),
        "/api/ps": op("ollamaPs", "Loaded models.", _json("Models.", "OllamaModels")),
        "/api/show": op("ollamaShow", "One model's facts.", _json("Facts.", "OllamaShow"),
                        "OllamaModelName", (400, 401, 404, 408, 413, 415, 503), "post"),
        "/api/embed": op("ollamaEmbed", "Embeddings from an embedding model, in order.",
                         _json("Vectors.", "OllamaEmbeddings"), "OllamaEmbed", every, "post"),
        "/api/embeddings": op("ollamaEmbeddings", "The older call: one prompt, one vector.",
                              _json("A vector.", "OllamaEmbedding"), "OllamaLegacyEmbed",
                              every, "post"),
        "/api/version": op("ollamaVersion", "The Ollama API version followed.",
                           _json("Version.", "OllamaVersion")),
        "/": {"get": {"operationId": "ollamaAlive", "summary": "Ollama's liveness answer.",
                      "security": [], "responses": {"200": {
                          "description": "`Ollama is running`.",
                          "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
        **{path: {method: {**store, "operationId": f"ollama{path.split('/')[2].title()}"}}
           for method, path in (("post", "/api/pull"), ("post", "/api/push"),
                                ("post", "/api/create"), ("post", "/api/copy"),
                                ("delete", "/api/delete"))},
    }  # fmt: skip


def _open(operation_id: str, summary: str, schema: str) -> Schema:
    """A GET that needs no key and always answers 200 JSON."""
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "security": [],
            "responses": {"200": _json(summary, schema)},
        }
    }


def _gateway_headers() -> list[Schema]:
    def header(name: str, description: str, schema: Schema) -> Schema:
        return {
            "name": name,
            "in": "header",
            "required": False,
            "description": description,
            "schema": schema,
        }

    text = {"type": "string"}
    return [
        header("X-Gateway-Model", "Overrides the body's `model`.", text),
        header("X-Gateway-Backend", "Pins the backend by name.", text),
        header(
            "X-Gateway-Prefer",
            "Chooses among capable models.",
            {"type": "string", "enum": ["speed", "balanced", "quality"]},
        ),
        header("X-Request-Id", "Echoed in the response; generated when absent.", text),
    ]


def _chat_ok() -> Schema:
    required = {"schema": {"type": "string"}, "required": True}
    return {
        "description": "The answer: a `chat.completion`, or with `stream: true` SSE "
        "`chat.completion.chunk` events ending in `data: [DONE]` (or, after a failure "
        'mid-stream, one `data: {"error": ...}` event).',
        "headers": {
            "X-Gateway-Model": {**required, "description": "The concrete model that served it."},
            "X-Gateway-Backend": {**required, "description": "The backend's name."},
            "X-Gateway-Route": {
                "required": True,
                "description": "Why this model.",
                "schema": {"type": "string", "enum": ROUTE_REASONS},
            },
            "X-Gateway-Tokens-Estimate": {
                "required": True,
                "description": "The token estimate the decision used.",
                "schema": {"type": "integer", "minimum": 0},
            },
            "X-Gateway-Preprocess": {
                "schema": {"type": "string"},
                "description": "What was done to media, e.g. `video=1;frames=60;truncated_s=30`.",
            },
            "X-Request-Id": {**required, "description": "The request id."},
        },
        "content": {
            "application/json": {"schema": _ref("ChatCompletion")},
            "text/event-stream": {"schema": _ref("ChatEvent")},
        },
    }


def _errors(*statuses: int, schema: str = "Error") -> Schema:
    """Error objects (OpenAI's unless `schema` names another); a 429 says when to retry."""
    out = {}
    for status in statuses:
        response = _json(ERROR_STATUSES[status], schema)
        if status == 429:
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        out[str(status)] = response
    return out


def _json(description: str, schema: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _ref(name: str) -> Schema:
    return {"$ref": SCHEMA_REF.format(model=name)}


def _schemas() -> dict[str, Schema]:
    request = ChatRequest.model_json_schema(ref_template=SCHEMA_REF)
    defs = request.pop("$defs")
    nullable_text = {"type": ["string", "null"]}
    obj = {"type": "object"}
    return {
        **defs,
        "ChatRequest": request,
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["message", "type", "param", "code"],
                    "properties": {
                        "message": {"type": "string"},
                        "type": {"type": "string"},
                        "param": nullable_text,
                        "code": nullable_text,
                        "source": {"const": "gateway"},
                    },
                }
            },
        },
        "ChatCompletion": _completion(
            "chat.completion",
            ["index", "message", "finish_reason"],
            {"index": {"type": "integer"}, "message": obj, "finish_reason": nullable_text},
        ),
        "ChatCompletionChunk": _completion(
            "chat.completion.chunk",
            ["index", "delta"],
            {"index": {"type": "integer"}, "delta": obj},
        ),
        "ChatEvent": sse_event_schema("ChatCompletionChunk", "Error"),
        "EmbeddingsRequest": EmbeddingsRequest.model_json_schema(ref_template=SCHEMA_REF),
        "EmbeddingList": {
            "type": "object",
            "required": ["object", "data", "model", "usage"],
            "properties": {
                "object": {"const": "list"},
                "model": {"type": "string"},
                "data": {"type": "array", "items": {
                    "type": "object", "required": ["object", "index", "embedding"],
                    "properties": {"object": {"const": "embedding"}, "index": {"type": "integer"},
                                   "embedding": {"anyOf": [
                                       {"type": "array", "items": {"type": "number"}},
                                       {"type": "string"}]}}}},  # fmt: skip
                "usage": {"type": "object"},
            },
        },
        "ModelEntry": {
            "type": "object",
            "required": ["id", "object", "created", "owned_by"],
            "properties": {"id": {"type": "string"}, "object": {"const": "model"}},
        },
        "ModelList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {
                "object": {"const": "list"},
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "object", "created", "owned_by"],
                        "properties": {
                            "id": {"type": "string"},
                            "object": {"const": "model"},
                            "created": {"type": "integer"},
                            "owned_by": {"type": "string"},
                            "gateway": obj,
                        },
                    },
                },
            },
        },
        "RouteDecision": {
            "type": "object",
            "required": ["model", "backend", "reason", "tokens_estimate", "candidates"],
            "properties": {
                "model": {"type": "string"},
                "backend": {"type": "string"},
                "member": nullable_text,
                "num_ctx": {"type": ["integer", "null"]},
                "reason": {"type": "string", "enum": ROUTE_REASONS},
                "tokens_estimate": {"type": "integer"},
                "estimate": obj,
                "modalities": {"type": "array", "items": {"type": "string"}},
                "preprocess": obj,
                "candidates": {"type": "array", "items": obj},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "version"],
            "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "backends"],
            "properties": {
                "status": {"enum": ["ready", "not ready"]},
                "reason": {"type": "string"},
                "backends": {"type": "object", "additionalProperties": obj},
            },
        },
        "OpenAPIDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
        **_ollama_schemas(),
        **audio.openapi_schemas(),
        **completions.openapi_schemas(),
        **responses.openapi_schemas(),
    }


def _ollama_schemas() -> dict[str, Schema]:
    schemas: dict[str, Schema] = {}
    for name, model in (("OllamaChat", ChatBody), ("OllamaGenerate", GenerateBody),
                        ("OllamaModelName", ModelBody), ("OllamaEmbed", EmbedBody),
                        ("OllamaLegacyEmbed", LegacyEmbedBody)):  # fmt: skip
        # Ollama's `Message`, `Options`, ... are not OpenAI's: their own names, prefixed.
        schema = model.model_json_schema(ref_template=SCHEMA_REF.format(model="Ollama{model}"))
        schemas.update({f"Ollama{k}": v for k, v in schema.pop("$defs", {}).items()})
        schemas[name] = schema
    obj, text = {"type": "object"}, {"type": "string"}
    vector = {"type": "array", "items": {"type": "number"}}
    models = {"type": "array", "items": {"type": "object", "required": ["name", "model"],
                                         "properties": {"name": text, "model": text}}}  # fmt: skip
    return {
        **schemas,
        "OllamaError": {"type": "object", "required": ["error"], "properties": {"error": text}},
        "OllamaAnswer": {"type": "object", "required": ["model", "created_at", "done"],
                         "properties": {"model": text, "created_at": text, "done": {
                             "type": "boolean"}, "message": obj, "response": text}},
        "OllamaModels": {"type": "object", "required": ["models"], "properties": {
            "models": models}},
        "OllamaShow": {"type": "object", "required": ["details", "model_info", "capabilities"]},
        "OllamaEmbeddings": {"type": "object", "required": ["model", "embeddings"],
                             "properties": {"embeddings": {"type": "array", "items": vector}}},
        "OllamaEmbedding": {"type": "object", "required": ["embedding"],
                            "properties": {"embedding": vector}},
        "OllamaVersion": {"type": "object", "required": ["version"],
                          "properties": {"version": text}},
    }  # fmt: skip


def _completion(kind: str, required: list[str], choice: Schema) -> Schema:
    """A `chat.completion` or `chat.completion.chunk`: the same envelope, other choices."""
    return {
        "type": "object",
        "required": ["id", "object", "created", "model", "choices"],
        "properties": {
            "id": {"type": "string"},
            "object": {"const": kind},
            "created": {"type": "integer"},
            "model": {"type": "string"},
            "choices": {
                "type": "array",
                "items": {"type": "object", "required": required, "properties": choice},
            },
            "usage": {"type": "object"},
        },
    }
