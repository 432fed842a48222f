"""Every benchmark in one command; writes docs/benchmarks.md (not a test).

    .venv/bin/python -m bench [--seconds 3] [--concurrency 1 16 64] [--only proxy ...]
                              [--no-write]

1. Proxy overhead, side by side, on one OpenAI-compatible emulator (`tests/fakes`, a child
   process, 50-token answers): direct to it, through a bare aiohttp pass-through
   (`bench/passthrough.py`), through the gateway (`python -m gateway up`, default log level)
   and through LiteLLM's proxy when `litellm.proxy.proxy_server` imports (otherwise skipped,
   with the reason). The load comes from a separate process (`bench/loadgen.py`), one per
   cell: at each concurrency, non-streamed requests/s and p50/p90/p99, then streamed time to
   first token and to the last byte. Cells are interleaved (every path at one concurrency,
   then the next) so machine noise hits all alike. Each proxy's peak RSS is its VmHWM from
   /proc (its own process; forked children listed apart).
2. The other benchmarks, by calling their scripts with flags that fit the time budget: video
   stills, audio clips, the media round trip, routing decisions, token estimation.
3. Writes the results (tables, the machine, the commands, the commit) between the
   `<!-- bench:begin -->` and `<!-- bench:end -->` markers of docs/benchmarks.md (added before
   the first section if missing; the rest of the file is left as it is), and a PNG chart of
   the added latency per concurrency (docs/benchmarks-latency.png) when matplotlib imports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
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

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOC = ROOT / "docs" / "benchmarks.md"
CHART = ROOT / "docs" / "benchmarks-latency.png"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
PY = sys.executable
MODEL = "google/gemma-4-26b-a4b"  # what the OpenAI emulator serves (bench/children.py)
REPLY_TOKENS = 50
READY_S = 120.0
VIDEO_DIR = Path(tempfile.gettempdir()) / "bench-video"  # bench_video.py's default: clips kept

EMULATOR = f"""
import asyncio
from tests.fakes.openai_server import OpenAIEmulator
async def main():
    emu = OpenAIEmulator()
    emu.reply_tokens = ["tok"] * {REPLY_TOKENS}
    emu.received = _Forgetful()
    await emu.start()
    print("emulator listening on", emu.url, flush=True)
    await asyncio.Event().wait()
class _Forgetful(list):
    def append(self, item): pass
asyncio.run(main())
"""

# name, script and flags, what it measures; run in this order, each its own process
SCRIPTS = [
    ("video", ["bench_video.py", "--reps", "1", "--workdir", str(VIDEO_DIR)],
     "60 stills from 90 s of 1080p30 H.264 (GOP 250, GOP 30) against the ffmpeg CLI; min of 1"),
    ("audio", ["bench_audio.py", "--runs", "2"],
     "10 minutes of MP3 -> 30 s WAV clips against `ffmpeg -f segment`; min of 2"),
    ("media_trip", ["bench_media_trip.py", "--runs", "5"],
     "one chat request with a 1080p PNG / a 10 s 1080p MP4 through a real gateway"),
    ("route", ["bench_route.py"], "routing decisions (µs per call)"),
    ("tokens", ["bench_tokens.py", "--sizes", "1000", "100000"],
     "token estimator against the real Gemma tokenizer (1 KB and 100 KB)"),
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
def listening(cmd: list[str], port: int, log_path: Path) -> Iterator[Any]:
    """A server that logs to stdout and listens on `port` (LiteLLM); yields its proc."""
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
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


def litellm_reason() -> str | None:
    """Why LiteLLM's proxy cannot run here, or None when it can."""
    exe = Path(PY).parent / "litellm"
    if not exe.exists():
        return f"no `litellm` command next to {PY} (litellm[proxy] is not installed)"
    probe = subprocess.run(
        [PY, "-c", "import litellm.proxy.proxy_server"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        return f"`import litellm.proxy.proxy_server` fails: {last} (litellm[proxy] extra missing)"
    return None


# ---------------------------------------------------------------- proxy overhead


@dataclass
class Proxies:
    servers: list[Server] = field(default_factory=list)
    cells: dict[tuple[str, bool, int], dict[str, Any]] = field(default_factory=dict)
    rss: dict[str, dict[str, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def loadgen(server: Server, stream: bool, concurrency: int, seconds: float) -> dict[str, Any]:
    cmd = [PY, str(BENCH / "loadgen.py"), server.url, server.model,
           "--concurrency", str(concurrency), "--seconds", str(seconds)]  # fmt: skip
    if stream:
        cmd.append("--stream")
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=seconds + 120)
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
    port = free_port()
    config = tmp / "litellm.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n"
        f"      model: openai/{MODEL}\n      api_base: {emu_url}/v1\n      api_key: none\n"
    )
    cmd = [str(Path(PY).parent / "litellm"), "--config", str(config),
           "--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]  # fmt: skip
    proc = stack.enter_context(listening(cmd, port, tmp / "litellm.log"))
    base = f"http://127.0.0.1:{port}"
    wait_ok(base + "/health/liveliness", proc, tmp / "litellm.log")
    return Server("LiteLLM", base + "/v1/chat/completions", "bench", proc)


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


def bench_proxies(
    concurrencies: list[int], seconds: float, tmp: Path, with_litellm: bool
) -> Proxies:
    out = Proxies()
    with ExitStack() as stack:
        emu_url, _ = stack.enter_context(
            child([PY, "-c", EMULATOR], "emulator listening on ", tmp / "emulator.log")
        )
        wait_ok(emu_url + "/v1/models", None, tmp / "emulator.log")
        out.servers.append(Server("direct", emu_url + "/v1/chat/completions", MODEL))

        url, proc = stack.enter_context(
            child(
                [PY, str(BENCH / "passthrough.py"), emu_url],
                "listening on ",
                tmp / "passthrough.log",
            )  # fmt: skip
        )
        wait_ok(url + "/health", proc, tmp / "passthrough.log")
        out.servers.append(Server("bare aiohttp", url + "/v1/chat/completions", MODEL, proc))

        try:
            out.servers.append(start_gateway(stack, emu_url, tmp))
        except RuntimeError as e:
            out.skipped["gateway"] = f"did not start: {e}"
            log(out.skipped["gateway"])
        reason = litellm_reason() if with_litellm else "not asked for (--no-litellm)"
        if reason is None:
            try:
                out.servers.append(start_litellm(stack, emu_url, tmp))
            except RuntimeError as e:
                reason = f"did not start: {e}"
        if reason is not None:
            out.skipped["LiteLLM proxy"] = reason
            log(f"LiteLLM proxy skipped: {reason}")

        for s in out.servers:
            if s.proc is not None:
                s.idle_rss = proc_status(s.proc.pid).get("VmRSS", 0.0)
        measure(out, concurrencies, seconds)
        for s in out.servers:
            if s.proc is not None:
                out.rss[s.name] = memory(s)
    return out


def proxy_tables(p: Proxies, concurrencies: list[int]) -> str:
    names = [s.name for s in p.servers]
    lines = [
        "Non-streamed (latency to the answer's last byte; added = p50 minus direct's p50 at "
        "the same concurrency):\n",
        "| path | in flight | req/s | p50 ms | p90 ms | p99 ms | added p50 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in concurrencies:
        base = p.cells[("direct", False, c)]["total"]["p50"]
        for n in names:
            cell = p.cells[(n, False, c)]
            t = cell["total"]
            added = "-" if n == "direct" else f"{t['p50'] - base:.2f}"
            lines.append(f"| {n} | {c} | {cell['rps']:,.0f} | {t['p50']:.2f} | {t['p90']:.2f} "
                         f"| {t['p99']:.2f} | {added} | {cell['errors']} |")  # fmt: skip
    lines += [
        f"\nStreamed ({REPLY_TOKENS} chunks; first token = the first SSE event with content):\n",
        "| path | in flight | req/s | first token p50 ms | first token p99 ms | total p50 ms "
        "| total p99 ms | added first token p50 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in concurrencies:
        base = p.cells[("direct", True, c)]["ttft"]["p50"]
        for n in names:
            cell = p.cells[(n, True, c)]
            f, t = cell["ttft"], cell["total"]
            added = "-" if n == "direct" else f"{f['p50'] - base:.2f}"
            lines.append(
                f"| {n} | {c} | {cell['rps']:,.0f} | {f['p50']:.2f} | {f['p99']:.2f} "
                f"| {t['p50']:.2f} | {t['p99']:.2f} | {added} | {cell['errors']} |"
            )
    lines += [
        "\nMemory of each proxy's own process (VmRSS after start-up and VmHWM, its peak, at "
        "the end, from /proc/PID/status; its forked children, e.g. the gateway's decoding "
        "forkserver, apart):\n",
        "| proxy | RSS at start MiB | peak RSS MiB | children | children's peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for n, r in p.rss.items():
        lines.append(f"| {n} | {r['idle']:.0f} | {r['peak']:.0f} | {r['children']:.0f} "
                     f"| {r['children_peak']:.0f} |")  # fmt: skip
    if "bare aiohttp" in names and "gateway" in names:
        lines += [
            "\nThe gateway against the bare pass-through (issue 13's ratios):\n",
            "| in flight | req/s gateway/bare | added p50 gateway/bare "
            "| added first token p50 gateway ms | bare ms |",
            "|---:|---:|---:|---:|---:|",
        ]
        for c in concurrencies:
            rps = p.cells[("gateway", False, c)]["rps"] / p.cells[("bare aiohttp", False, c)]["rps"]
            d = p.cells[("direct", False, c)]["total"]["p50"]
            gw = p.cells[("gateway", False, c)]["total"]["p50"] - d
            bare = p.cells[("bare aiohttp", False, c)]["total"]["p50"] - d
            dt = p.cells[("direct", True, c)]["ttft"]["p50"]
            gt = p.cells[("gateway", True, c)]["ttft"]["p50"] - dt
            bt = p.cells[("bare aiohttp", True, c)]["ttft"]["p50"] - dt
            ratio = f"{gw / bare:.2f}" if bare > 0 else "n/a"
            lines.append(f"| {c} | {rps:.2f} | {ratio} | {gt:.2f} | {bt:.2f} |")
    return "\n".join(lines)


def chart(p: Proxies, concurrencies: list[int]) -> str:
    """Draw the added p50 latency per concurrency; '' when drawn, else why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib is not importable in {PY} ({e}); no new dependency is added for it"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, stream, key, title in (
        (axes[0], False, "total", "non-streamed: added p50 latency"),
        (axes[1], True, "ttft", "streamed: added p50 time to first token"),
    ):
        for s in p.servers[1:]:
            ys = [p.cells[(s.name, stream, c)][key]["p50"]
                  - p.cells[("direct", stream, c)][key]["p50"] for c in concurrencies]  # fmt: skip
            ax.plot(concurrencies, ys, marker="o", label=s.name)
        ax.set_xscale("log", base=2)
        ax.set_xticks(concurrencies, [str(c) for c in concurrencies])
        ax.set_xlabel("requests in flight")
        ax.set_ylabel("ms over direct")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(CHART, dpi=100)
    plt.close(fig)
    return ""


# ---------------------------------------------------------------- the rest, and the page


def run_script(args: list[str], timeout: float = 420) -> tuple[str, float, str]:
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
        return out, took, f"failed (exit {proc.returncode}): {last}"
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


def write_doc(section: str, only: list[str]) -> None:
    """The generated block replaced; with `only`, just those parts of it when it has them."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{BEGIN}\n{section.strip()}\n{END}"
    marks = [(f"<!-- bench:{n} -->", f"<!-- bench:{n} end -->") for n in only]
    if only and all(a in text and b in text and a in section for a, b in marks):
        for a, b in marks:
            new = a + section.split(a, 1)[1].split(b, 1)[0] + b
            before, rest = text.split(a, 1)
            text = before + new + rest.split(b, 1)[1]
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


def main() -> None:
    names = ["proxy", *(name for name, _, _ in SCRIPTS)]
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per proxy cell (default 3)")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    ap.add_argument("--only", nargs="+", choices=names, default=names)
    ap.add_argument("--no-litellm", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print, leave docs/ alone")
    args = ap.parse_args()
    started = time.perf_counter()
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    measured = commit()
    cmdline = "python -m bench " + shlex.join(sys.argv[1:])
    parts = [
        "## Latest run of `python -m bench` (generated)\n",
        f"Written by `{cmdline.strip()}` (`bench/suite.py`), {when}, on commit {measured}. "
        f"Machine: {machine()}. Everything (servers, load generator, emulator) shares these "
        "cores: compare rows of one run, not runs or machines. Everything between the "
        "`bench:` markers is rewritten by the next run.",
    ]
    notes: list[str] = []
    if "proxy" in args.only:
        log("proxy overhead ...")
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            p = bench_proxies(args.concurrency, args.seconds, Path(tmp), not args.no_litellm)
        parts += [
            "\n<!-- bench:proxy -->",
            "### Proxy overhead: direct, bare aiohttp, gateway, LiteLLM\n",
            f"One OpenAI-compatible emulator in a child process ({REPLY_TOKENS}-token answers); "
            "each proxy in its own child process in front of it (the gateway is `python -m "
            "gateway up`, default log level, routing `model: auto`); the load from "
            f"`bench/loadgen.py`, a separate process per cell, {args.seconds:g} s after 0.5 s "
            "of warm-up, N requests always in flight.\n",
            proxy_tables(p, args.concurrency),
        ]
        for name, why in p.skipped.items():
            notes.append(f"{name} skipped: {why}")
        why = chart(p, args.concurrency) if not args.no_write else "--no-write"
        if why:
            notes.append(f"No chart: {why}.")
            log(f"chart skipped: {why}")
        else:
            parts.append(f"\n![added latency per concurrency]({CHART.name})")
        parts.append("\n<!-- bench:proxy end -->")
    for name, script, what in SCRIPTS:
        if name not in args.only:
            continue
        log(f"{name}: {shlex.join(script)} ...")
        out, took, failed = run_script(script)
        command = f".venv/bin/python bench/{shlex.join(script)}"
        parts.append(
            f"\n<!-- bench:{name} -->\n### {name.replace('_', ' ').capitalize()}: {what}\n"
        )
        parts.append(f"`{command}`, {took:.0f} s, {when}, commit {measured}:\n")
        if failed:
            parts.append(f"Not measured: {failed}.")
            notes.append(f"{name}: {failed}")
            if name == "video":  # a clip cut short would be reused by the next run
                shutil.rmtree(VIDEO_DIR, ignore_errors=True)
            log(f"{name} {failed}")
        else:
            parts.append(out)
        parts.append(f"\n<!-- bench:{name} end -->")
    total = time.perf_counter() - started
    parts.append(f"\nWhole run: {total / 60:.1f} min.")
    if notes:
        parts.append("\nSkipped or failed:\n\n" + "\n".join(f"- {n}" for n in notes))
    section = "\n".join(parts)
    print(section)
    if not args.no_write:
        write_doc(section, [] if set(args.only) == set(names) else args.only)
        log(f"wrote {DOC.relative_to(ROOT)}")
    log(f"done in {total:.0f} s")


if __name__ == "__main__":
    main()
