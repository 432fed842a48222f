"""End-to-end latency of a chat request carrying media, through a real gateway (not a test).

    .venv/bin/python bench/bench_media_trip.py [--tree PATH] [--runs N] [--json]

Times what a client sees for one non-streamed OpenAI chat completion carrying (a) one
1920x1080 PNG (gradient and noise) or (b) one 10 s 1080p30 MP4 (mp4v, moving gradient and
noise), each as a base64 data URL with a short text part: the gateway's parse, media decode
and inspection, routing, media preparation (stills, re-encoding) and forwarding, against an
OpenAI-compatible emulator (`tests/fakes/openai_server.py`, from this script's own tree) that
answers at once, in this process on a free loopback port. A request's latency runs from
sending its body to the last byte of the answer; 2 warm-up requests, then --runs sequential
ones (default 20 for the image, 8 for the video); median, p90 and min in ms.

The gateway only ever talks HTTP to this script, so any revision of the code can be measured:
`--tree PATH` (default: the repo this script is in) is a checkout whose `python -m gateway
up` runs with that directory as cwd and first on PYTHONPATH (the editable install points at
one checkout only; the gateway module actually imported is checked and printed). For a
before/after pair, check the old commit out in a worktree:

    git worktree add /tmp/gw-before <commit>
    .venv/bin/python bench/bench_media_trip.py --tree /tmp/gw-before
    .venv/bin/python bench/bench_media_trip.py

Media are made in a temp dir (seeded, so every run sends the same bytes). `--json` prints
one machine-readable line instead of the markdown table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.openai_server import LMModel, OpenAIEmulator  # noqa: E402

WARMUP = 2
DEFAULT_RUNS = {"image": 20, "video": 8}
WIDTH, HEIGHT, FPS, SECONDS = 1920, 1080, 30, 10
MODEL = "auto"  # routes to the one model the emulator lists: it sees, so it takes video too
EMULATED = "google/gemma-4-26b-a4b"  # LM Studio's id of Gemma 4 26B A4B (text, image, video)
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
WHICH = """
import pathlib, gateway, preprocess
print(pathlib.Path(gateway.__file__).resolve().parent)
print(pathlib.Path(preprocess.__file__).resolve().parent)
"""


class BenchError(Exception):
    """Something that makes the numbers meaningless: reported, then exit 1."""


@dataclass
class Case:
    name: str
    runs: int
    median_ms: float
    p90_ms: float
    min_ms: float
    body_mb: float
    preprocess: str  # the gateway's X-Gateway-Preprocess ("" when it sent none)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gradient() -> np.ndarray:
    """A 1080p RGB gradient (red across, green down, blue diagonal), float32."""
    x = np.linspace(0, 255, WIDTH, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, HEIGHT, dtype=np.float32)[:, None]
    shape = (HEIGHT, WIDTH)
    return np.stack([np.broadcast_to(x, shape), np.broadcast_to(y, shape), (x + y) / 2], axis=2)


def make_png(rng: np.random.Generator) -> bytes:
    """A 1920x1080 PNG: the gradient plus Gaussian noise (about 4.8 MB)."""
    pixels = np.clip(_gradient() + rng.normal(0, 12, (HEIGHT, WIDTH, 3)), 0, 255)
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def make_mp4(rng: np.random.Generator, path: Path) -> bytes:
    """10 s of 1920x1080 at 30 fps, mp4v: the gradient scrolling, blocky noise drifting down
    and a red box moving across (about 14 MB)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise BenchError("cv2.VideoWriter cannot write mp4v here")
    base = _gradient().astype(np.uint8)
    noise = rng.integers(0, 24, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    try:
        for i in range(FPS * SECONDS):
            grain = cv2.resize(np.roll(noise, i, axis=0), (WIDTH, HEIGHT), interpolation=0)
            frame = cv2.add(np.roll(base, i * 8, axis=1), grain)
            cv2.rectangle(frame, (100 + i * 5, 300), (400 + i * 5, 600), (0, 0, 255), -1)
            writer.write(frame)
    finally:
        writer.release()
    return path.read_bytes()


def chat_body(kind: str, mime: str, data: bytes) -> bytes:
    """A non-streamed OpenAI chat with one media part (image_url or video_url) and text."""
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    content = [
        {"type": "text", "text": f"Describe this {kind} in one sentence."},
        {"type": f"{kind}_url", f"{kind}_url": {"url": url}},
    ]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 16}
    return json.dumps(body).encode()


def check_tree(tree: Path, env: dict[str, str]) -> tuple[str, str]:
    """The commit of `tree` (with "+dirty" when it has changes) and the gateway package the
    gateway's interpreter imports there; refuse if that package is not the tree's own."""
    if not (tree / "gateway" / "__main__.py").is_file():
        raise BenchError(f"{tree} has no gateway/__main__.py")
    which = subprocess.run(
        [sys.executable, "-c", WHICH], cwd=tree, env=env, capture_output=True, text=True
    )
    if which.returncode != 0:
        raise BenchError(f"importing gateway from {tree} failed:\n{which.stderr[-3000:]}")
    for package in which.stdout.split():
        if not Path(package).is_relative_to(tree):
            raise BenchError(f"the gateway's interpreter imports {package}, not {tree}'s")
    git = ["git", "--no-optional-locks", "-C", str(tree)]  # read-only: never touch the index
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    commit = head.stdout.strip() or "unknown"
    return commit + ("+dirty" if dirty.stdout.strip() else ""), which.stdout.split()[0]


def write_config(path: Path, port: int, backend_url: str) -> None:
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\nlog_level = "warning"\n'
        f'pid_file = "{path.parent / "gateway.pid"}"\n'
        f'[[backends]]\nname = "emu"\nkind = "openai"\nurl = "{backend_url}"\n'
    )


def start_gateway(
    tree: Path, config: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gateway", "up", "--config", str(config)]
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd, cwd=tree, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the gateway drains and exits), then SIGKILL if it has not within 10 s."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


async def wait_ready(
    session: aiohttp.ClientSession, url: str, proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Until /readyz says ready (the emulator's model listed); the gateway must not exit."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"gateway exited with {proc.returncode}:\n{_tail(log)}")
        try:
            async with session.get(url + "/readyz") as r:
                if r.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise BenchError(f"gateway not ready after {READY_TIMEOUT_S:g} s:\n{_tail(log)}")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def one(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[float, str]:
    """One request: (ms to the answer's last byte, X-Gateway-Preprocess)."""
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as r:
        text = await r.read()
        took = (time.perf_counter() - started) * 1000
        if r.status != 200:
            raise BenchError(f"{url} answered {r.status}: {text.decode(errors='replace')}")
        return took, r.headers.get("X-Gateway-Preprocess", "")


async def measure(
    session: aiohttp.ClientSession, url: str, name: str, body: bytes, runs: int
) -> Case:
    for _ in range(WARMUP):
        await one(session, url, body)
    times: list[float] = []
    preprocess = ""
    for _ in range(runs):
        took, preprocess = await one(session, url, body)
        times.append(took)
    p90 = statistics.quantiles(times, n=10, method="inclusive")[8] if runs > 1 else times[0]
    return Case(
        name, runs, statistics.median(times), p90, min(times), len(body) / 2**20, preprocess
    )


async def bench(tree: Path, runs: dict[str, int], workdir: Path) -> dict[str, Any]:
    path = [str(tree), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    commit, package = check_tree(tree, env)
    rng = np.random.default_rng(0)
    bodies = {
        "image": chat_body("image", "image/png", make_png(rng)),
        "video": chat_body("video", "video/mp4", make_mp4(rng, workdir / "clip.mp4")),
    }
    # Loaded at its full window from the start: a JIT load mid-run would change what the
    # gateway's inventory reports between the warm-up and the measured requests.
    emulator = OpenAIEmulator([LMModel(EMULATED, state="loaded", loaded_context_length=262144)])
    emulator.received = _Forgetful()  # its recording would hold every megabyte body sent
    proc: subprocess.Popen[bytes] | None = None
    try:
        backend_url = await emulator.start()
        port = free_port()
        config, log = workdir / "gateway.toml", workdir / "gateway.log"
        write_config(config, port, backend_url)
        proc = start_gateway(tree, config, env, log)
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
            await wait_ready(session, base, proc, log)
            url = base + "/v1/chat/completions"
            cases = [
                await measure(session, url, name, body, runs[name]) for name, body in bodies.items()
            ]
    finally:
        if proc is not None:
            stop(proc)
        await emulator.stop()
    return {
        "tree": str(tree),
        "commit": commit,
        "gateway": package,
        "cases": [asdict(c) for c in cases],
    }


class _Forgetful(list[Any]):
    def append(self, item: Any) -> None:
        pass


def table(result: dict[str, Any]) -> str:
    lines = [
        f"tree {result['tree']} at {result['commit']} (gateway imported from "
        f"{result['gateway']}); OpenAI emulator answering at once\n",
        "| case | body MB | runs | median ms | p90 ms | min ms | X-Gateway-Preprocess |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in result["cases"]:
        lines.append(
            f"| {c['name']} | {c['body_mb']:.1f} | {c['runs']} | {c['median_ms']:.1f} "
            f"| {c['p90_ms']:.1f} | {c['min_ms']:.1f} | {c['preprocess'] or '(none)'} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="checkout whose gateway is measured (default: this repo)",
    )
    parser.add_argument(
        "--runs",
        type=int,
        help="measured requests per case (default: 20 for the image, 8 for the video)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.runs is not None and args.runs < 1:
        parser.error("--runs must be at least 1")
    runs = {name: args.runs or n for name, n in DEFAULT_RUNS.items()}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-media-trip-") as tmp:
            result = asyncio.run(bench(args.tree.resolve(), runs, Path(tmp)))
    except BenchError as e:
        print(f"bench_media_trip: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
