"""Every benchmark in one command; writes docs/benchmarks.md (not a test).

    bash bench/setup   # once: LiteLLM's proxy in its own venv (optional)
    .venv/bin/python -m bench [--seconds 3] [--concurrency 1 16 64] [--only proxy ...]
                              [--no-write] [--no-litellm] [--chart PATH]

1. Proxy overhead, side by side, on one OpenAI-compatible emulator (`tests/fakes`, a child
   process, 50-token answers): direct to it, through a bare aiohttp pass-through
   (`bench/passthrough.py`), through the gateway (`python -m gateway up`, default log level)
   and through LiteLLM's proxy from `.venv-bench-litellm` (made by `bench/setup`: its proxy
   extra wants an older litellm than the dev extra's, so it has its own venv; skipped with
   the reason when missing or not answering). Each path must answer one chat request before
   it is measured. The load comes from a separate process (`bench/loadgen.py`), one per
   cell: at each concurrency, non-streamed requests/s and p50/p90/p99, then streamed time to
   first token and to the last byte. Cells are interleaved (every path at one concurrency,
   then the next) so machine noise hits all alike. Each proxy's peak RSS is its VmHWM from
   /proc (its own process; forked children listed apart).
2. The other benchmarks, by calling their scripts with flags that fit the time budget: video
   stills, audio clips, the media round trip, routing decisions, token estimation. The
   video clips are kept in ~/.cache/gemma-gateway/bench/ (named by their parameters), so
   only the first run pays for encoding them. Each part's time is printed and written.
3. Writes the results (tables, the machine, the commands, the commit) between the
   `<!-- bench:begin -->` and `<!-- bench:end -->` markers of docs/benchmarks.md (added before
   the first section if missing; the rest of the file is left as it is), and a PNG chart of
   the added latency per concurrency (docs/benchmarks-latency.png, `bench/chart.py`) when
   matplotlib (the `bench` extra) imports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.chart import Panels, added_p50, draw
from bench.children import emulator_command

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks-latency.png"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PY = sys.executable
MODEL = "google/gemma-4-26b-a4b"  # what the OpenAI emulator serves (bench/children.py)
REPLY_TOKENS = 50
READY_S = 120.0
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gemma-gateway" / "bench"
VIDEO_SECONDS = 90
VIDEO_DIR = CACHE / f"video-1080p30-{VIDEO_SECONDS}s"  # bench_video.py reuses clips it finds
LITELLM_VENV = ROOT / ".venv-bench-litellm"  # bench/setup makes it
LITELLM_ENV = {  # quiet, no telemetry, no network for its cost map, no database
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
REQUEST_TIMEOUT_S = 30.0  # per request: LiteLLM takes seconds at 64 streams; more is a stall

VIDEO_FLAGS = ["--reps", "1", "--seconds", str(VIDEO_SECONDS), "--workdir", str(VIDEO_DIR)]
AUDIO_FLAGS = ["--runs", "2"]  # bench_audio.py's, in both modes (audio_e2e adds --e2e)

# name, script and flags, what it measures, timeout (s); run in this order, each its own
# process; the flags keep the whole command under 10 minutes on a quiet 2-core machine
SCRIPTS = [
    ("video", ["bench_video.py", *VIDEO_FLAGS],
     f"60 stills from {VIDEO_SECONDS} s of 1080p30 H.264 (GOP 250, GOP 30) against the "
     "ffmpeg CLI; min of 1", 480),
    ("audio", ["bench_audio.py", *AUDIO_FLAGS],
     "10 minutes of MP3 -> 30 s WAV clips against `ffmpeg -f segment`", 300),
    ("audio_e2e", ["bench_audio.py", "--e2e", *AUDIO_FLAGS],
     "10 minutes of MP3 through the gateway's /v1/audio/transcriptions against "
     "`ffmpeg -f segment`", 180),
    ("media_trip", ["bench_media_trip.py", "--runs", "3"],
     "one chat request with a 1080p PNG / a 10 s 1080p MP4 through a real gateway", 240),
    ("stages", ["bench_stages.py"],
     "the gateway's own work per chat request, stage by stage (µs, no I/O)", 120),
    ("idle_streams", ["bench_idle_streams.py", "--streams", "1000", "--hold", "10"],
     "the gateway's memory holding 1,000 idle streams", 180),
    ("route", ["bench_route.py"], "routing decisions (µs per call)", 120),
    ("tokens", ["bench_tokens.py", "--sizes", "1000", "100000"],
     "token estimator against the real Gemma tokenizer (1 KB and 100 KB)", 240),
]  # fmt: skip


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- children


@dataclass
class Server:
    name: str
    url: str  # chat completions endpoint
    model: str
    proc: subprocess.Popen[bytes] | None = None  # None: the emulator itself ("direct")
    idle_rss: float = 0.0
    key: str = "bench"  # the bearer token it is sent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def child(cmd: list[str], marker: str, log_path: Path) -> Iterator[tuple[str, Any]]:
    """A server in a child process that prints `marker URL` on stdout; yields (URL, proc).
    Its stderr goes to `log_path`; its stdout keeps being drained after the marker."""
    with log_path.open("wb") as err:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err
        )
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace")
            if marker in line:
                url = "http://" + line.split("http://", 1)[1].strip()
                break
        else:
            raise RuntimeError(f"{shlex.join(cmd[:4])} exited: {tail(log_path)}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        yield url, proc
    finally:
        proc.kill()
        proc.wait()


@contextmanager
def listening(cmd: list[str], env: dict[str, str], log_path: Path) -> Iterator[Any]:
    """A server that logs to stdout and says nothing of its URL (LiteLLM); yields its proc."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def tail(path: Path, n: int = 600) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip()
    except OSError:
        return ""


def wait_ok(url: str, proc: Any, log_path: Path, timeout: float = READY_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout:g} s: {tail(log_path)}")


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of one process, MiB (empty when it is gone)."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for c in (task / "children").read_text().split():
                found += [int(c), *descendants(int(c))]
    except OSError:
        pass
    return found


def check_answer(s: Server) -> None:
    """One chat request through `s`: it must answer with the emulator's text before it is
    measured (a proxy that answers errors fast would look fast)."""
    body = json.dumps({"model": s.model, "messages": [{"role": "user", "content": "hi"}]})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {s.key}"}
    request = urllib.request.Request(s.url, body.encode(), headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            content = json.loads(r.read())["choices"][0]["message"]["content"]
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"a test request got {e.code}: {e.read()[:300]!r}") from e
    except (OSError, ValueError, LookupError, TypeError) as e:
        raise RuntimeError(f"a test request failed: {e!r}"[:400]) from e
    if not isinstance(content, str) or "tok" not in content:
        raise RuntimeError(f"a test request's answer lacks the emulator's text: {content!r:.200}")


# ---------------------------------------------------------------- proxy overhead


@dataclass
class Proxies:
    servers: list[Server] = field(default_factory=list)
    cells: dict[tuple[str, bool, int], dict[str, Any]] = field(default_factory=dict)
    rss: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def loadgen(server: Server, stream: bool, concurrency: int, seconds: float) -> dict[str, Any]:
    cmd = [PY, str(BENCH / "loadgen.py"), server.url, server.model, "--seconds", str(seconds),
           "--concurrency", str(concurrency), "--timeout", str(REQUEST_TIMEOUT_S),
           "--key", server.key]  # fmt: skip
    if stream:
        cmd.append("--stream")
    limit = seconds + 2 * REQUEST_TIMEOUT_S + 30  # warm-up, the last requests, start-up
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=limit)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed: {done.stderr[-600:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def start_gateway(stack: ExitStack, emu_url: str, tmp: Path) -> Server:
    config = tmp / "gateway.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = 0\npid_file = "{tmp / "gateway.pid"}"\n'
        f'[[backends]]\nname = "emu"\nkind = "openai"\nurl = "{emu_url}"\n'
        "max_concurrency = 128\nmax_queue = 512\n"
    )
    cmd = [PY, "-m", "gateway", "up", "--config", str(config)]
    url, proc = stack.enter_context(child(cmd, "gateway listening on ", tmp / "gateway.log"))
    wait_ok(url + "/readyz", proc, tmp / "gateway.log")
    return Server("gateway", url + "/v1/chat/completions", "auto", proc)


def start_litellm(stack: ExitStack, emu_url: str, tmp: Path) -> Server:
    """LiteLLM's proxy from its venv, the emulator as an OpenAI-compatible `openai/` model."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if not exe.exists():
        raise RuntimeError(f"no {exe.relative_to(ROOT)} (make it with `bash bench/setup`)")
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n"
        f"      model: openai/{MODEL}\n      api_base: {emu_url}/v1\n      api_key: none\n"
        "litellm_settings:\n  set_verbose: false\n"
    )
    key = "sk-" + secrets.token_hex(32)  # it refuses to start without a strong master key
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | LITELLM_ENV
    env["LITELLM_MASTER_KEY"] = key
    cmd = [str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
           "--num_workers", "1"]  # fmt: skip
    proc = stack.enter_context(listening(cmd, env, tmp / "litellm.log"))
    base = f"http://127.0.0.1:{port}"
    wait_ok(base + "/health/liveliness", proc, tmp / "litellm.log")
    found = sorted(LITELLM_VENV.glob("lib/python*/site-packages/litellm-*.dist-info"))
    version = found[-1].name.removesuffix(".dist-info").split("-")[1] if found else ""
    name = f"LiteLLM {version}".strip()
    return Server(name, base + "/v1/chat/completions", "bench", proc, key=key)


NAN = {"p50": float("nan"), "p90": float("nan"), "p99": float("nan")}


def measure(out: Proxies, concurrencies: list[int], seconds: float) -> None:
    """Every cell, interleaved: each path at one concurrency, then the next."""
    for stream in (False, True):
        for c in concurrencies:
            for s in out.servers:
                try:
                    cell = loadgen(s, stream, c, seconds)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
                    cell = {"requests": 0, "errors": 1, "first_error": str(e)[-300:], "rps": 0.0,
                            "total": NAN, "ttft": NAN}  # fmt: skip
                out.cells[(s.name, stream, c)] = cell
                log(f"{s.name:12} {'stream' if stream else 'plain':6} c={c:<3} "
                    f"{cell['rps']:8.0f} req/s p50 {cell['total']['p50']:.2f} ms "
                    f"errors {cell['errors']} {cell['first_error']}")  # fmt: skip


def memory(s: Server) -> dict[str, float]:
    assert s.proc is not None
    kids = descendants(s.proc.pid)
    return {
        "idle": s.idle_rss,
        "peak": proc_status(s.proc.pid).get("VmHWM", 0.0),
        "children": len(kids),
        "children_peak": sum(proc_status(k).get("VmHWM", 0.0) for k in kids),
    }


def start_bare(stack: ExitStack, emu_url: str, tmp: Path) -> Server:
    cmd = [PY, str(BENCH / "passthrough.py"), emu_url]
    url, proc = stack.enter_context(child(cmd, "listening on ", tmp / "passthrough.log"))
    wait_ok(url + "/health", proc, tmp / "passthrough.log")
    return Server("bare aiohttp", url + "/v1/chat/completions", MODEL, proc)


def start_paths(stack: ExitStack, tmp: Path, with_litellm: bool) -> Proxies:
    """The emulator and every proxy in front of it that starts and answers; the others are
    listed in `skipped` with the reason."""
    out = Proxies()
    cmd = emulator_command("openai", REPLY_TOKENS)
    emu_url, _ = stack.enter_context(child(cmd, "http://", tmp / "emulator.log"))
    wait_ok(emu_url + "/v1/models", None, tmp / "emulator.log")
    out.servers.append(Server("direct", emu_url + "/v1/chat/completions", MODEL))
    check_answer(out.servers[0])
    starters = [("bare aiohttp", start_bare), ("gateway", start_gateway)]
    if with_litellm:
        starters.append(("LiteLLM proxy", start_litellm))
    else:
        out.skipped["LiteLLM proxy"] = "not asked for (--no-litellm)"
    for name, start in starters:
        log(f"starting {name} ...")
        try:
            server = start(stack, emu_url, tmp)
            check_answer(server)
        except RuntimeError as e:
            out.skipped[name] = " ".join(str(e).split())  # a log's tail, on one line
            log(f"{name} skipped: {e}")
        else:
            out.servers.append(server)
    return out


def bench_proxies(
    concurrencies: list[int], seconds: float, tmp: Path, with_litellm: bool
) -> Proxies:
    with ExitStack() as stack:
        out = start_paths(stack, tmp, with_litellm)
        for s in out.servers:
            if s.proc is not None:
                s.idle_rss = proc_status(s.proc.pid).get("VmRSS", 0.0)
        measure(out, concurrencies, seconds)
        for s in out.servers:
            if s.proc is not None:
                out.rss[s.name] = memory(s)
    return out


COLUMNS = {  # streamed? -> the (measure, percentile) a table shows after req/s
    False: [("total", "p50"), ("total", "p90"), ("total", "p99")],
    True: [("ttft", "p50"), ("ttft", "p99"), ("total", "p50"), ("total", "p99")],
}


def latency_rows(p: Proxies, concurrencies: list[int], added: Panels, stream: bool) -> list[str]:
    """One table row per path and concurrency; `added` from bench.chart.added_p50."""
    panel = list(added.values())[stream]
    lines = []
    for i, c in enumerate(concurrencies):
        for s in p.servers:
            cell = p.cells[(s.name, stream, c)]
            shown = " | ".join(f"{cell[k][q]:.2f}" for k, q in COLUMNS[stream])
            extra = f"{panel[s.name][i]:.2f}" if s.name in panel else "-"
            lines.append(f"| {s.name} | {c} | {cell['rps']:,.0f} | {shown} | {extra} "
                         f"| {cell['errors']} |")  # fmt: skip
    return lines


def ratio_rows(p: Proxies, concurrencies: list[int], added: Panels) -> list[str]:
    """The gateway against the bare pass-through, the issue's ratios; [] without both."""
    names = {s.name for s in p.servers}
    if not {"bare aiohttp", "gateway"} <= names:
        return []
    plain, streamed = added.values()
    lines = [
        "\nThe gateway against the bare pass-through (issue 13's ratios):\n",
        "| in flight | req/s gateway/bare | added p50 gateway/bare "
        "| added first token p50 gateway ms | bare ms |",
        "|---:|---:|---:|---:|---:|",
    ]
    for i, c in enumerate(concurrencies):
        bare_rps = p.cells[("bare aiohttp", False, c)]["rps"]
        rps = p.cells[("gateway", False, c)]["rps"] / bare_rps if bare_rps else float("nan")
        gw, bare = plain["gateway"][i], plain["bare aiohttp"][i]
        ratio = f"{gw / bare:.2f}" if bare > 0 else "n/a"
        lines.append(f"| {c} | {rps:.2f} | {ratio} | {streamed['gateway'][i]:.2f} "
                     f"| {streamed['bare aiohttp'][i]:.2f} |")  # fmt: skip
    return lines


def proxy_tables(p: Proxies, concurrencies: list[int], added: Panels) -> str:
    lines = [
        "Non-streamed (latency to the answer's last byte; added = p50 minus direct's p50 at "
        "the same concurrency):\n",
        "| path | in flight | req/s | p50 ms | p90 ms | p99 ms | added p50 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *latency_rows(p, concurrencies, added, stream=False),
        f"\nStreamed ({REPLY_TOKENS} chunks; first token = the first SSE event with content):\n",
        "| path | in flight | req/s | first token p50 ms | first token p99 ms | total p50 ms "
        "| total p99 ms | added first token p50 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *latency_rows(p, concurrencies, added, stream=True),
        "\nMemory of each proxy's own process (VmRSS after start-up and VmHWM, its peak, at "
        "the end, from /proc/PID/status; its forked children, e.g. the gateway's decoding "
        "forkserver, apart):\n",
        "| proxy | RSS at start MiB | peak RSS MiB | children | children's peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for n, r in p.rss.items():
        lines.append(f"| {n} | {r['idle']:.0f} | {r['peak']:.0f} | {r['children']:.0f} "
                     f"| {r['children_peak']:.0f} |")  # fmt: skip
    return "\n".join(lines + ratio_rows(p, concurrencies, added))


# ---------------------------------------------------------------- the rest, and the page


def run_script(args: list[str], timeout: float) -> tuple[str, float, str]:
    """(stdout, seconds, '' or why it failed) of one bench script, in its own session so a
    timeout also ends what it started (ffmpeg)."""
    started = time.perf_counter()
    proc = subprocess.Popen([PY, str(BENCH / args[0]), *args[1:]], cwd=ROOT, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "", time.perf_counter() - started, f"timed out after {timeout:g} s"
    took = time.perf_counter() - started
    if proc.returncode != 0:
        last = (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]
        return out, took, f"failed (exit {proc.returncode}): {last[-300:]}"
    return out.strip(), took, ""


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines()
                  if ln.startswith("model name")), platform.processor() or "unknown")  # fmt: skip
    flags = next((ln for ln in cpuinfo.splitlines() if ln.startswith("flags")), "")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    mem = next(ln.split()[1] for ln in Path("/proc/meminfo").read_text().splitlines()
               if ln.startswith("MemTotal"))  # fmt: skip
    import aiohttp

    avx = "avx2" if " avx2" in flags else "no avx2"
    return (f"{model} ({avx}), `nproc` {nproc}, {int(mem) / 2**20:.1f} GiB RAM; Linux "
            f"{platform.release()}, Python {platform.python_version()}, aiohttp "
            f"{aiohttp.__version__}")  # fmt: skip


def commit() -> str:
    git = ["git", "--no-optional-locks", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no", "--",
                            "gateway", "preprocess"], capture_output=True, text=True)  # fmt: skip
    changed = len(dirty.stdout.splitlines())
    extra = f" with uncommitted changes to {changed} files in gateway/ or preprocess/"
    return (head.stdout.strip() or "unknown") + (extra if changed else "")


def put_part(text: str, section: str, name: str) -> str:
    """`text` with part `name` from `section`: in its old place, or, when new, after the
    generated block's last part (the other parts are kept as they are)."""
    a, b = f"<!-- bench:{name} -->", f"<!-- bench:{name} end -->"
    new = a + section.split(a, 1)[1].split(b, 1)[0] + b
    if a in text and b in text:
        before, rest = text.split(a, 1)
        return before + new + rest.split(b, 1)[1]
    last = text.rfind(" end -->", 0, text.index(END))
    at = last + len(" end -->") if last >= 0 else text.index(END)
    return f"{text[:at]}\n{new}{text[at:]}"


def write_doc(section: str, only: list[str]) -> None:
    """The generated block replaced; with `only` and a block already there, just those
    parts of it."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    if only and BEGIN in text and END in text:
        for name in only:
            if f"<!-- bench:{name} -->" in section:
                text = put_part(text, section, name)
    elif BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    elif "\n## " in text:
        head, rest = text.split("\n## ", 1)
        text = f"{head}\n{block}\n\n## {rest}"
    else:
        text = f"{text.rstrip()}\n\n{block}\n"
    DOC.write_text(text)


@dataclass
class Run:
    """One run of the command: its arguments, stamp, and what its parts write and note."""

    args: argparse.Namespace
    stamp: str  # "<date>, commit <hash>"
    parts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    took: dict[str, float] = field(default_factory=dict)


def chart_part(run: Run, p: Proxies, added: Panels) -> None:
    """The chart: docs/benchmarks-latency.png when the page is written, or --chart PATH."""
    path = run.args.chart or (None if run.args.no_write else CHART)
    if path is None:
        return
    why = draw(added, run.args.concurrency, path)
    if why:
        run.notes.append(f"No chart: {why}.")
        run.parts.append(f"\nNo chart: {why}.")
        log(f"chart skipped: {why}")
        return
    log(f"chart: {path} ({path.stat().st_size / 1024:.0f} KiB)")
    if path.resolve() == CHART:
        run.parts.append(f"\n![added p50 latency per concurrency, per proxy]({CHART.name})")


def proxy_part(run: Run) -> None:
    args = run.args
    log("proxy overhead ...")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        p = bench_proxies(args.concurrency, args.seconds, Path(tmp), not args.no_litellm)
    added = added_p50(p.cells, [s.name for s in p.servers], args.concurrency)
    run.parts += [
        "\n<!-- bench:proxy -->",
        "### Proxy overhead: direct, bare aiohttp, gateway, LiteLLM\n",
        f"One OpenAI-compatible emulator in a child process ({REPLY_TOKENS}-token answers); "
        "each proxy in its own child process in front of it (the gateway is `python -m "
        "gateway up`, default log level, routing `model: auto`; LiteLLM's proxy is `litellm "
        "--config` from `.venv-bench-litellm`, one worker, its model `openai/` at the "
        "emulator); the load from `bench/loadgen.py`, a separate process per cell, "
        f"{args.seconds:g} s after 0.5 s of warm-up, N requests always in flight.\n",
        proxy_tables(p, args.concurrency, added),
    ]
    for name, why in p.skipped.items():
        run.notes.append(f"{name} skipped: {why}")
        run.parts.append(f"\n{name} skipped: {why}")
    chart_part(run, p, added)
    run.parts.append("\n<!-- bench:proxy end -->")


def drop_cut_clips() -> None:
    """Remove the cached clips that are not whole: bench_video.py reuses any clip it finds,
    and a timeout can cut one short while it is being made; whole ones are kept."""
    if (ffprobe := shutil.which("ffprobe")) is None:
        return
    for clip in VIDEO_DIR.glob("*.mp4"):
        probe = [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0"]
        done = subprocess.run([*probe, str(clip)], capture_output=True, text=True)
        try:
            whole = abs(float(done.stdout) - VIDEO_SECONDS) < 0.5
        except ValueError:
            whole = False
        if not whole:
            log(f"removing {clip}: not a whole {VIDEO_SECONDS} s clip")
            clip.unlink()


def script_part(run: Run, name: str, script: list[str], what: str, timeout: float) -> None:
    log(f"{name}: {shlex.join(script)} ...")
    out, took, failed = run_script(script, timeout)
    command = f".venv/bin/python bench/{shlex.join(script)}".replace(str(Path.home()), "~")
    run.parts += [
        f"\n<!-- bench:{name} -->\n### {name.replace('_', ' ').capitalize()}: {what}\n",
        f"`{command}`, {took:.0f} s, {run.stamp}:\n",
    ]
    if failed:
        run.parts.append(f"Not measured: {failed}.")
        run.notes.append(f"{name}: {failed}")
        if name == "video":
            drop_cut_clips()
        log(f"{name} {failed}")
    else:
        run.parts.append(out)
    run.parts.append(f"\n<!-- bench:{name} end -->")


def parse_args(names: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per proxy cell (default 3)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--only", nargs="+", choices=names, default=names)
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print, leave docs/ alone")
    ap.add_argument("--chart", type=Path, help=f"write the chart here (default {CHART.name} "
                    "in docs/, unless --no-write)")  # fmt: skip
    return ap.parse_args()


def main() -> None:
    names = ["proxy", *(name for name, *_ in SCRIPTS)]
    args = parse_args(names)
    started = time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    measured = commit()
    run = Run(args, f"{when}, commit {measured}")
    cmdline = "python -m bench " + shlex.join(sys.argv[1:])
    run.parts += [
        "## Latest run of `python -m bench` (generated)\n",
        f"Written by `{cmdline.strip()}` (`bench/suite.py`), {when}, on commit {measured}. "
        f"Machine: {machine()}. Everything (servers, load generator, emulator) shares these "
        "cores: compare rows of one run, not runs or machines. Everything between the "
        "`bench:` markers is rewritten by the next run.",
    ]
    if "proxy" in args.only:
        proxy_part(run)
        run.took["proxy"] = time.perf_counter() - started
        log(f"proxy took {run.took['proxy']:.0f} s")
    for name, script, what, timeout in SCRIPTS:
        if name in args.only:
            began = time.perf_counter()
            script_part(run, name, script, what, timeout)
            run.took[name] = time.perf_counter() - began
            log(f"{name} took {run.took[name]:.0f} s")
    total = time.perf_counter() - started
    each = ", ".join(f"{n} {t:.0f} s" for n, t in run.took.items())
    run.parts.append(f"\nWhole run: {total / 60:.1f} min ({each}).")
    if run.notes:
        run.parts.append("\nSkipped or failed:\n\n" + "\n".join(f"- {n}" for n in run.notes))
    section = "\n".join(run.parts)
    print(section)
    if not args.no_write:
        write_doc(section, [] if set(args.only) == set(names) else args.only)
        log(f"wrote {DOC.relative_to(ROOT)}")
    log(f"done in {total:.0f} s ({each})")


if __name__ == "__main__":
    main()
