"""Benchmark: `video_stills` against the ffmpeg CLI on 90 s of 1080p30 H.264 (not a test).

    .venv/bin/python bench/bench_video.py [--reps 3] [--workdir DIR]

Makes two clips with ffmpeg's testsrc2 (GOP 250 and GOP 30), then, for each, times
  * ours: `video_stills(data, max_side=768)` (1 still/s over the first 60 s, PyAV), in a
    child process; wall time of the call itself (bytes already in memory, imports done);
  * ours, every frame: the same with the planned decode disabled (every frame decoded);
  * ffmpeg: `ffmpeg -t 60 -i X -vf fps=1 out%02d.jpg` (full-size JPEGs), and the same with
    the stills scaled to a 768 px longest side (what ours produces); wall time of the process.
Min of --reps, runs interleaved so machine noise hits every method alike. Peak RSS is the
child's ru_maxrss (os.wait4 gives the rusage of that one child, the same accounting as
getrusage(RUSAGE_CHILDREN) without mixing children); for ours it includes the interpreter
with `preprocess.video` (PyAV, Pillow) imported and the input bytes read, reported
separately as the baseline. Time is stated as ours / ffmpeg fps=1 (issue 13: <= 0.5).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from preprocess import video
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "every":
    video._planned = lambda *args: None
if sys.argv[2] == "baseline":
    print(json.dumps({{"ms": 0.0, "stills": 0}}))
    sys.exit(0)
t = time.perf_counter()
result = video.video_stills(data, max_side=768)
ms = (time.perf_counter() - t) * 1000
print(json.dumps({{"ms": ms, "stills": len(result.stills), "truncated_s": result.truncated_s}}))
"""


def _wait(cmd: list[str]) -> tuple[float, int, str]:
    """Run `cmd`; (wall ms, peak RSS KiB of that child, stdout)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = (time.perf_counter() - start) * 1000
        out.seek(0)
        text = out.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed with {proc.returncode}")
    return wall, usage.ru_maxrss, text


def _make(ffmpeg: str, path: Path, gop: int, seconds: int) -> None:
    if path.exists():
        return
    src = "testsrc2=size=1920x1080:rate=30"
    part = path.with_name(path.stem + ".part" + path.suffix)  # renamed once whole: a run
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", src, "-t", str(seconds),
           "-c:v", "libx264", "-g", str(gop), "-pix_fmt", "yuv420p", str(part)]  # fmt: skip
    print(f"making {path.name} ...", file=sys.stderr)  # killed meanwhile leaves no cut clip
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL)
    part.rename(path)


Cell = dict[str, float]


def _measure(
    ffmpeg: str, clips: dict[str, Path], methods: list[str], workdir: Path, reps: int
) -> tuple[dict[tuple[str, str], Cell], int]:
    """Each (clip, method) run `reps` times: best wall ms, peak RSS, stills made; and the
    RSS of our child doing nothing."""
    child = CHILD.format(root=str(ROOT))
    out_dir = workdir / "ffmpeg-out"

    def ours(path: Path, mode: str) -> list[str]:
        return [sys.executable, "-c", child, str(path), mode]

    def cli(path: Path, scale: bool) -> list[str]:
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir()
        vf = "fps=1" + (",scale=768:768:force_original_aspect_ratio=decrease" if scale else "")
        return [ffmpeg, "-nostdin", "-v", "error", "-y", "-t", "60", "-i", str(path),
                "-vf", vf, str(out_dir / "out%02d.jpg")]  # fmt: skip

    def once(path: Path, method: str) -> tuple[float, int, float]:
        if method.startswith("ours"):
            _, rss, text = _wait(ours(path, "every" if "every" in method else "auto"))
            info = json.loads(text)
            return info["ms"], rss, info["stills"]
        ms, rss, _ = _wait(cli(path, scale="scale" in method))
        return ms, rss, len(list(out_dir.glob("*.jpg")))

    best: dict[tuple[str, str], Cell] = {}
    _, base_rss, _ = _wait(ours(clips["H.264 GOP 30"], "baseline"))
    for _ in range(reps):
        for clip, path in clips.items():
            for method in methods:
                ms, rss, stills = once(path, method)
                cell = best.setdefault((clip, method), {"ms": float("inf"), "rss": 0})
                cell["ms"] = min(cell["ms"], ms)
                cell["rss"] = max(cell["rss"], rss)
                cell["stills"] = stills
    return best, base_rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=90)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-video")
    args = parser.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("needs the ffmpeg binary (apt-get install ffmpeg)")
    args.workdir.mkdir(parents=True, exist_ok=True)
    clips = {
        "H.264 GOP 250": args.workdir / "gop250.mp4",
        "H.264 GOP 30": args.workdir / "gop30.mp4",
    }
    for (_, path), gop in zip(clips.items(), (250, 30), strict=True):
        _make(ffmpeg, path, gop, args.seconds)
    methods = ["ours", "ours, every frame", "ffmpeg fps=1", "ffmpeg fps=1,scale=768"]
    best, base_rss = _measure(ffmpeg, clips, methods, args.workdir, args.reps)

    clip_desc = f"{args.seconds} s 1920x1080 30 fps testsrc2"
    print(f"{clip_desc}, 1 still/s over the first 60 s, min of {args.reps}")
    print(f"(ours' child process with PyAV+Pillow imported and the input read, nothing done: "
          f"{base_rss / 1024:.0f} MiB peak RSS)\n")  # fmt: skip
    print("| clip | method | wall ms | this / ffmpeg fps=1 | peak RSS MiB | stills |")
    print("|---|---|---|---|---|---|")
    for clip in clips:
        ref = best[(clip, "ffmpeg fps=1")]["ms"]
        for method in methods:
            cell = best[(clip, method)]
            print(f"| {clip} | {method} | {cell['ms']:.0f} | {cell['ms'] / ref:.2f} "
                  f"| {cell['rss'] / 1024:.0f} | {cell['stills']:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
