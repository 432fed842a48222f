"""`/v1/audio/transcriptions` and `/v1/audio/translations` (issue 11) with the `openai` SDK
against the Ollama emulator: a 75 s recording of speech (espeak-ng) is cut into three clips
at quiet moments, each transcribed by its own request, and stitched in clip order. The
emulator answers each clip with a tag of its bytes, so the joined text proves the order."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
from typing import Any

import aiohttp
import numpy as np
import pytest
import soundfile as sf
from aiohttp.test_utils import TestServer
from openai import AsyncOpenAI, AuthenticationError, BadRequestError

from preprocess.audio import Clip, audio_clips
from tests.conftest import MakeGateway, backend
from tests.fakes.ollama_server import OllamaEmulator
from tests.media import wav
from tests.preprocess.test_audio import SPEECH

RATE = 22050  # espeak-ng's


def speech(seconds: float) -> bytes:
    """`seconds` of espeak-ng speech (the sentences said again as often as needed), WAV."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing (CI installs it): apt-get install espeak-ng")
    said = subprocess.run(["espeak-ng", "--stdout", SPEECH], check=True, capture_output=True)
    x, rate = sf.read(io.BytesIO(said.stdout), dtype="float32")
    assert rate == RATE
    n = round(seconds * rate)
    out = io.BytesIO()
    sf.write(out, np.resize(x, n), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


@pytest.fixture(scope="module")
def recording() -> bytes:
    return speech(75)


@pytest.fixture(scope="module")
def clips(recording: bytes) -> list[Clip]:
    """What the gateway's clipper makes of the recording (the same function, same limits)."""
    cut = audio_clips(recording)
    assert len(cut) == 3
    return cut


def tag(clip_wav: bytes) -> str:
    return f"<{hashlib.sha256(clip_wav).hexdigest()[:8]}>"


def echo_clip(body: dict[str, Any]) -> list[str]:
    """The emulator's answer: a tag of the one audio clip the chat carried."""
    (image,) = [i for m in body["messages"] for i in m.get("images") or ()]
    return [tag(base64.b64decode(image))]


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    ollama.reply_for = echo_clip
    return await make_gateway(backend("ollama", "ollama", ollama.url))


def client(gateway: TestServer, key: str = "x") -> AsyncOpenAI:
    return AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key=key, max_retries=0)


def expected_text(clips: list[Clip]) -> str:
    return " ".join(tag(c.wav) for c in clips)


def backend_clips(ollama: OllamaEmulator) -> list[sf._SoundFileInfo]:
    """Each chat's audio, as the backend received it: one clip per request."""
    out = []
    for body in ollama.chats():
        images = [i for m in body["messages"] for i in m.get("images") or ()]
        assert len(images) == 1
        out.append(sf.info(io.BytesIO(base64.b64decode(images[0]))))
    return out


async def test_75_s_is_three_timed_segments_stitched_in_order(
    gateway: TestServer, ollama: OllamaEmulator, recording: bytes, clips: list[Clip]
) -> None:
    async with client(gateway) as c:
        raw = await c.audio.transcriptions.with_raw_response.create(
            file=("talk.wav", recording), model="auto", response_format="verbose_json"
        )
    answer = raw.parse()
    assert answer.text == expected_text(clips)
    assert answer.duration == 75.0
    segments = [(s.id, s.start, s.end, s.text) for s in answer.segments or []]
    cuts = [0.0, clips[1].start_s, clips[2].start_s, 75.0]
    assert 29 <= cuts[1] <= 30 and 29 <= cuts[2] - cuts[1] <= 30  # at quiet moments
    assert segments == [
        (i, round(cuts[i], 3), round(cuts[i + 1], 3), tag(c.wav)) for i, c in enumerate(clips)
    ]
    assert raw.headers["X-Gateway-Model"] == "gemma4:e4b"
    assert raw.headers["X-Gateway-Backend"] == "ollama"
    assert raw.headers["X-Gateway-Route"] == "audio"
    assert raw.headers["X-Gateway-Preprocess"] == "audio=1;clips=3"
    heard = backend_clips(ollama)
    assert len(heard) == 3
    assert all(i.samplerate == 16000 and i.duration <= 30 for i in heard)
    assert sorted(i.frames for i in heard) == sorted(round(c.seconds * 16000) for c in clips)
    for body in ollama.chats():
        (message,) = body["messages"]
        assert "verbatim" in message["content"] and body["think"] is False


async def test_srt_and_vtt_carry_the_clips_real_times(
    gateway: TestServer, recording: bytes, clips: list[Clip]
) -> None:
    def stamp(seconds: float, mark: str) -> str:
        ms = round(seconds * 1000)
        return f"00:{ms // 60000:02d}:{ms // 1000 % 60:02d}{mark}{ms % 1000:03d}"

    ends = [(c.start_s, c.start_s + c.seconds) for c in clips]
    async with client(gateway) as c:
        srt = await c.audio.transcriptions.create(
            file=("talk.wav", recording), model="auto", response_format="srt"
        )
        vtt = await c.audio.transcriptions.create(
            file=("talk.wav", recording), model="auto", response_format="vtt"
        )
    assert srt == "\n".join(
        f"{i + 1}\n{stamp(a, ',')} --> {stamp(b, ',')}\n{tag(clip.wav)}\n"
        for i, ((a, b), clip) in enumerate(zip(ends, clips, strict=True))
    )
    assert srt.startswith("1\n00:00:00,000 --> 00:00:2") and "--> 00:01:15,000\n" in srt
    assert vtt == "WEBVTT\n\n" + "\n".join(
        f"{stamp(a, '.')} --> {stamp(b, '.')}\n{tag(clip.wav)}\n"
        for (a, b), clip in zip(ends, clips, strict=True)
    )


async def test_json_and_text(gateway: TestServer, recording: bytes, clips: list[Clip]) -> None:
    async with client(gateway) as c:
        as_json = await c.audio.transcriptions.create(
            file=("talk.wav", recording), model="auto", language="en", prompt="A story."
        )
        as_text = await c.audio.transcriptions.create(
            file=("talk.wav", recording), model="gemma4:e4b", response_format="text"
        )
    assert as_json.text == expected_text(clips)
    assert as_text.strip() == expected_text(clips)


async def test_openais_speech_model_names_are_routed_as_auto(
    gateway: TestServer, recording: bytes, clips: list[Clip]
) -> None:
    """Apps send `whisper-1` as a constant (Open WebUI's speech-to-text, most scripts)."""
    async with client(gateway) as c:
        raw = await c.audio.transcriptions.with_raw_response.create(
            file=("talk.wav", recording), model="whisper-1"
        )
    assert raw.parse().text == expected_text(clips)
    assert (raw.headers["X-Gateway-Route"], raw.headers["X-Gateway-Model"]) == (
        "audio", "gemma4:e4b"
    )  # fmt: skip


async def test_language_and_prompt_reach_the_instruction(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    async with client(gateway) as c:
        await c.audio.transcriptions.create(
            file=("a.wav", speech(5)), model="auto", language="de", prompt="Names: Zoë."
        )
    (body,) = ollama.chats()
    content = body["messages"][0]["content"]
    assert "The speech is in de." in content and "Names: Zoë." in content


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the SDK's, on translations
async def test_translations(
    gateway: TestServer, ollama: OllamaEmulator, recording: bytes, clips: list[Clip]
) -> None:
    async with client(gateway) as c:
        answer = await c.audio.translations.create(
            file=("talk.wav", recording), model="auto", response_format="verbose_json"
        )
    assert answer.text == expected_text(clips)
    assert answer.language == "english" and len(answer.segments or []) == 3
    assert all("into English" in b["messages"][0]["content"] for b in ollama.chats())


async def test_streamed_transcription_events(
    gateway: TestServer, recording: bytes, clips: list[Clip]
) -> None:
    async with client(gateway) as c:
        stream = await c.audio.transcriptions.create(
            file=("talk.wav", recording), model="auto", stream=True
        )
        events = [e async for e in stream]
    kinds = [e.type for e in events]
    assert kinds == ["transcript.text.delta"] * 3 + ["transcript.text.done"]
    assert "".join(e.delta for e in events[:3]) == expected_text(clips)  # type: ignore[union-attr]
    assert events[-1].text == expected_text(clips)  # type: ignore[union-attr]


async def test_other_audio_formats(gateway: TestServer) -> None:
    x, rate = sf.read(io.BytesIO(speech(3)), dtype="float32")
    for fmt in ("FLAC", "OGG", "MP3"):
        out = io.BytesIO()
        sf.write(out, x, rate, format=fmt)
        async with client(gateway) as c:
            answer = await c.audio.transcriptions.create(
                file=(f"a.{fmt.lower()}", out.getvalue()), model="auto"
            )
        assert answer.text.startswith("<")


async def post_form(
    gateway: TestServer, fields: dict[str, Any], path: str = "/v1/audio/transcriptions"
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in fields.items():
        if isinstance(value, bytes):
            form.add_field(name, io.BytesIO(value), filename="a.wav", content_type="audio/wav")
        else:
            form.add_field(name, value)
    async with aiohttp.ClientSession() as s, s.post(gateway.make_url(path), data=form) as r:
        return r.status, await r.json()


async def test_bad_input_is_a_clear_400(gateway: TestServer, ollama: OllamaEmulator) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"model": "auto"}, "file", "required"),
        ({"file": b"not audio at all"}, "file", "not a readable"),
        ({"file": b""}, "file", "empty"),
        ({"file": wav(1), "speed": "2"}, "speed", "unknown field"),
        ({"file": wav(1), "response_format": "xml"}, "response_format", "one of"),
        ({"file": wav(1), "temperature": "3"}, "temperature", "from 0 to 1"),
        ({"file": wav(1), "stream": "yes"}, "stream", "true or false"),
        ({"file": wav(1), "stream": "true", "response_format": "srt"}, "stream", "text"),
        ({"file": wav(1), "timestamp_granularities[]": "word"}, "timestamp_granularities[]",
         "segment"),
    ]  # fmt: skip
    for fields, param, words in cases:
        status, body = await post_form(gateway, fields)
        assert status == 400, (fields.keys(), body)
        assert body["error"]["param"] == param and words in body["error"]["message"], body
    status, body = await post_form(gateway, {"file": wav(1), "stream": "true"},
                                   "/v1/audio/translations")  # fmt: skip
    assert status == 400 and body["error"]["param"] == "stream"
    async with aiohttp.ClientSession() as s:
        url = gateway.make_url("/v1/audio/transcriptions")
        async with s.post(url, json={"file": "x"}) as r:
            assert r.status == 400 and "multipart/form-data" in (await r.json())["error"]["message"]
        headers = {"Content-Type": "multipart/form-data; boundary=zz"}
        async with s.post(url, data=b"--zz\r\ngarbage", headers=headers) as r:
            assert r.status == 400
    assert ollama.chats() == []


async def test_over_the_audio_cap_is_a_400_and_over_the_body_cap_a_413(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url),
        preprocess={"max_audio_seconds": 60},
        server={"max_body_mb": 2},
    )
    status, body = await post_form(gateway, {"file": wav(61)})
    assert status == 400 and body["error"]["param"] == "file"
    assert "preprocess.max_audio_seconds" in body["error"]["message"]
    status, body = await post_form(gateway, {"file": wav(70)})  # 2.2 MB
    assert status == 413 and "max_body_mb" in body["error"]["message"]
    assert ollama.chats() == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_api_keys_guard_the_endpoints(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway(backend("ollama", "ollama", ollama.url),
                                 server={"api_keys": ["sk-1"]})  # fmt: skip
    async with client(gateway, "wrong") as c:
        with pytest.raises(AuthenticationError):
            await c.audio.transcriptions.create(file=("a.wav", wav(1)), model="auto")
        with pytest.raises(AuthenticationError):
            await c.audio.translations.create(file=("a.wav", wav(1)), model="auto")
    async with client(gateway, "sk-1") as c:
        answer = await c.audio.transcriptions.create(file=("a.wav", wav(1)), model="auto")
    assert answer.text == "Hello! How can I help you today?"


async def test_a_failing_clip_fails_the_request(
    gateway: TestServer, ollama: OllamaEmulator, recording: bytes
) -> None:
    ollama.status_override = (500, {"error": "runner crashed"})
    async with client(gateway) as c:
        with pytest.raises(Exception) as e:
            await c.audio.transcriptions.create(file=("talk.wav", recording), model="auto")
    assert getattr(e.value, "status_code", None) == 502
    ollama.status_override = None
    async with client(gateway) as c:
        with pytest.raises(BadRequestError):  # a model that cannot hear
            await c.audio.transcriptions.create(file=("a.wav", wav(1)), model="auto",
                                                extra_body={"bogus": "1"})  # fmt: skip
