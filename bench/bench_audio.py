"""audio_clips against the ffmpeg binary on 10 minutes of 44.1 kHz stereo MP3 (not a test).

    .venv/bin/python bench/bench_audio.py [--minutes 10] [--runs 3]

Both produce 16 kHz mono 16-bit WAV pieces of 30 s: ours returns them as bytes, ffmpeg
writes them (`-f segment -segment_time 30 -ar 16000 -ac 1`) to a temp folder. Each run is
its own child process; its peak RSS comes from `os.wait4` (the child's own rusage, the
per-child form of RUSAGE_CHILDREN). For ours, "call" is the time inside `audio_clips`
(bytes already in memory) and "process" the child's whole life, interpreter start and
numpy import included. The signal (tones and noise gated into "words" with pauses) is made
by a child too: Linux folds the parent's peak RSS into each exec'd child's ru_maxrss, so
this process keeps to the standard library (~10 MiB, the floor of every RSS reported).
Minimum of the runs; the machine is shared, so trust ratios.
Needs ffmpeg on PATH. Prints markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

OURS = """
import sys, time
from preprocess.audio import audio_clips
data = open(sys.argv[1], "rb").read()
t = time.perf_counter()
clips = audio_clips(data)
ms = (time.perf_counter() - t) * 1e3
print(ms, len(clips), sum(len(c.wav) for c in clips))
"""
BASELINE = "import numpy, soundfile, preprocess.audio"


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


def run(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """(wall ms, peak RSS MiB, stdout) of one child process."""
    with tempfile.TemporaryFile() as out:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = (time.perf_counter() - t) * 1e3
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"{cmd[0]} failed with {proc.returncode}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    env_py = [sys.executable, "-c"]
    with tempfile.TemporaryDirectory() as tmp:
        mp3 = Path(tmp) / "in.mp3"
        run([*env_py, MAKE_MP3, str(mp3), str(args.minutes)])  # numpy stays out of here
        ours_call, ours_proc, ours_rss, base_ms, base_rss = [], [], [], [], []
        ff_wall, ff_rss = [], []
        for i in range(args.runs):
            wall, rss, out = run([*env_py, OURS, str(mp3)], cwd=ROOT)
            ms, clips, size = out.split()
            ours_call.append(float(ms))
            ours_proc.append(wall)
            ours_rss.append(rss)
            wall, rss, _ = run([*env_py, BASELINE], cwd=ROOT)
            base_ms.append(wall)
            base_rss.append(rss)
            seg = Path(tmp) / f"seg{i}"
            seg.mkdir()
            wall, rss, _ = run(
                ["ffmpeg", "-v", "error", "-y", "-i", str(mp3), "-f", "segment"]
                + ["-segment_time", "30", "-ar", "16000", "-ac", "1", str(seg / "out%03d.wav")]
            )
            ff_wall.append(wall)
            ff_rss.append(rss)
        pieces = len(list((Path(tmp) / "seg0").glob("*.wav")))
        mp3_mb = mp3.stat().st_size / 1e6
    ff = min(ff_wall)
    print(
        f"{args.minutes:g} min of 44.1 kHz stereo MP3 (128 kb/s, {mp3_mb:.1f} MB) -> 16 kHz "
        f"mono WAV pieces of <= 30 s; min of {args.runs} runs\n"
    )
    print("| method | wall ms | ratio to ffmpeg | peak RSS MiB | pieces |")
    print("|---|---|---|---|---|")
    print(
        f"| `audio_clips` call (bytes in memory) | {min(ours_call):.0f} | "
        f"{min(ours_call) / ff:.2f} | {min(ours_rss):.0f} (whole child) | {clips} |"
    )
    print(
        f"| `audio_clips` child process (start + import + read + call) | {min(ours_proc):.0f} "
        f"| {min(ours_proc) / ff:.2f} | {min(ours_rss):.0f} | {clips} |"
    )
    print(
        f"| child that only imports numpy + soundfile (baseline) | {min(base_ms):.0f} | "
        f"{min(base_ms) / ff:.2f} | {min(base_rss):.0f} | - |"
    )
    print(
        f"| `ffmpeg -f segment -segment_time 30 -ar 16000 -ac 1` | {ff:.0f} | 1.00 | "
        f"{min(ff_rss):.0f} | {pieces} |"
    )
    print(f"\nours returned {int(size) / 1e6:.1f} MB of WAV")


if __name__ == "__main__":
    main()
