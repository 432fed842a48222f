"""The `gateway` command as users run it: real processes, real ports, a private state dir."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from openai import AsyncOpenAI

from tests.fakes.ollama_server import OllamaEmulator, OllamaModel


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Cli:
    """Runs `python -m gateway` with its own state dir and config (never the user's)."""

    tmp: Path
    config: Path

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
        return {**env, "XDG_STATE_HOME": str(self.tmp / "state")}

    @property
    def pid_file(self) -> Path:
        return self.tmp / "state" / "gemma-gateway" / "gateway.pid"

    async def run(self, *args: str) -> Result:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", *args, "--config", str(self.config),
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 240)
        assert proc.returncode is not None
        return Result(proc.returncode, out.decode(), err.decode())

    def url(self) -> str:
        return str(json.loads(self.pid_file.read_text())["url"])


def exited(pid: int) -> bool:
    """Gone, or a zombie: a detached server's parent has exited, and whoever inherits it
    (PID 1 in a container) may not reap it."""
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def write_config(tmp: Path, text: str) -> Path:
    path = tmp / "gateway.toml"
    path.write_text(text)
    return path


@pytest.fixture
async def emulated(tmp_path: Path) -> AsyncIterator[Cli]:
    """A CLI whose config points at an Ollama emulator with one Gemma 4 model."""
    async with OllamaEmulator([OllamaModel("gemma4:e4b")]) as emu:
        config = write_config(
            tmp_path,
            f'[server]\nport = 0\n[[backends]]\nname = "gpu"\nkind = "ollama"\nurl = "{emu.url}"\n',
        )
        cli = Cli(tmp_path, config)
        yield cli
        await cli.run("down")


async def test_detach_status_models_down(emulated: Cli) -> None:
    assert (await emulated.run("status")).code == 3  # not running

    up = await emulated.run("up", "--detach")
    assert up.code == 0, up.err
    assert "ready at http://127.0.0.1:" in up.out
    running = json.loads(emulated.pid_file.read_text())
    os.kill(running["pid"], 0)  # the recorded process exists

    again = await emulated.run("up", "--detach")
    assert again.code == 1 and "already running" in again.err

    status = await emulated.run("status")
    assert status.code == 0
    assert "ready" in status.out and "gpu (ollama" in status.out and "gemma4:e4b" in status.out

    models = await emulated.run("models")
    assert models.code == 0
    row = next(line for line in models.out.splitlines() if line.startswith("gemma4:e4b"))
    assert row.split()[1:4] == ["gemma4-e4b", "gpu", "audio,image,text"]

    down = await emulated.run("down")
    assert down.code == 0 and "stopped" in down.out
    assert not emulated.pid_file.exists()
    assert exited(running["pid"])
    assert (await emulated.run("status")).code == 3


async def test_foreground_up_serves_until_down(emulated: Cli) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "up", "--config", str(emulated.config),
        env=emulated.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert line.startswith(b"gateway listening on http://127.0.0.1:")
    async with aiohttp.ClientSession() as s, s.get(emulated.url() + "/healthz") as r:
        assert r.status == 200
    assert (await emulated.run("down")).code == 0
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    assert not emulated.pid_file.exists()


async def test_models_without_a_running_gateway_asks_the_backends(emulated: Cli) -> None:
    models = await emulated.run("models")
    assert models.code == 0 and "gemma4:e4b" in models.out


async def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    cli = Cli(tmp_path, write_config(tmp_path, "[server]\nprot = 1\n"))
    result = await cli.run("up")
    assert result.code == 2 and "'server.prot'" in result.err


async def test_port_in_use_is_a_clear_error(emulated: Cli) -> None:
    with_port = emulated.config.read_text().replace("port = 0", "port = {port}")
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    emulated.config.write_text(with_port.format(port=port))
    try:
        result = await emulated.run("up")
    finally:
        server.close()
    assert result.code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.err


@pytest.mark.engine
async def test_up_embedded_serves_a_chat_on_a_machine_with_no_backends(tmp_path: Path) -> None:
    """The README's first command: no Ollama, no LM Studio, `gateway up --embedded`."""
    cli = Cli(tmp_path, write_config(tmp_path, "[server]\nport = 0\n"))  # default backends
    up = await cli.run("up", "--embedded", "--detach")
    assert up.code == 0, up.err
    try:
        url = cli.url()
        async with AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0) as client:
            raw = await client.chat.completions.with_raw_response.create(
                model="auto", messages=[{"role": "user", "content": "Hello!"}], max_tokens=16
            )
        assert raw.parse().choices[0].message.content
        assert raw.headers["X-Gateway-Backend"] == "embedded"
        status = await cli.run("status")
        assert status.code == 0 and "embedded (openai" in status.out
        request = tmp_path / "req.json"  # asked directly, no backend would answer: a 503
        request.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
        routed = await cli.run("route", str(request))
        assert routed.code == 0, routed.out
        assert json.loads(routed.out)["backend"] == "embedded"
        async with aiohttp.ClientSession() as s, s.get(url + "/readyz") as r:
            engine_url = (await r.json())["backends"]["embedded"]["url"]
    finally:
        assert (await cli.run("down")).code == 0
    async with aiohttp.ClientSession() as s:  # the engine child stopped with the gateway
        with pytest.raises(aiohttp.ClientConnectionError):
            await s.get(engine_url + "/v1/models")


async def test_route_prints_the_decision_without_forwarding(tmp_path: Path) -> None:
    models = [OllamaModel("gemma4:e4b"), OllamaModel("gemma4:26b", capabilities=("completion",))]
    async with OllamaEmulator(models) as emu:
        config = write_config(
            tmp_path, f'[[backends]]\nname = "gpu"\nkind = "ollama"\nurl = "{emu.url}"\n'
        )
        cli = Cli(tmp_path, config)
        request = tmp_path / "req.json"
        request.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
        result = await cli.run("route", str(request))
        assert result.code == 0, result.err
        decision = json.loads(result.out)
        assert (decision["model"], decision["backend"], decision["reason"]) == (
            "gemma4:26b", "gpu", "default"
        )  # fmt: skip
        assert decision["num_ctx"] == 8192 and decision["tokens_estimate"] > 1024
        assert decision["estimate"]["output"] == 1024
        assert [c["model"] for c in decision["candidates"]] == ["gemma4:26b", "gemma4:e4b"]
        assert "plan" not in decision and decision["preprocess"]["frames"] == 0

        speed = await cli.run("route", str(request), "--prefer", "speed")
        assert json.loads(speed.out)["model"] == "gemma4:e4b"
        assert emu.chats() == []  # nothing was forwarded

        request.write_text(
            json.dumps({"model": "nope", "messages": [{"role": "user", "content": "x"}]})
        )
        refused = await cli.run("route", str(request))
        assert (
            refused.code == 1 and "not on any healthy backend" in json.loads(refused.out)["error"]
        )


async def test_status_shows_three_hosts_their_load_and_what_auto_would_choose(
    tmp_path: Path,
) -> None:
    """Issue 12: health, in-flight and queued requests, loaded models and windows per
    backend, and the live dry run for a short text, an image, audio and a long document."""
    hosts = [
        OllamaEmulator([OllamaModel("gemma4:e4b", loaded=True, loaded_context=8192)]),
        OllamaEmulator([OllamaModel("gemma4:e4b"),
                        OllamaModel("gemma4:26b", capabilities=("completion", "vision"))]),
        OllamaEmulator([OllamaModel("gemma4:26b", capabilities=("completion", "vision"))]),
    ]  # fmt: skip
    for emu in hosts:
        await emu.start()
    try:
        config = write_config(tmp_path, "[server]\nport = 0\n" + "".join(
            f'[[backends]]\nname = "gpu{i}"\nkind = "ollama"\nurl = "{emu.url}"\n'
            for i, emu in enumerate(hosts, 1)))  # fmt: skip
        cli = Cli(tmp_path, config)
        assert (await cli.run("up", "--detach")).code == 0
        try:
            shown = await cli.run("status", "--json")
            screen = await cli.run("status")
            models = await cli.run("models", "--json")
        finally:
            await cli.run("down")
    finally:
        for emu in hosts:
            await emu.stop()
    assert shown.code == 0, shown.err
    status = json.loads(shown.out)
    assert set(status["backends"]) == {"gpu1", "gpu2", "gpu3"}
    gpu1 = status["backends"]["gpu1"]
    assert (gpu1["healthy"], gpu1["in_flight"], gpu1["queued"]) == (True, 0, 0)
    assert gpu1["models"] == [{"id": "gemma4:e4b", "loaded": True, "context": 131072,
                               "loaded_context": 8192}]  # fmt: skip
    auto = status["auto"]
    assert (auto["short text"]["model"], auto["short text"]["reason"]) == ("gemma4:26b", "default")
    assert auto["image"]["model"] == "gemma4:26b"
    assert (auto["audio"]["model"], auto["audio"]["backend"]) == ("gemma4:e4b", "gpu1")  # loaded
    assert auto["long document"]["reason"] == "long-context"
    assert "auto would choose:" in screen.out and "[loaded, window 8192]" in screen.out
    assert "audio          -> gemma4:e4b on gpu1 (audio" in screen.out
    assert {(m["id"], m["backend"]) for m in json.loads(models.out)} == {
        ("gemma4:e4b", "gpu1"), ("gemma4:e4b", "gpu2"), ("gemma4:26b", "gpu2"),
        ("gemma4:26b", "gpu3"),
    }  # fmt: skip
