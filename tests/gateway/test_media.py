"""Media through the whole gateway: what the emulated backends received (stills, clips,
images) and every class of bad media, after each of which the gateway still serves."""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import soundfile as sf
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from PIL import Image

from gateway.isolation import Isolated
from gateway.state import MEDIA_POOL
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator
from tests.fakes.openai_server import LMModel, OpenAIEmulator
from tests.media import png, png_claiming, wav


def make_video(path: Path, seconds: float, fps: int = 5, size: tuple[int, int] = (64, 48)) -> bytes:
    """Frame at time t is filled with gray level 16*int(t) (mod 256): each still names its
    second, with steps wide enough to survive compression."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for n in range(int(seconds * fps)):
        writer.write(np.full((size[1], size[0], 3), (16 * int(n / fps)) % 256, np.uint8))
    writer.release()
    return path.read_bytes()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def video_part(data: bytes, mime: str = "video/mp4") -> dict[str, Any]:
    return {"type": "video_url", "video_url": {"url": f"data:{mime};base64,{b64(data)}"}}


def audio_part(data: bytes, fmt: str = "wav") -> dict[str, Any]:
    return {"type": "input_audio", "input_audio": {"data": b64(data), "format": fmt}}


def image_part(data: bytes, mime: str = "image/png") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{b64(data)}"}}


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "describe"}, *parts]}]


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


async def test_video_becomes_one_timestamped_still_per_second(
    gateway: TestServer, ollama: OllamaEmulator, tmp_path: Path
) -> None:
    status, headers, _ = await post_chat(gateway, {"messages": user(video_part(
        make_video(tmp_path / "v.mp4", 7.2)))})  # fmt: skip
    assert status == 200, headers
    assert headers["X-Gateway-Preprocess"] == "video=1;frames=8;truncated_s=0"
    sent = ollama.chats()[-1]["messages"][0]
    assert len(sent["images"]) == 8
    # each still right after its mm:ss label, as Gemma's video processor lays frames out
    labels = " ".join(f"00:0{k} [img]" for k in range(8))
    assert sent["content"] == f"describe {labels}"
    assert f"describe {labels.replace('[img]', '[img-{}]').format(*range(8))}" in ollama.prompts[-1]
    for k, image in enumerate(sent["images"]):  # still k really is from second k
        pixels = np.asarray(Image.open(io.BytesIO(base64.b64decode(image))).convert("L"))
        assert abs(float(pixels.mean()) - 16 * k) < 6


async def test_long_video_is_cut_at_sixty_seconds(
    gateway: TestServer, ollama: OllamaEmulator, tmp_path: Path
) -> None:
    video = make_video(tmp_path / "long.mp4", 90, fps=2, size=(32, 24))
    status, headers, _ = await post_chat(gateway, {"messages": user(video_part(video))})
    assert status == 200
    assert headers["X-Gateway-Preprocess"] == "video=1;frames=60;truncated_s=30"
    assert len(ollama.chats()[-1]["messages"][0]["images"]) == 60


async def test_audio_becomes_16k_mono_clips_of_at_most_30s(
    gateway: TestServer, ollama: OllamaEmulator
) -> None:
    status, headers, _ = await post_chat(
        gateway, {"messages": user(audio_part(wav(70, rate=44100, channels=2)))}
    )
    assert status == 200
    assert headers["X-Gateway-Preprocess"] == "audio=1;clips=3"
    clips = [sf.read(io.BytesIO(base64.b64decode(c))) for c in
             ollama.chats()[-1]["messages"][0]["images"]]  # fmt: skip
    assert [rate for _, rate in clips] == [16000] * 3
    assert all(samples.ndim == 1 and len(samples) <= 30 * 16000 for samples, _ in clips)
    assert abs(sum(len(s) for s, _ in clips) / 16000 - 70) < 0.01


async def test_lm_studio_gets_jpeg_stills_interleaved_with_timestamps(
    make_gateway: MakeGateway, tmp_path: Path
) -> None:
    async with OpenAIEmulator([LMModel("google/gemma-4-26b-a4b")]) as lms:
        gateway = await make_gateway(backend("lms", "openai", lms.url))
        webp = io.BytesIO()
        Image.new("RGB", (40, 30), "red").save(webp, "WEBP")
        video = video_part(make_video(tmp_path / "v.mp4", 2.5))
        image = image_part(webp.getvalue(), "image/webp")
        status, _, _ = await post_chat(gateway, {"messages": user(video, image)})
        assert status == 200
        content = lms.chats()[-1]["messages"][0]["content"]
    kinds = [p["type"] for p in content]
    assert kinds == ["text", "text", "image_url", "text", "image_url", "text", "image_url",
                     "image_url"]  # fmt: skip
    assert [p["text"] for p in content[1:6:2]] == ["00:00", "00:01", "00:02"]
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/jpeg;base64,") for u in urls)  # WebP re-encoded


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def faststart_truncated(tmp: Path) -> bytes:
    """An mp4 with its index (moov) at the start, cut in half: it opens, then runs dry."""
    import subprocess

    make_video(tmp / "slow.mp4", 3)
    out = tmp / "fast.mp4"
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-i", str(tmp / "slow.mp4"), "-c",
                    "copy", "-movflags", "+faststart", str(out)], check=True)  # fmt: skip
    return truncated(out.read_bytes())


def lying_wav() -> bytes:
    data = bytearray(wav(1.0, rate=16000, channels=1))
    data[40:44] = (2**31).to_bytes(4, "little")  # data chunk claims 2 GiB
    return bytes(data)


RNG = np.random.default_rng(7)
JUNK = RNG.integers(0, 256, 4096, dtype=np.uint8).tobytes()
BAD_B64 = {"type": "image_url", "image_url": {"url": "data:image/png;base64,@@"}}
REMOTE = {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
HLS = b"#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1/a.ts\n"
CONCAT = b"ffconcat version 1.0\nfile '/etc/passwd'\n"
BAD = [
    # (id, part factory given tmp_path, expected status, message fragment)
    ("bad base64", lambda p: BAD_B64, 400, "not valid base64"),
    ("MIME lies", lambda p: image_part(wav(0.1), "image/png"), 400, "not a PNG"),
    ("empty file", lambda p: image_part(b""), 400, "empty"),
    ("truncated mp4, moov at end",
     lambda p: video_part(truncated(make_video(p / "t.mp4", 3))), 400, "video"),
    ("truncated mp4, moov at start", lambda p: video_part(faststart_truncated(p)), 400, "video"),
    ("random bytes as video", lambda p: video_part(JUNK), 400, "video"),
    ("random bytes as audio", lambda p: audio_part(JUNK), 400, "audio"),
    ("random bytes as image", lambda p: image_part(JUNK), 400, "image"),
    ("WAV header claims more than it has", lambda p: audio_part(lying_wav()), 200, ""),
    ("PNG claiming 60000x60000", lambda p: image_part(png_claiming(60000, 60000)), 413,
     "60000x60000"),
    ("HLS playlist as video", lambda p: video_part(HLS), 400, "playlist"),
    ("concat list as video", lambda p: video_part(CONCAT), 400, "video"),
    ("audio over the cap", lambda p: audio_part(wav(700, rate=8000, channels=1)), 400, "600"),
    ("video with no video stream", lambda p: video_part(wav(2.0)), 400, "video"),
    ("remote URL with remote media off", lambda p: REMOTE, 400, "allow_remote_media"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "status", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_media_is_a_clear_4xx_and_the_gateway_goes_on(
    gateway: TestServer, tmp_path: Path, make: Any, status: int, says: str
) -> None:
    code, _, body = await post_chat(gateway, {"messages": user(make(tmp_path))})
    assert code == status, body
    if status >= 400:
        error = body["error"]
        assert says.lower() in error["message"].lower() and error["param"].startswith("messages[0]")
    ok, _, _ = await post_chat(gateway, {"messages": [{"role": "user", "content": "still there?"}]})
    assert ok == 200


@pytest.mark.parametrize(
    "url",
    ["https://127.0.0.1/cat.png", "https://10.0.0.7/cat.png", "https://169.254.169.254/latest"],
)
async def test_remote_urls_to_private_addresses_are_refused_when_remote_is_on(
    ollama: OllamaEmulator, make_gateway: MakeGateway, url: str
) -> None:
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), preprocess={"allow_remote_media": True}
    )
    part = {"type": "image_url", "image_url": {"url": url}}
    status, _, body = await post_chat(gateway, {"messages": user(part)})
    assert status == 400 and "non-public" in body["error"]["message"]
    assert ollama.chats() == []


async def test_openai_backends_get_input_audio_wav_clips_for_models_that_hear(
    make_gateway: MakeGateway,
) -> None:
    # A plain OpenAI-compatible server (llama.cpp) says nothing of inputs: the family table
    # says E4B hears, so audio goes as input_audio WAV clips.
    async with OpenAIEmulator([LMModel("google/gemma-4-e4b")], flavour="plain") as srv:
        gateway = await make_gateway(backend("llama", "openai", srv.url))
        status, headers, _ = await post_chat(
            gateway, {"messages": user(audio_part(wav(35, rate=44100, channels=2)))}
        )
        assert status == 200 and headers["X-Gateway-Route"] == "audio"
        parts = srv.chats()[-1]["messages"][0]["content"]
    audio = [p["input_audio"] for p in parts if p["type"] == "input_audio"]
    assert [a["format"] for a in audio] == ["wav", "wav"]
    assert [sf.info(io.BytesIO(base64.b64decode(a["data"]))).samplerate for a in audio] == [
        16000, 16000
    ]  # fmt: skip


async def test_a_slow_video_does_not_stall_other_requests(
    gateway: TestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Decoding runs from the media pool (in child processes): while the video's decode is
    held there, the loop still answers health probes. (Were the decode on the loop, the
    probes would never run and the test would time out; no wall-clock is involved.)"""
    pool = gateway.app[MEDIA_POOL]
    held, release = threading.Event(), threading.Event()
    submitted: list[str] = []
    submit = pool.submit

    def gated(fn: Callable[..., Any], *args: Any) -> Future[Any]:
        assert isinstance(fn.__self__, Isolated)  # args: (the decoding function, its args...)
        submitted.append(args[0].__name__)

        def run() -> Any:
            held.set()
            release.wait(60)
            return fn(*args)

        return submit(run)

    monkeypatch.setattr(pool, "submit", gated)
    video = make_video(tmp_path / "clip.mp4", 3)
    chat = asyncio.create_task(post_chat(gateway, {"messages": user(video_part(video))}))
    assert await asyncio.to_thread(held.wait, 30)
    async with ClientSession() as s:
        for _ in range(5):
            async with asyncio.timeout(10), s.get(gateway.make_url("/healthz")) as r:
                assert r.status == 200
    assert not chat.done()
    release.set()
    assert (await chat)[0] == 200
    assert submitted == ["prepare"]  # one trip: decoded, prepared and counted together


async def test_media_over_the_decoding_memory_budget_is_a_413_and_the_gateway_goes_on(
    ollama: OllamaEmulator, make_gateway: MakeGateway
) -> None:
    """5000x5000 RGB decodes to 75 MB: over a 64 MiB budget the child fails, not the gateway."""
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), preprocess={"decode_memory_mb": 64}
    )
    status, _, body = await post_chat(gateway, {"messages": user(image_part(png(5000, 5000)))})
    assert status == 413 and "decode_memory_mb (64 MiB)" in body["error"]["message"]
    assert (await post_chat(gateway, {"messages": user(image_part(png(500, 500)))}))[0] == 200
