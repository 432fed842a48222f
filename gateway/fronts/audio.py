"""The audio front: OpenAI's `/v1/audio/transcriptions` and `/v1/audio/translations`.

A multipart upload (`file`, `model`, `language`, `prompt`, `response_format`, `temperature`,
`stream`) is read from the body the intake already holds, within small caps per field. The
audio is decoded and cut into clips of at most `preprocess.audio_clip_seconds` (30 s) at
quiet moments in **one** isolated decode trip (`preprocess.audio.audio_clips`); then each
clip is its own chat request (the clip and an instruction to transcribe or translate it),
routed (`audio`: a family member that hears) and dispatched like any other, all clips at
once: the backends' limiters bound how many really run. The first failure cancels the
rest. Texts are joined in clip order; segments carry each clip's real start and end.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.streams import StreamReader

from gateway.core.errors import InvalidRequest
from gateway.core.estimate import estimate
from gateway.core.messages import ChatMessage, Chunk, join_text
from gateway.core.model import Modality
from gateway.core.pipeline import Outcome, Pipeline, Primed, describe_plan
from gateway.core.prepare import Prepared
from gateway.core.request import Request
from gateway.fronts import SCHEMA_REF, Endpoint, wish
from gateway.fronts.openai import SSE, error_response
from gateway.fronts.stream import stream_response
from gateway.state import PIPELINE, REQUEST_ID
from preprocess.audio import Clip, cut_clips
from preprocess.media import Audio, MediaPlan, Source, Text

Task = Literal["transcribe", "translate"]
FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
FIELD_MAX_BYTES = 64 * 1024  # any field but `file`: a model name, a prompt, a number
TRANSLATE_FIELDS = frozenset({"file", "model", "prompt", "response_format", "temperature",
                              "language"})  # fmt: skip
TRANSCRIBE_FIELDS = TRANSLATE_FIELDS | {"stream", "timestamp_granularities[]",
                                        "timestamp_granularities"}  # fmt: skip
REPEATABLE = frozenset({"timestamp_granularities[]"})
# OpenAI's own speech models, which apps send as a constant (Open WebUI's STT, many scripts):
# they mean "transcribe this", so the gateway routes them as `auto`.
OPENAI_SPEECH_MODELS = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})


@dataclass(slots=True)
class Upload:
    """The form as the client sent it: the file's bytes and the other fields, checked."""

    task: Task
    data: bytes
    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    response_format: str = "json"
    temperature: float | None = None
    stream: bool = False
    fields: set[str] = field(default_factory=set)


# --- the form -------------------------------------------------------------------------


async def read_upload(request: web.Request, task: Task) -> Upload:
    """The multipart form, read from the body intake already holds (within max_body_mb)."""
    body = await request.read()
    reader = _multipart(request, body)
    upload = Upload(task, b"")
    allowed = TRANSCRIBE_FIELDS if task == "transcribe" else TRANSLATE_FIELDS
    try:
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise InvalidRequest("nested multipart bodies are not accepted")
            await _take(upload, part, allowed, len(body))
    except (ValueError, AssertionError, LookupError, HttpProcessingError, web.HTTPException) as e:
        raise InvalidRequest(f"the multipart/form-data body could not be read ({e})") from None
    if "file" not in upload.fields:
        raise InvalidRequest("file: this field is required (the audio to transcribe)",
                             param="file")  # fmt: skip
    return upload


def _multipart(request: web.Request, body: bytes) -> MultipartReader:
    """aiohttp's reader over the body bytes (intake has read the request's own stream)."""
    if request.content_type != "multipart/form-data":
        raise InvalidRequest(
            f"the body is {request.content_type or 'untyped'}; send multipart/form-data with "
            "the audio as `file`"
        )
    loop = asyncio.get_running_loop()
    stream = StreamReader(BaseProtocol(loop), max(len(body), 2**16), loop=loop)
    stream.feed_data(body)
    stream.feed_eof()
    try:
        return MultipartReader(request.headers, stream, client_max_size=len(body) + 1)
    except (ValueError, AssertionError) as e:
        raise InvalidRequest(f"the multipart/form-data body could not be read ({e})") from None


async def _take(upload: Upload, part: BodyPartReader, allowed: frozenset[str], cap: int) -> None:
    name = part.name or ""
    if name not in allowed:
        raise InvalidRequest(
            f"{name or 'a part without a name'}: unknown field; this endpoint takes "
            f"{', '.join(sorted(allowed))}",
            param=name or None,
        )
    if name in upload.fields and name not in REPEATABLE:
        raise InvalidRequest(f"{name}: the field is given twice", param=name)
    upload.fields.add(name)
    if name == "file":
        upload.data = await _read(part, cap, name)
        return
    raw = await _read(part, FIELD_MAX_BYTES, name)
    try:
        value = raw.decode()
    except UnicodeDecodeError:
        raise InvalidRequest(f"{name}: the value is not UTF-8 text", param=name) from None
    _set(upload, name, value)


async def _read(part: BodyPartReader, cap: int, name: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > cap:
            raise InvalidRequest(f"{name}: the value is over {cap} bytes", param=name)
    return bytes(data)


def _set(upload: Upload, name: str, value: str) -> None:
    """A text field, checked as the document describes it."""
    if name in ("model", "language", "prompt"):
        setattr(upload, name, value or None)
    elif name == "response_format":
        if value not in FORMATS:
            raise InvalidRequest(
                f"response_format: must be one of {', '.join(FORMATS)}; not {value!r}",
                param=name,
            )
        upload.response_format = value
    elif name == "temperature":
        upload.temperature = _temperature(value)
    elif name == "stream":
        if value not in ("true", "false"):
            raise InvalidRequest(f"stream: must be true or false; not {value!r}", param=name)
        upload.stream = value == "true"
    elif value != "segment":  # timestamp granularities: segments are what clips give
        raise InvalidRequest(
            f"{name}: only `segment` timestamps are given (one per clip); not {value!r}",
            param=name,
        )


def _temperature(value: str) -> float:
    try:
        t = float(value)
    except ValueError:
        t = math.nan
    if not 0 <= t <= 1:
        raise InvalidRequest(
            f"temperature: must be a number from 0 to 1; not {value!r}", param="temperature"
        )
    return t


# --- the clips ------------------------------------------------------------------------


async def clips_of(pipeline: Pipeline, data: bytes) -> list[Clip]:
    """The one isolated decode trip."""
    if not data:
        raise InvalidRequest("file: the file is empty; send wav, mp3, flac or ogg audio",
                             param="file")  # fmt: skip
    started = time.perf_counter()
    clips = await pipeline.isolate(True, cut_clips, data, pipeline.config.media_limits())
    pipeline.metrics.media_seconds.observe(time.perf_counter() - started)
    return clips


def instruction(upload: Upload) -> str:
    """What the model is asked to do with each clip."""
    if upload.task == "translate":
        text = ("Translate the speech in this audio into English. Answer with the English "
                "translation only: no introduction, no notes, no timestamps.")  # fmt: skip
        if upload.language:
            text += f" The speech is in {upload.language}."
    else:
        text = ("Transcribe the speech in this audio verbatim, in the language it is spoken "
                "in. Answer with the transcript only: no introduction, no notes, no "
                "timestamps.")  # fmt: skip
        if upload.language:
            text += f" The speech is in {upload.language}."
    if upload.prompt:
        text += (" Context (earlier words of the recording, or names and spellings to "
                 f"expect; do not repeat it): {upload.prompt}")  # fmt: skip
    return text


def clip_request(pipeline: Pipeline, upload: Upload, clip: Clip) -> tuple[Request, Prepared]:
    """A clip as a chat request, already prepared: the clip, then the instruction."""
    ask = Text(instruction(upload))
    plan = MediaPlan(audios=1, clips=1, audio_s=clip.seconds)
    said: list[ChatMessage[Source]] = [ChatMessage("user", [ask])]
    cost = estimate(said, plan, None, pipeline.config.routing)
    prepared = Prepared([ChatMessage("user", [Audio(clip.wav, "wav"), ask])],
                        frozenset({Modality.TEXT, Modality.AUDIO}), cost, plan)  # fmt: skip
    sampling = {} if upload.temperature is None else {"temperature": upload.temperature}
    return Request(said, sampling=sampling), prepared


async def transcribe_clip(
    request: web.Request, upload: Upload, clip: Clip
) -> Outcome:  # one clip, routed and dispatched like a chat
    pipeline, request_id = request.app[PIPELINE], request[REQUEST_ID]
    req, prepared = clip_request(pipeline, upload, clip)
    req.wish = wish(request, None if upload.model in OPENAI_SPEECH_MODELS else upload.model)
    decision = await pipeline.plan(prepared, req.wish, request_id)
    return await pipeline.dispatch(req, prepared, decision, request_id)


def text_of(outcome: Outcome) -> str:
    """The answer's text (its reasoning, if any, is not part of a transcript)."""
    choices = (outcome.completion or {}).get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content.strip() if isinstance(content, str) else ""


class Clips:
    """Every clip's request running at once; taken in clip order, the first failure (of
    any clip) raised as soon as it happens, and the rest cancelled."""

    def __init__(self, coros: Sequence[Coroutine[Any, Any, Outcome]]) -> None:
        self.tasks = [asyncio.create_task(c) for c in coros]
        self.failed: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()
        for task in self.tasks:
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Outcome]) -> None:
        if task.cancelled() or (error := task.exception()) is None or self.failed.done():
            return
        self.failed.set_result(error)
        for other in self.tasks:
            other.cancel()

    async def in_order(self) -> AsyncIterator[Outcome]:
        for task in self.tasks:
            either: list[asyncio.Future[Any]] = [task, self.failed]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if self.failed.done():
                raise self.failed.result()
            yield task.result()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --- rendering ------------------------------------------------------------------------


def segments(clips: Sequence[Clip], texts: Sequence[str]) -> list[dict[str, Any]]:
    return [
        {"id": i, "start": round(c.start_s, 3), "end": round(c.start_s + c.seconds, 3),
         "text": t}
        for i, (c, t) in enumerate(zip(clips, texts, strict=True))
    ]  # fmt: skip


def timestamp(seconds: float, mark: str) -> str:
    """SRT's `00:00:30,000` (mark `,`) or WebVTT's `00:00:30.000` (mark `.`).

    >>> timestamp(29.87, ","), timestamp(3723.5, ".")
    ('00:00:29,870', '01:02:03.500')
    """
    ms = round(seconds * 1000)
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{mark}{ms:03d}"


def subtitles(segs: Sequence[dict[str, Any]], vtt: bool) -> str:
    """SRT or WebVTT cues, one per clip that has words."""
    mark = "." if vtt else ","
    cues = [s for s in segs if s["text"]]
    lines = ["WEBVTT\n"] if vtt else []
    for n, s in enumerate(cues, 1):
        when = f"{timestamp(s['start'], mark)} --> {timestamp(s['end'], mark)}"
        lines.append(f"{when}\n{s['text']}\n" if vtt else f"{n}\n{when}\n{s['text']}\n")
    return "\n".join(lines)


def rendered(upload: Upload, clips: Sequence[Clip], texts: Sequence[str]) -> web.Response:
    text = join_text(t for t in texts if t)
    duration = round(sum(c.seconds for c in clips), 3)
    usage = {"type": "duration", "seconds": math.ceil(duration)}
    fmt = upload.response_format
    if fmt == "json":
        return web.json_response({"text": text, "usage": usage})
    if fmt == "text":
        return web.Response(text=text + "\n", content_type="text/plain")
    segs = segments(clips, texts)
    if fmt in ("srt", "vtt"):
        return web.Response(text=subtitles(segs, fmt == "vtt"), content_type="text/plain")
    language = "english" if upload.task == "translate" else upload.language or "unknown"
    return web.json_response({"task": upload.task, "language": language, "duration": duration,
                              "text": text, "segments": segs, "usage": usage})  # fmt: skip


def headers_of(first: Outcome, clips: int) -> dict[str, str]:
    """The first clip's `X-Gateway-*` headers, and what was made of the file."""
    return {**first.headers,
            "X-Gateway-Preprocess": describe_plan(MediaPlan(audios=1, clips=clips))}  # fmt: skip


class TranscriptEvents(SSE):
    """OpenAI's transcription events as SSE: `transcript.text.delta` per clip, in order,
    then `transcript.text.done` with the whole text (no `[DONE]`); a failure after the
    first byte is an error event."""

    def end(self) -> bytes:
        return b""


async def _events(
    first: str, rest: AsyncIterator[Outcome], clips: Clips
) -> AsyncGenerator[Chunk, None]:
    texts = [first]
    try:
        async for outcome in rest:
            if text := text_of(outcome):
                yield {"type": "transcript.text.delta", "delta": _delta(texts, text)}
            texts.append(text)
        yield {"type": "transcript.text.done", "text": join_text(t for t in texts if t)}
    finally:
        await clips.close()


def _delta(before: Sequence[str], text: str) -> str:
    """A clip's text as it continues the transcript: a space first unless it is the first."""
    return (" " + text) if any(before) and not text[:1].isspace() else text


# --- handlers -------------------------------------------------------------------------


async def transcriptions(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await read_upload(request, "transcribe"))


async def translations(request: web.Request) -> web.StreamResponse:
    return await _serve(request, await read_upload(request, "translate"))


async def _serve(request: web.Request, upload: Upload) -> web.StreamResponse:
    if upload.stream and upload.response_format not in ("json", "text"):
        raise InvalidRequest(
            f"stream: streamed transcripts are text events; response_format "
            f"{upload.response_format} needs stream false",
            param="stream",
        )
    clips = await clips_of(request.app[PIPELINE], upload.data)
    upload.data = b""  # the clips are what is sent; don't hold the file as well
    running = Clips([transcribe_clip(request, upload, c) for c in clips])
    if upload.stream:
        return await _stream(request, running, len(clips))
    try:
        outcomes = [o async for o in running.in_order()]
    finally:
        await running.close()
    response = rendered(upload, clips, [text_of(o) for o in outcomes])
    response.headers.update(headers_of(outcomes[0], len(clips)))
    return response


async def _stream(request: web.Request, running: Clips, n: int) -> web.StreamResponse:
    """The first clip's answer is awaited before any byte, so a failure to start is still
    an HTTP error; the rest follow as they complete, in order."""
    order = running.in_order()
    try:
        first = await anext(order)
    except BaseException:
        await running.close()
        raise
    text = text_of(first)
    head = {"type": "transcript.text.delta", "delta": text} if text else None
    primed = Primed(head, _events(text, order, running))
    if head is None:  # the first clip said nothing: start with the next event
        primed = Primed(await anext(primed.rest, None), primed.rest)
    return await stream_response(request, primed, headers_of(first, n), TranscriptEvents())


ENDPOINTS = [
    Endpoint("POST", "/v1/audio/transcriptions", transcriptions, error_response),
    Endpoint("POST", "/v1/audio/translations", translations, error_response),
]


# --- the document ---------------------------------------------------------------------


def openapi_paths() -> dict[str, Any]:
    """`/openapi.json` paths of this front (`gateway.openapi` merges them)."""
    return {
        "/v1/audio/transcriptions": _operation(
            "createTranscription", "Transcribe audio: cut into clips of at most 30 s at quiet "
            "moments, each transcribed by a model that hears, joined in order.",
            "TranscriptionRequest", streams=True),
        "/v1/audio/translations": _operation(
            "createTranslation", "Translate speech into English text, clip by clip as "
            "transcriptions are.", "TranslationRequest", streams=False),
    }  # fmt: skip


def _operation(operation_id: str, summary: str, body: str, streams: bool) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {"schema": {"$ref": SCHEMA_REF.format(model="Transcription")}},
        "text/plain": {"schema": {"type": "string"}},
    }
    if streams:
        content["text/event-stream"] = {
            "schema": {"$ref": SCHEMA_REF.format(model="TranscriptionEvent")}
        }
    text, required = {"type": "string"}, {"schema": {"type": "string"}, "required": True}
    ok_headers = {name: {**required, "description": what} for name, what in (
        ("X-Gateway-Model", "The concrete model that served the first clip."),
        ("X-Gateway-Backend", "Its backend."), ("X-Gateway-Route", "Why that model."),
        ("X-Gateway-Preprocess", "`audio=1;clips=N`: how many clips the file was cut into."),
        ("X-Request-Id", "The request id."))}  # fmt: skip
    error = {"$ref": SCHEMA_REF.format(model="Error")}
    errors = {
        str(status): {"description": what, "content": {"application/json": {"schema": error}}}
        for status, what in _ERRORS.items()
    }  # fmt: skip
    return {"post": {
        "operationId": operation_id, "summary": summary, "security": [{"bearerAuth": []}],
        "parameters": [{"name": n, "in": "header", "required": False, "schema": text}
                       for n in ("X-Gateway-Model", "X-Gateway-Backend", "X-Request-Id")],
        "requestBody": {"required": True, "content": {"multipart/form-data": {
            "schema": {"$ref": SCHEMA_REF.format(model=body)},
            "encoding": {"file": {"contentType": "audio/*, application/octet-stream"}}}}},
        "responses": {"200": {"description": "The transcript in `response_format`: JSON "
                              "(`json`, `verbose_json`), text (`text`, `srt`, `vtt`), or with "
                              "`stream` SSE transcript events.",
                              "headers": ok_headers, "content": content}, **errors},
    }}  # fmt: skip


_ERRORS = {
    400: "No file, an unknown or malformed field, unreadable audio, or audio over "
    "`preprocess.max_audio_seconds`; `param` names the field.",
    401: "Missing or wrong API key (only when `server.api_keys` is set).",
    404: "The named model is on no reachable backend.",
    408: "The body did not arrive within `server.body_timeout_s`.",
    413: "The body is over `server.max_body_mb`.",
    415: "The body is compressed (`Content-Encoding`).",
    429: "The backend's concurrency slots and queue are full.",
    502: "The backend failed or could not be reached.",
    503: "No healthy backend has a model that hears, or too many bodies in flight.",
    504: "The backend timed out.",
}


def openapi_schemas() -> dict[str, Any]:
    """`/openapi.json` schemas of this front."""
    text = {"type": "string"}
    common: dict[str, Any] = {
        "file": {"type": "string", "format": "binary",
                 "description": "wav, mp3, flac or ogg audio, up to "
                 "`preprocess.max_audio_seconds` long."},
        "model": {"type": "string", "default": "auto",
                  "description": "`auto`: a family member that hears (E4B, E2B, 12B)."},
        "language": {"type": "string", "description": "The language spoken, as a hint."},
        "prompt": {"type": "string", "description": "Context: earlier words, names."},
        "response_format": {"type": "string", "enum": list(FORMATS), "default": "json"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
    }  # fmt: skip
    granularities = {"type": "array", "items": {"const": "segment"}}
    segment = {"type": "object", "required": ["id", "start", "end", "text"],
               "properties": {"id": {"type": "integer"}, "start": {"type": "number"},
                              "end": {"type": "number"}, "text": text}}  # fmt: skip
    return {
        "TranscriptionRequest": {
            "type": "object", "required": ["file"], "additionalProperties": False,
            "properties": {**common, "stream": {"type": "boolean", "default": False},
                           "timestamp_granularities[]": granularities},
        },
        "TranslationRequest": {"type": "object", "required": ["file"],
                               "additionalProperties": False, "properties": common},
        "Transcription": {
            "type": "object", "required": ["text"],
            "properties": {"text": text, "task": text, "language": text,
                           "duration": {"type": "number"},
                           "segments": {"type": "array", "items": segment},
                           "usage": {"type": "object"}},
        },
        "TranscriptionEvent": {
            "type": "object", "required": ["data"],
            "properties": {"data": {"type": "string", "contentMediaType": "application/json"}},
        },
    }  # fmt: skip
