"""Video -> stills: timestamps, caps, sizes, codecs/containers, and every refused input.

All media is made here: frames are flat colours that encode the second they belong to
(`_color(s)`), so a still can be traced back to the second it came from. H.264, VP9, MP3,
variable frame rate and faststart files are made with the ffmpeg binary (CI installs it).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from preprocess import video
from preprocess.errors import InvalidMedia
from preprocess.video import Stills, video_stills

PARAM = "messages[0].content[1].video_url.url"
W, H = 64, 48


def _color(second: int) -> tuple[int, int, int]:
    """BGR that encodes `second` (0..99) in steps of 20: robust to lossy codecs."""
    return (40 + 20 * (second % 10), 40 + 20 * (second // 10 % 10), 128)


def _second_of(jpeg: bytes) -> int:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    b, g, _ = img.reshape(-1, 3).mean(axis=0)
    return round((b - 40) / 20) + 10 * round((g - 40) / 20)


def _size_of(jpeg: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return img.shape[1], img.shape[0]


def _write(
    path: Path, fourcc: str, fps: float, seconds: float, size: tuple[int, int] = (W, H)
) -> Path:
    """A constant-rate video whose frame at time t is `_color(int(t))`."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} to {path.suffix}"
    for n in range(round(seconds * fps)):
        writer.write(np.full((size[1], size[0], 3), _color(int(n / fps + 1e-9)), np.uint8))
    writer.release()
    return path


@pytest.fixture(scope="module")
def ffmpeg() -> Callable[..., None]:
    exe = shutil.which("ffmpeg")
    if exe is None:  # a hard requirement, not a skip: CI installs Debian's ffmpeg
        pytest.fail("the ffmpeg binary is missing: apt-get install ffmpeg")

    def run(*args: str | Path) -> None:
        cmd = [exe, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *map(str, args)]
        subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=60)

    return run


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="module")
def source(media: Path) -> Path:
    """4 s of MJPG at 10 fps: the input ffmpeg transcodes to the other codecs."""
    return _write(media / "source.avi", "MJPG", 10, 4)


def _check(result: Stills, seconds: list[float]) -> None:
    assert [s.second for s in result.stills] == pytest.approx(seconds, abs=1e-3)
    assert [_second_of(s.jpeg) for s in result.stills] == [int(t) for t in seconds]


# --- timestamps and caps -------------------------------------------------------------------


def test_one_still_per_started_second(media: Path) -> None:
    data = _write(media / "7s.avi", "MJPG", 10, 7.2).read_bytes()
    result = video_stills(data)
    _check(result, [0, 1, 2, 3, 4, 5, 6, 7])
    assert result.duration_s == pytest.approx(7.2, abs=0.05)
    assert result.truncated_s == 0
    assert all(_size_of(s.jpeg) == (W, H) for s in result.stills)  # never upscaled


def test_long_video_is_capped_at_max_seconds(media: Path) -> None:
    data = _write(media / "90s.mp4", "mp4v", 5, 90).read_bytes()
    result = video_stills(data)
    _check(result, list(range(60)))
    assert result.duration_s == pytest.approx(90, abs=0.3)
    assert result.truncated_s == pytest.approx(30, abs=0.3)


def test_fps_and_max_seconds_parameters(media: Path) -> None:
    data = _write(media / "7s-fps.avi", "MJPG", 10, 7.2).read_bytes()
    result = video_stills(data, fps=2)
    _check(result, [k / 2 for k in range(15)])
    result = video_stills(data, fps=0.5, max_seconds=3)
    _check(result, [0, 2])
    assert result.truncated_s == pytest.approx(4.2, abs=0.05)
    with pytest.raises(ValueError):
        video_stills(data, fps=0)


def test_variable_frame_rate_uses_timestamps(media: Path, ffmpeg: Callable[..., None]) -> None:
    # Irregular frame durations (multiples of 40 ms, ffconcat's default time base).
    durations = [0.04, 0.32, 0.12, 0.52, 0.2, 0.08, 0.44]
    starts: list[float] = []
    lines = ["ffconcat version 1.0"]
    t = 0.0
    while t < 7.2 - 1e-9:
        d = durations[len(starts) % len(durations)]
        name = f"f{len(starts):03d}.png"
        cv2.imwrite(str(media / name), np.full((H, W, 3), _color(int(t + 1e-9)), np.uint8))
        lines += [f"file '{name}'", f"duration {d:.2f}"]
        starts.append(round(t, 2))
        t += d
    (media / "list.ffconcat").write_text("\n".join(lines) + "\n")
    out = media / "vfr.mkv"
    ffmpeg("-f", "concat", "-safe", "0", "-i", media / "list.ffconcat", "-fps_mode", "vfr",
           "-c:v", "libx264", "-pix_fmt", "yuv420p", out)  # fmt: skip
    expected = [min(s for s in starts if s >= k - 1e-6) for k in range(8) if starts[-1] >= k]
    assert expected != [float(k) for k in range(8)]  # some seconds start between frames
    _check(video_stills(out.read_bytes()), expected)


# --- sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [((320, 180), 64, (64, 36)), ((90, 160), 64, (36, 64)), ((320, 180), 768, (320, 180))],
)
def test_max_side_keeps_aspect_and_never_upscales(
    media: Path, size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    data = _write(media / f"size-{size[0]}x{size[1]}.avi", "MJPG", 5, 2, size).read_bytes()
    result = video_stills(data, max_side=max_side, quality=70)
    assert [_size_of(s.jpeg) for s in result.stills] == [expected, expected]
    assert [_second_of(s.jpeg) for s in result.stills] == [0, 1]


# --- codecs and containers -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("h264.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        ("h264.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-bf", "3"]),
        ("vp9.webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-b:v", "200k"]),
        ("vp8.webm", ["-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k"]),
        ("mjpeg.mkv", ["-c:v", "mjpeg", "-q:v", "3"]),
    ],
)
def test_ffmpeg_made_videos_decode(
    media: Path, source: Path, ffmpeg: Callable[..., None], name: str, args: list[str]
) -> None:
    ffmpeg("-i", source, *args, media / name)
    result = video_stills((media / name).read_bytes())
    _check(result, [0, 1, 2, 3])
    assert result.duration_s == pytest.approx(4, abs=0.15)


@pytest.mark.parametrize(("fourcc", "ext"), [("mp4v", "mp4"), ("MJPG", "avi"), ("mp4v", "avi")])
def test_opencv_made_videos_decode(media: Path, fourcc: str, ext: str) -> None:
    data = _write(media / f"cv-{fourcc}.{ext}", fourcc, 10, 4).read_bytes()
    _check(video_stills(data), [0, 1, 2, 3])


def test_metadata_that_is_not_utf8_is_no_obstacle(media: Path) -> None:
    """PyAV decodes metadata strictly by default: a stray byte in a title failed the open."""
    out = media / "latin1-title.mkv"
    cmd = [b"ffmpeg", b"-nostdin", b"-loglevel", b"error", b"-y", b"-f", b"lavfi", b"-i",
           b"testsrc2=size=64x48:rate=10", b"-t", b"2", b"-c:v", b"libx264", b"-pix_fmt",
           b"yuv420p", b"-metadata:s:v:0", b"title=caf\xe9", bytes(out)]  # fmt: skip
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, timeout=60)
    assert b"caf\xe9" in out.read_bytes()
    assert len(video_stills(out.read_bytes()).stills) == 2


def test_one_second_gop_decodes_keyframes_only(
    media: Path, source: Path, ffmpeg: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = media / "gop10.mp4"
    ffmpeg("-i", source, "-c:v", "libx264", "-g", "10", "-keyint_min", "10",
           "-sc_threshold", "0", "-pix_fmt", "yuv420p", out)  # fmt: skip
    sent: list[bool] = []  # is_keyframe of each packet the decoder got
    real = video._decode_packet

    def spy(stream: av.video.stream.VideoStream, packet: av.Packet | None) -> list[object]:
        if packet is not None:
            sent.append(packet.is_keyframe)
        return real(stream, packet)  # type: ignore[return-value]

    monkeypatch.setattr(video, "_decode_packet", spy)
    _check(video_stills(out.read_bytes()), [0, 1, 2, 3])
    assert sent == [True] * 4  # of 40 frames


@pytest.mark.parametrize(
    "x264",
    [
        ["-g", "250", "-bf", "3"],
        ["-g", "25", "-bf", "2"],
        ["-g", "7", "-bf", "0"],
        ["-g", "12", "-bf", "3", "-x264-params", "open-gop=1"],  # leading B-frames
    ],
)
def test_only_what_the_stills_need_is_decoded(
    media: Path, ffmpeg: Callable[..., None], monkeypatch: pytest.MonkeyPatch, x264: list[str]
) -> None:
    """Long, short and open GOPs, with and without B-frames: the stills are the frames a
    full decode gives (the same JPEG bytes), from fewer decoded frames."""
    out = media / f"x264{''.join(x264)}.mp4"
    ffmpeg("-f", "lavfi", "-i", f"testsrc2=size={W}x{H}:rate=24", "-t", "9", "-c:v", "libx264",
           *x264, "-pix_fmt", "yuv420p", out)  # fmt: skip
    data = out.read_bytes()
    decoded: list[int] = []  # frames out of the decoder, per call
    real = video._decode_packet

    def spy(stream: av.video.stream.VideoStream, packet: av.Packet | None) -> list[object]:
        frames = real(stream, packet)
        decoded.append(len(frames))
        return frames  # type: ignore[return-value]

    monkeypatch.setattr(video, "_decode_packet", spy)
    with monkeypatch.context() as m:
        m.setattr(video, "_planned", lambda *args: None)
        full = video_stills(data, fps=0.5, quality=100)
    assert sum(decoded) == 9 * 24
    decoded.clear()

    def no_fallback(*args: object) -> None:
        raise AssertionError("the planned decode was refused")

    monkeypatch.setattr(video, "_every_frame", no_fallback)
    planned = video_stills(data, fps=0.5, quality=100)
    assert [s.second for s in planned.stills] == [0, 2, 4, 6, 8]
    assert planned.stills == full.stills
    assert sum(decoded) < 8 * 24  # not every frame up to the last still


def test_plan_sends_a_gop_up_to_its_last_still_and_the_gop_before_a_leading_frame() -> None:
    D, R, S = video._DROP, video._REF, video._STILL
    order: list[tuple[float | None, bool]] = [
        (0.0, True), (0.5, False), (0.25, False), (1.0, False), (1.5, False),  # GOP 1
        (2.0, True), (3.0, False),  # GOP 2: nothing wanted
        (4.0, True), (3.5, False), (4.5, False),  # GOP 3: 3.5 is shown before its key
    ]  # fmt: skip
    assert video._plan(order, {0.5, 1.0}) == [R, S, R, S]
    assert video._plan(order, {0.0, 3.5}) == [S, D, D, D, D, R, R, R, S]


def test_a_wrong_packet_list_falls_back_to_decoding_every_frame(
    media: Path, source: Path, ffmpeg: Callable[..., None], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = media / "gop250.mp4"
    ffmpeg("-i", source, "-c:v", "libx264", "-g", "250", "-pix_fmt", "yuv420p", out)
    real = video._index

    def every_packet_a_key(*args: object, **kw: object) -> video._Index:
        index = real(*args, **kw)  # type: ignore[arg-type]
        index.order = [(t, True) for t, _ in index.order]
        return index

    monkeypatch.setattr(video, "_index", every_packet_a_key)
    _check(video_stills(out.read_bytes()), [0, 1, 2, 3])


def test_the_protocol_whitelist(source: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[dict[str, str] | None] = []
    real = av.open

    def spy(*args: Any, **kw: Any) -> Any:
        opened.append(kw.get("container_options"))
        return real(*args, **kw)

    monkeypatch.setattr(av, "open", spy)
    assert len(video_stills(source.read_bytes()).stills) == 4
    assert opened and all(o == {"protocol_whitelist": "file"} for o in opened)
    # What it stops: an URL naming another protocol (concat:, which FFmpeg opens without it).
    url = f"concat:{source}|{source}"
    real(url).close()
    with pytest.raises(av.FFmpegError):  # EINVAL: "Protocol 'concat' not on whitelist"
        real(url, container_options=video.SAFE_OPTIONS)


# --- refused inputs ------------------------------------------------------------------------


def _zero_mdat(data: bytes) -> bytes:
    """The mp4 with its frame data zeroed: it opens, but no frame decodes."""
    out = bytearray(data)
    i = 0
    while i < len(out):
        size, kind = struct.unpack(">I4s", out[i : i + 8])
        if kind == b"mdat":
            out[i + 8 : i + size] = bytes(size - 8)
            return bytes(out)
        i += size
    raise AssertionError("no mdat box")


@pytest.fixture(scope="module")
def bad_inputs(media: Path, source: Path, ffmpeg: Callable[..., None]) -> dict[str, bytes]:
    # testsrc2 rather than flat colours: cut in half, a faststart file still has frames.
    test_src = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-t", "6"]
    h264 = ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ffmpeg(*test_src, *h264, media / "moov-end.mp4")
    ffmpeg(*test_src, *h264, "-movflags", "+faststart", media / "moov-start.mp4")
    ffmpeg(*test_src, *h264, media / "whole.mkv")
    ffmpeg(*test_src, "-c:v", "libvpx", "-deadline", "realtime", media / "whole.webm")
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", media / "tone.wav")
    ffmpeg("-f", "lavfi", "-i", "sine=duration=1", media / "tone.mp3")
    moov_end = (media / "moov-end.mp4").read_bytes()
    moov_start = (media / "moov-start.mp4").read_bytes()
    assert moov_end.find(b"moov") > moov_end.find(b"mdat")
    assert moov_start.find(b"moov") < moov_start.find(b"mdat")
    png = cv2.imencode(".png", np.zeros((H, W, 3), np.uint8))[1].tobytes()
    return {
        "empty": b"",
        "random": np.random.default_rng(7).integers(0, 256, 20_000, np.uint8).tobytes(),
        "text": b"this is not a video\n",
        "hls": b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n",
        "ffconcat": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
        "concat": b"# parts\nfile '/etc/passwd'\nfile 'http://169.254.169.254/'\n",
        "sdp": b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=x\r\nc=IN IP4 127.0.0.1\r\n"
        b"m=video 5004 RTP/AVP 96\r\n",
        "xml": b'<?xml version="1.0"?>\n<playlist><item href="file:///etc/passwd"/></playlist>',
        "dash": b'<?xml version="1.0"?>\x01\n<MPD><Period><BaseURL>file:///</BaseURL></Period></MPD>',
        "hls with a control byte": b"#EXTM3U\x01\n#EXTINF:10,\nfile:///etc/passwd\n\xff\xfe",
        "wav": (media / "tone.wav").read_bytes(),
        "mp3": (media / "tone.mp3").read_bytes(),
        "png": png,
        "cut moov at end": moov_end[: len(moov_end) // 2],
        "cut faststart": moov_start[: len(moov_start) // 2],
        "cut avi": source.read_bytes()[:-1000],
        "cut mkv": (media / "whole.mkv").read_bytes()[:-1000],
        "cut webm": (media / "whole.webm").read_bytes()[:-1000],
        "no decodable frames": _zero_mdat(moov_end),
        "frames too large": _write(media / "wide.avi", "MJPG", 5, 1, (8200, 16)).read_bytes(),
    }


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("empty", "empty"),
        ("random", "could not be opened"),
        ("text", "plain text"),
        ("hls", "HLS playlist"),
        ("ffconcat", "concat list"),
        ("concat", "concat list"),
        ("sdp", "SDP"),
        ("xml", "XML"),
        ("dash", "DASH manifest"),
        ("hls with a control byte", "HLS playlist"),
        ("wav", "WAV audio"),
        ("mp3", "MP3"),
        ("png", "still image"),
        ("cut moov at end", "truncated.*'mdat' box"),
        ("cut faststart", "truncated.*'mdat' box"),
        ("cut avi", "truncated.*RIFF"),
        ("cut mkv", "truncated.*Segment needs"),
        ("cut webm", "truncated.*Segment needs"),
        ("no decodable frames", "no decodable frames"),
        ("frames too large", "8200x16"),
    ],
)
def test_bad_input_is_refused(bad_inputs: dict[str, bytes], kind: str, says: str) -> None:
    with pytest.raises(InvalidMedia, match=says) as err:
        video_stills(bad_inputs[kind], param=PARAM)
    assert err.value.param == PARAM


def test_a_live_recorded_webm_cut_short_gives_the_stills_before_the_cut(media: Path) -> None:
    """A browser's MediaRecorder (like ffmpeg writing to a pipe) leaves the Segment size
    unknown: nothing says where the file should end, so what is there is used."""
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
           f"testsrc2=size={W}x{H}:rate=10", "-t", "4", "-c:v", "libvpx", "-deadline",
           "realtime", "-g", "10", "-f", "webm", "pipe:1"]  # fmt: skip
    live = subprocess.run(cmd, check=True, capture_output=True, timeout=60).stdout
    whole = video_stills(live)
    cut = video_stills(live[: len(live) * 2 // 3])
    assert len(whole.stills) == 4 and 1 <= len(cut.stills) < 4
