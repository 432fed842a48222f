"""audio_clips against the ffmpeg binary on 10 minutes of 44.1 kHz stereo MP3 (not a test).

    .venv/bin/python bench/bench_audio.py [--minutes 10] [--runs 3]
    .venv/bin/python bench/bench_audio.py --e2e [--runs 5] [--tree PATH]

Both produce 16 kHz mono 16-bit WAV pieces of 30 s: ours returns them as bytes, ffmpeg
writes them (`-f segment -segment_time 30 -ar 16000 -ac 1`) to a temp folder. Each run is
its own child process; its peak RSS and CPU time (user + system, all threads) come from
`os.wait4` (the child's own rusage, the per-child form of RUSAGE_CHILDREN). For ours, "call"
is the time inside `audio_clips` (bytes already in memory) and "process" the child's whole
life, interpreter start and numpy import included. Decoding alone is timed on both sides
(libsndfile reading the MP3 as `audio_clips` does; `ffmpeg -f null -`): it is the floor.
The signal (tones and noise gated into "words" with pauses) is made by a child too: Linux
folds the parent's peak RSS into each exec'd child's ru_maxrss, so this process keeps to the
standard library (~10 MiB, the floor of every RSS reported).
Minimum of the runs; the machine is shared, so trust ratios.

`--e2e` measures the gateway end to end instead: the llama-server emulator (one Gemma E4B
that hears audio, answering at once) and `python -m gateway up` from `--tree` (default:
this checkout) run as child processes; each run POSTs the MP3 to the gateway's
`/v1/audio/transcriptions` (multipart, `model=auto`) and times it from the request's first
byte to the answer's last, that is until every clip has been sent to the emulator as a chat
and answered, alternating with the same ffmpeg command; one warm-up request first. The
decoding child's peak RSS is its VmHWM, read from /proc every few ms while it lives (it is
a child of the gateway's forkserver, which `os.wait4` cannot reach from here).
Needs ffmpeg on PATH. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.children import gateway_process, llama_server  # noqa: E402

POLL_S = 0.003  # how often the decoding child's VmHWM is read

OURS = """
import sys, time
from preprocess.audio import audio_clips
data = open(sys.argv[1], "rb").read()
t, cpu = time.perf_counter(), time.process_time()
clips = audio_clips(data)
print((time.perf_counter() - t) * 1e3, (time.process_time() - cpu) * 1e3, len(clips),
      sum(len(c.wav) for c in clips))
"""
DECODE_ONLY = """
import sys, time
from preprocess import audio
data = open(sys.argv[1], "rb").read()
t, cpu = time.perf_counter(), time.process_time()
with audio._open(data) as f:  # as audio_clips opens it
    for _ in f.blocks(1 << 18, dtype="float32"):
        pass
print((time.perf_counter() - t) * 1e3, (time.process_time() - cpu) * 1e3)
"""
BASELINE = "import preprocess.audio"


MAKE_MP3 = """
import io, subprocess, sys
import numpy as np, soundfile as sf
path, minutes = sys.argv[1], float(sys.argv[2])
sr, n = 44100, round(minutes * 60 * 44100)
rng = np.random.default_rng(0)
t = np.arange(n) / sr
gate = (np.sin(2 * np.pi * 0.7 * t) > -0.3) * (np.sin(2 * np.pi * 3.1 * t) > -0.6)
left = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.05 * np.sin(2 * np.pi * 0.5 * t)))
right = 0.2 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(n)
stereo = (np.stack([left, right], axis=1) * gate[:, None]).astype(np.float32)
wav = io.BytesIO()
sf.write(wav, stereo, sr, format="WAV", subtype="PCM_16")
cmd = ["ffmpeg", "-v", "error", "-y", "-f", "wav", "-i", "-", "-b:a", "128k", path]
subprocess.run(cmd, input=wav.getvalue(), check=True)
"""


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str, float]:
    """(wall ms, peak RSS MiB, stdout, CPU ms) of one child process."""
    with tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter() - t) * 1e3
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{cmd[0]} failed with {proc.returncode}")
        out.seek(0)
        cpu = (usage.ru_utime + usage.ru_stime) * 1e3
        return wall, usage.ru_maxrss / 1024, out.read().decode(), cpu


def ffmpeg_segment(mp3: Path, out: Path) -> tuple[float, float, str, float]:
    """`run` of the ffmpeg command ours is measured against."""
    out.mkdir()
    return run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(mp3), "-f", "segment"]
        + ["-segment_time", "30", "-ar", "16000", "-ac", "1", str(out / "out%03d.wav")]
    )


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                kids = Path(f"/proc/{parent}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            found += map(int, kids)
            todo += map(int, kids)
    return found


def status_mib(pid: int, field: str) -> float:
    """A `kB` line of /proc/PID/status in MiB (0 once the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class DecodePeak:
    """The highest VmHWM of the gateway's grandchildren (the forkserver's decoding
    children), polled by a thread while a request runs; and the VmRSS first seen of each,
    within a poll of its fork: what it inherited rather than what decoding took."""

    def __init__(self, forkserver: int) -> None:
        self.forkserver, self.peak, self.start = forkserver, 0.0, 0.0
        self._seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> DecodePeak:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_S):
            for pid in descendants(self.forkserver):
                if pid not in self._seen:
                    self._seen.add(pid)
                    self.start = max(self.start, status_mib(pid, "VmRSS"))
                self.peak = max(self.peak, status_mib(pid, "VmHWM"))


def forkserver_of(gateway_pid: int) -> int:
    """The gateway's child that forks the decoding children."""
    for pid in descendants(gateway_pid):
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"forkserver" in cmdline:
            return pid
    raise SystemExit("the gateway has no forkserver child")


async def transcribe(session: Any, url: str, mp3: bytes) -> tuple[float, str]:
    """One POST /v1/audio/transcriptions: (ms to the answer's last byte, X-Gateway-Preprocess)."""
    import aiohttp

    form = aiohttp.FormData()
    form.add_field("file", mp3, filename="talk.mp3", content_type="audio/mpeg")
    form.add_field("model", "auto")
    started = time.perf_counter()
    async with session.post(url + "/v1/audio/transcriptions", data=form) as r:
        body = await r.read()
        took = (time.perf_counter() - started) * 1e3
    if r.status != 200:
        raise SystemExit(f"the gateway answered {r.status}: {body[:500]!r}")
    return took, r.headers.get("X-Gateway-Preprocess", "")


async def decode_trip_s(session: Any, url: str) -> float:
    """The gateway's running total of media preparation time (the isolated decode trips)."""
    async with session.get(url + "/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith("gateway_media_prepare_seconds_sum"):
            return float(line.split()[-1])
    raise SystemExit("the gateway's /metrics has no gateway_media_prepare_seconds_sum")


async def wait_ready(session: Any, url: str) -> None:
    """Until /readyz says the emulator's model is listed."""
    import asyncio  # only here and in main: asyncio and aiohttp would raise the RSS floor

    for _ in range(600):
        async with session.get(url + "/readyz") as r:
            if r.status == 200:
                return
        await asyncio.sleep(0.1)
    raise SystemExit("the gateway did not become ready in 60 s")


async def end_to_end(mp3: Path, data: bytes, runs: int, tree: Path) -> dict[str, Any]:
    """The gateway's runs alternating with ffmpeg's, plus the decoding child's peak RSS."""
    import aiohttp

    r: dict[str, Any] = {"ours": [], "trip": [], "ffmpeg": [], "rss": [], "start": []}
    tmp, timeout = mp3.parent, aiohttp.ClientTimeout(total=300)
    with llama_server() as backend, gateway_process(config(tmp, backend), tree) as (url, pid):
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await wait_ready(session, url)
            _, r["preprocess"] = await transcribe(session, url, data)  # warm-up
            forkserver = forkserver_of(pid)
            r["forkserver"] = [status_mib(forkserver, f) for f in ("VmRSS", "RssAnon")]
            for i in range(runs):
                before = await decode_trip_s(session, url)
                with DecodePeak(forkserver) as peak:
                    took, _ = await transcribe(session, url, data)
                r["trip"].append((await decode_trip_s(session, url) - before) * 1e3)
                r["ours"].append(took)
                r["rss"].append(peak.peak)
                r["start"].append(peak.start)
                r["ffmpeg"].append(ffmpeg_segment(mp3, tmp / f"e2e{i}")[0])
    return r


def config(tmp: Path, backend: str) -> Path:
    """A gateway config: any free port, the one backend, defaults otherwise."""
    path = tmp / "gateway.toml"
    path.write_text(
        f'[server]\nport = 0\nlog_level = "warning"\npid_file = "{tmp / "gw.pid"}"\n'
        f'[[backends]]\nname = "llama"\nkind = "openai"\nurl = "{backend}"\n'
    )
    return path


def print_e2e(r: dict[str, Any], minutes: float, mb: float, tree: Path) -> None:
    ours, ff = r["ours"], r["ffmpeg"]
    print(
        f"{minutes:g} min of 44.1 kHz stereo MP3 ({mb:.1f} MB) through the gateway ({tree}): "
        f"POST /v1/audio/transcriptions, answered when every clip has reached the emulator "
        f"and come back ({r['preprocess']}); {len(ours)} runs alternating with ffmpeg\n"
    )
    print("| method | min ms | median ms | min / ffmpeg min | median / ffmpeg median "
          "| peak RSS MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    print(
        f"| gateway, request in -> clips at the backend -> answer | {min(ours):.0f} | "
        f"{statistics.median(ours):.0f} | **{min(ours) / min(ff):.2f}** | "
        f"**{statistics.median(ours) / statistics.median(ff):.2f}** | "
        f"{max(r['rss']):.0f} (the decoding child's VmHWM, max) |"
    )
    trip = r["trip"]
    print(
        f"| of which the isolated decode trip (fork, decode, clips back) | {min(trip):.0f} | "
        f"{statistics.median(trip):.0f} | {min(trip) / min(ff):.2f} | "
        f"{statistics.median(trip) / statistics.median(ff):.2f} | |"
    )
    print(
        f"| `ffmpeg -f segment -segment_time 30 -ar 16000 -ac 1` | {min(ff):.0f} | "
        f"{statistics.median(ff):.0f} | 1.00 | 1.00 | (see the default mode) |"
    )
    rss, anon = r["forkserver"]
    print(
        f"\nThe forkserver the decoding child forks from holds {rss:.0f} MiB ({anon:.0f} MiB "
        f"anonymous, which a forked child maps, and counts in its RSS, from the start); the "
        f"child's VmRSS first seen (within {POLL_S * 1e3:g} ms of its fork) was "
        f"{max(r['start']):.0f} MiB, so decoding took at most "
        f"{max(p - s for p, s in zip(r['rss'], r['start'], strict=True)):.0f} MiB of its own."
    )


def make_mp3(path: Path, minutes: float) -> None:
    run([sys.executable, "-c", MAKE_MP3, str(path), str(minutes)])  # numpy stays out of here


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--e2e", action="store_true", help="through a real gateway (see above)")
    ap.add_argument("--tree", type=Path, default=ROOT, help="with --e2e: the gateway's checkout")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mp3 = Path(tmp) / "in.mp3"
        make_mp3(mp3, args.minutes)
        if args.e2e:
            import asyncio

            data = mp3.read_bytes()
            result = asyncio.run(end_to_end(mp3, data, args.runs, args.tree.resolve()))
            print_e2e(result, args.minutes, mp3.stat().st_size / 1e6, args.tree)
            return
        rows = calls(mp3, args.runs)
        pieces = len(list((Path(tmp) / "seg0").glob("*.wav")))
        mp3_mb = mp3.stat().st_size / 1e6
    print(
        f"{args.minutes:g} min of 44.1 kHz stereo MP3 (128 kb/s, {mp3_mb:.1f} MB) -> 16 kHz "
        f"mono WAV pieces of <= 30 s; min of {args.runs} runs; CPU is user + system time "
        "of every thread\n"
    )
    print("| method | wall ms | ratio to ffmpeg | CPU ms | CPU ratio | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    ff_wall, ff_cpu = (min(v) for v in rows[SEGMENT][:2])
    for label, (wall, cpu, rss) in rows.items():
        print(
            f"| {label} | {min(wall):.0f} | {min(wall) / ff_wall:.2f} | {min(cpu):.0f} | "
            f"{min(cpu) / ff_cpu:.2f} | {min(rss):.0f} |"
        )
    print(f"\nours makes {rows.clips} clips, ffmpeg {pieces} pieces; ours returned "
          f"{rows.size / 1e6:.1f} MB of WAV")  # fmt: skip


SEGMENT = "`ffmpeg -f segment -segment_time 30 -ar 16000 -ac 1`"


class Rows(dict[str, tuple[list[float], list[float], list[float]]]):
    """label -> (wall ms, CPU ms, peak RSS MiB) of each run; and what ours made."""

    clips = size = 0

    def add(self, label: str, wall: float, cpu: float, rss: float | None) -> None:
        walls, cpus, rsses = self.setdefault(label, ([], [], []))
        walls.append(wall)
        cpus.append(cpu)
        if rss is not None:
            rsses.append(rss)


def calls(mp3: Path, runs: int) -> Rows:
    """Each child in turn, `runs` times: ours (the call, timed inside, and the whole
    process), decoding alone, the imports alone, ffmpeg's command and its decoding alone."""
    py, rows = [sys.executable, "-c"], Rows()
    for i in range(runs):
        wall, rss, out, cpu = run([*py, OURS, str(mp3)], cwd=ROOT)
        ms, call_cpu, clips, size = out.split()
        rows.clips, rows.size = int(clips), int(size)
        rows.add("`audio_clips` call (bytes in memory)", float(ms), float(call_cpu), rss)
        rows.add("`audio_clips` child process (start + import + read + call)", wall, cpu, rss)
        wall, rss, out, cpu = run([*py, DECODE_ONLY, str(mp3)], cwd=ROOT)
        ms, call_cpu = out.split()
        rows.add("decoding alone (libsndfile's mpg123, float32, no mix, resampling or WAV)",
                 float(ms), float(call_cpu), rss)  # fmt: skip
        wall, rss, _, cpu = run([*py, BASELINE], cwd=ROOT)
        rows.add("child that only imports `preprocess.audio` (baseline)", wall, cpu, rss)
        wall, rss, _, cpu = ffmpeg_segment(mp3, mp3.parent / f"seg{i}")
        rows.add(SEGMENT, wall, cpu, rss)
        wall, rss, _, cpu = run(["ffmpeg", "-v", "error", "-i", str(mp3), "-f", "null", "-"])
        rows.add("`ffmpeg -f null -` (its decoding alone)", wall, cpu, rss)
    return rows


if __name__ == "__main__":
    main()
