"""Issue 8, classes 3, 4, 5 and the media of 7, through the whole gateway: media a client
sends cannot run another program, break a decoder into a 500, or make the gateway fetch
without limit (or at all, for a dry run)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from gateway import cli
from tests.conftest import MakeGateway, backend, post_chat
from tests.fakes.ollama_server import OllamaEmulator
from tests.media import eps, wav_claiming

ACCEPTED = "PNG, JPEG, WebP, GIF, BMP or TIFF"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def gateway(ollama: OllamaEmulator, make_gateway: MakeGateway) -> TestServer:
    return await make_gateway(backend("ollama", "ollama", ollama.url))


def user(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "describe"}, *parts]}]


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def encoded(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


# -- class 3: no decoder that runs another program ----------------------------------------


@pytest.mark.parametrize("prefix", ["data:application/octet-stream;base64,", "data:;base64,"])
async def test_an_eps_image_is_a_400_naming_the_accepted_formats(
    gateway: TestServer, ollama: OllamaEmulator, prefix: str
) -> None:
    status, _, body = await post_chat(gateway, {"messages": user(image(prefix + b64(eps())))})
    assert status == 400, body
    assert ACCEPTED in body["error"]["message"]
    assert body["error"]["param"] == "messages[0].content[1].image_url.url"
    assert ollama.chats() == []


CHILD_DECODES_EPS = """
from gateway.isolation import Limits, run_isolated
from preprocess.errors import InvalidMedia
from preprocess.image import normalize_image
from tests.media import eps

if __name__ == "__main__":
    try:
        run_isolated(Limits(1024, 60), normalize_image, eps(), "application/octet-stream")
    except InvalidMedia as e:
        print(e.message)
"""


def test_the_decoding_child_never_runs_ghostscript(tmp_path: Path) -> None:
    """As the gateway decodes (a child of a fresh forkserver), with a `gs` on PATH that
    leaves a marker when run: the EPS is refused and the marker never appears."""
    marker, bin_dir = tmp_path / "gs-ran", tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gs").write_text(f'#!/bin/sh\necho "$@" >> {marker}\nexit 1\n')
    (bin_dir / "gs").chmod(0o755)
    script = tmp_path / "decode_eps.py"
    script.write_text(CHILD_DECODES_EPS)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert ACCEPTED in done.stdout
    assert not marker.exists()


# -- class 7: media that gave a 500 --------------------------------------------------------


@pytest.mark.parametrize("rate", [1, 4, 100_000_000])
async def test_a_wav_at_an_absurd_sample_rate_is_a_400(
    gateway: TestServer, ollama: OllamaEmulator, rate: int
) -> None:
    audio = {"data": b64(wav_claiming(rate)), "format": "wav"}
    part = {"type": "input_audio", "input_audio": audio}
    status, _, body = await post_chat(gateway, {"messages": user(part)})
    assert status == 400, body
    assert f"sample rate is {rate} Hz" in body["error"]["message"]
    assert body["error"]["param"] == "messages[0].content[1].input_audio.data"
    assert ollama.chats() == []


@pytest.mark.parametrize(
    ("name", "make", "mime"),
    [
        ("16-bit PNG 6000 px wide", lambda: encoded(Image.fromarray(
            np.full((30, 6000), 50000, np.uint16)), "PNG"), "image/png"),
        ("PA TIFF", lambda: encoded(Image.new("PA", (3000, 20)), "TIFF"), "image/tiff"),
        ("CMYK JPEG", lambda: encoded(Image.new("CMYK", (3000, 20)), "JPEG"), "image/jpeg"),
        ("32-bit float TIFF", lambda: encoded(Image.new("F", (3000, 20), 0.5), "TIFF"),
         "image/tiff"),
    ],
)  # fmt: skip
async def test_exotic_image_modes_reach_the_backend_as_8_bit_png_or_jpeg(
    gateway: TestServer, ollama: OllamaEmulator, name: str, make: Any, mime: str
) -> None:
    url = f"data:{mime};base64,{b64(make())}"
    status, _, body = await post_chat(gateway, {"messages": user(image(url))})
    assert status == 200, (name, body)
    (sent,) = ollama.chats()[-1]["messages"][0]["images"]
    got = Image.open(io.BytesIO(base64.b64decode(sent)))
    assert got.format in ("PNG", "JPEG") and got.mode in ("RGB", "RGBA", "L", "LA")
    assert max(got.size) == 1536  # preprocess.image_max_side


# -- class 4: remote media caps, and a dry run that fetches nothing ------------------------

DOC = "https://192.0.2.{}/x.png"  # documentation addresses: the guard refuses them unfetched


async def test_more_remote_urls_than_remote_max_count_is_a_400_before_any_fetch(
    ollama: OllamaEmulator, make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gateway.fetch.fetch_media", _no_fetch)
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url),
        preprocess={"allow_remote_media": True, "remote_max_count": 3},
    )
    parts = [image(DOC.format(i)) for i in range(4)]
    for path in ("/v1/chat/completions", "/v1/gateway/route"):
        status, _, body = await post_chat(gateway, {"messages": user(*parts)}, path)
        assert status == 400, body
        assert "names 4 remote media URLs; at most 3" in body["error"]["message"]
        assert body["error"]["param"] == "messages[0].content[4].image_url.url"
    assert ollama.chats() == []


async def _no_fetch(*args: object, **kw: object) -> tuple[str, bytes]:
    raise AssertionError(f"fetched {args[0]}")


async def test_the_dry_run_counts_remote_media_without_fetching(
    ollama: OllamaEmulator, make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image counts at the image budget, a video as video_max_seconds of stills; the
    answer says they were not fetched. (Fetched, these addresses would be a 400.)"""
    monkeypatch.setattr("gateway.fetch.fetch_media", _no_fetch)
    gateway = await make_gateway(
        backend("ollama", "ollama", ollama.url), preprocess={"allow_remote_media": True}
    )
    video = {"type": "video_url", "video_url": {"url": "https://192.0.2.9/clip.mp4"}}
    body = {"messages": user(image(DOC.format(1)), image(DOC.format(2)), video)}
    status, _, decision = await post_chat(gateway, body, "/v1/gateway/route")
    assert status == 200, decision
    assert decision["remote_media"]["fetched"] is False
    assert (decision["remote_media"]["images"], decision["remote_media"]["videos"]) == (2, 1)
    assert decision["preprocess"]["images"] == 2 and decision["preprocess"]["frames"] == 60
    assert decision["estimate"]["images"] == 2 * 280
    assert ollama.chats() == []


async def test_gateway_route_asked_directly_fetches_nothing_either(
    ollama: OllamaEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setattr("gateway.fetch.fetch_media", _no_fetch)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # no running gateway
    config = tmp_path / "gateway.toml"
    config.write_text(f'[preprocess]\nallow_remote_media = true\n[[backends]]\nname = "o"\n'
                      f'kind = "ollama"\nurl = "{ollama.url}"\n')  # fmt: skip
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"messages": user(image(DOC.format(1)))}))
    code = await asyncio.to_thread(cli.main, ["route", str(request), "--config", str(config)])
    decision = json.loads(capsys.readouterr().out)
    assert code == 0, decision
    assert decision["remote_media"]["fetched"] is False and decision["preprocess"]["images"] == 1
