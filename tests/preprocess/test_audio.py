"""audio_clips: decoding, mono mix, anti-aliased resampling, quiet cuts, bad input."""

from __future__ import annotations

import contextlib
import io
import math
import shutil
import struct
import subprocess
import threading
from collections.abc import Generator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from preprocess import audio
from preprocess.audio import (
    MAX_CHANNELS,
    MAX_RATE,
    MIN_RATE,
    Clip,
    Resampler,
    audio_clips,
    audio_seconds,
    lowpass,
)
from preprocess.errors import InvalidMedia
from tests.media import wav_claiming

SPEECH = (
    "The gateway cuts long audio into short clips. Each clip lasts thirty seconds at most. "
    "A cut should fall in a pause, never inside a word. Speech models hear sixteen thousand "
    "samples a second. The quietest moment near the boundary is a good place to cut. This "
    "sentence is here to make the recording longer. So is this one, which talks about "
    "nothing in particular. The weather was mild and the river was calm. Nobody expected "
    "the train to arrive on time. It did, and everyone was surprised. Then the story ends, "
    "with one more sentence for good measure."
)


def tone(freq: float, sr: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(sr * seconds)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def encode(x: np.ndarray, sr: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    out = io.BytesIO()
    sf.write(out, x, sr, format=fmt, subtype=subtype)
    return out.getvalue()


def decode(clip: Clip) -> np.ndarray:
    """The clip's samples, after checking it is a 16 kHz mono PCM_16 WAV of its length."""
    info = sf.info(io.BytesIO(clip.wav))
    assert (info.format, info.subtype, info.samplerate, info.channels) == (
        "WAV",
        "PCM_16",
        16000,
        1,
    )
    x, _ = sf.read(io.BytesIO(clip.wav), dtype="float32")
    assert len(x) == round(clip.seconds * 16000)
    return x


def rms_db(x: np.ndarray) -> float:
    return 20 * math.log10(float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12)


def resample(x: np.ndarray, src: int, dst: int = 16000, chunk: int | None = None) -> np.ndarray:
    r = Resampler(src, dst)
    step = chunk or max(1, len(x))
    parts = [r.push(x[i : i + step]) for i in range(0, len(x), step)]
    return np.concatenate([*parts, r.flush()])


def reference(x: np.ndarray, src: int, dst: int = 16000) -> np.ndarray:
    """Upsample by L, filter, keep every M-th, by the textbook sum (slow, small inputs)."""
    r = Resampler(src, dst)
    h = lowpass(r.up, r.down)
    delay = (len(h) - 1) // 2
    n = np.arange(-(-len(x) * r.up // r.down))[:, None]
    idx = n * r.down + delay - np.arange(len(x))[None, :] * r.up  # h index of x[i] in y[n]
    ok = (idx >= 0) & (idx < len(h))
    return (np.where(ok, h[np.clip(idx, 0, len(h) - 1)], 0.0) * x[None, :]).sum(axis=1)


# -- the resampler ----------------------------------------------------------------------


@pytest.mark.parametrize("src", [44100, 48000, 8000, 22050, 32000, 11025])
def test_polyphase_equals_the_textbook_upsample_filter_downsample(src: int) -> None:
    x = np.random.default_rng(src).standard_normal(src // 10 + 7).astype(np.float32)
    want = reference(x.astype(np.float64), src)
    got = resample(x, src)
    assert got.shape == want.shape
    assert np.abs(got - want).max() < 1e-5
    # streaming in odd-sized pieces changes nothing
    assert np.allclose(resample(x, src, chunk=997), got, rtol=0, atol=1e-6)


def test_same_rate_is_a_no_op() -> None:
    x = np.random.default_rng(0).standard_normal(5000).astype(np.float32)
    assert np.array_equal(resample(x, 16000), x)


@pytest.mark.parametrize("src", [48000, 44100, 22050, 8000])
def test_a_1khz_tone_passes_within_half_a_db(src: int) -> None:
    y = resample(tone(1000, src, 2.0), src)
    assert len(y) == 32000
    assert abs(rms_db(y[4000:-4000]) - rms_db(tone(1000, 16000, 2.0))) < 0.5


@pytest.mark.parametrize(
    ("src", "freq"),
    # 8.5 kHz would fold to 7.5 kHz at 16 kHz, 12 kHz to 4 kHz, 15 kHz to 1 kHz
    [(48000, 8500), (48000, 12000), (48000, 15000), (44100, 8500), (44100, 20000)],
)
def test_tones_above_the_new_nyquist_are_40db_down(src: int, freq: int) -> None:
    y = resample(tone(freq, src, 2.0), src)
    assert rms_db(y[4000:-4000]) - rms_db(tone(freq, src, 2.0)) < -40


# -- clips --------------------------------------------------------------------------------


@pytest.mark.parametrize("src", [44100, 48000, 8000, 22050, 16000])
def test_rates_become_16k_mono_clips_of_the_right_length(src: int) -> None:
    clips = audio_clips(encode(tone(440, src, 3.0), src))
    assert len(clips) == 1 and clips[0].start_s == 0
    assert abs(clips[0].seconds - 3.0) < 1e-3
    y = decode(clips[0])
    assert abs(rms_db(y[800:-800]) - rms_db(tone(440, 16000, 3.0))) < 0.5


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [
        ("WAV", "PCM_16"),
        ("WAV", "PCM_24"),
        ("WAV", "FLOAT"),
        ("FLAC", "PCM_16"),
        ("OGG", "VORBIS"),
        ("MP3", "MPEG_LAYER_III"),
    ],
)
def test_formats(fmt: str, subtype: str) -> None:
    stereo = np.stack([tone(440, 44100, 2.0), tone(660, 44100, 2.0)], axis=1)
    clips = audio_clips(encode(stereo, 44100, fmt, subtype))
    total = sum(c.seconds for c in clips)
    assert abs(total - 2.0) < 0.06  # mp3 and vorbis may pad or trim a frame
    y = decode(clips[0])
    spectrum = np.abs(np.fft.rfft(y[2000:18000]))  # 1 s: bins are 1 Hz apart
    assert spectrum[440] > 100 * np.median(spectrum) and spectrum[660] > 100 * np.median(spectrum)


def test_channels_are_averaged() -> None:
    left = tone(440, 16000, 1.0)
    stereo = np.stack([left, -left, 0.5 * left], axis=1)
    clips = audio_clips(encode(stereo, 16000, subtype="FLOAT"))
    y = decode(clips[0])
    assert np.abs(y - np.round(left / 6 * 32767) / 32768).max() < 1e-4


def test_made_with_ffmpeg_mp3(tmp_path: Path) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing (CI installs it): apt-get install ffmpeg")
    src = tmp_path / "in.wav"
    src.write_bytes(encode(tone(440, 48000, 2.0), 48000))
    dst = tmp_path / "out.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-i", src, "-ac", "2", dst], check=True)
    clips = audio_clips(dst.read_bytes())
    assert abs(sum(c.seconds for c in clips) - 2.0) < 0.06


def test_clips_cover_the_audio_without_gaps_and_are_at_most_clip_seconds() -> None:
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(16000 * 75)).astype(np.float32)
    clips = audio_clips(encode(x, 16000, subtype="FLOAT"))
    assert len(clips) == 3
    end = 0.0
    for c in clips:
        assert c.start_s == end and 0 < c.seconds <= 30
        end = c.start_s + c.seconds
    assert end == 75.0
    assert clips[-1].seconds < 30
    assert np.array_equal(np.concatenate([decode(c) for c in clips]), _pcm16(x))


def test_cuts_land_in_the_quietest_point_of_the_last_second() -> None:
    x = tone(300, 16000, 50.0)
    x[int(29.35 * 16000) : int(29.45 * 16000)] = 0  # a 100 ms gap 0.6 s before 30 s
    x[int(28.5 * 16000) : int(28.6 * 16000)] = 0  # quieter than speech, but > 1 s before
    clips = audio_clips(encode(x, 16000), clip_seconds=30)
    assert len(clips) == 2
    assert 29.35 <= clips[0].seconds <= 29.45
    # silence everywhere: the latest of the equal windows, so the clip stays near 30 s
    silent = audio_clips(encode(np.zeros(16000 * 45, np.float32), 16000))
    assert 29.98 <= silent[0].seconds <= 30


def test_cut_lands_in_a_pause_of_real_speech(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is missing (CI installs it): apt-get install espeak-ng")
    out = tmp_path / "speech.wav"
    subprocess.run(["espeak-ng", "-w", out, SPEECH], check=True, capture_output=True)
    x, sr = sf.read(out, dtype="float32")
    assert len(x) / sr > 30
    frame = int(0.02 * sr)
    loudness = np.sqrt(np.mean(x[: len(x) // frame * frame].reshape(-1, frame) ** 2, axis=1))
    speaking = np.median(loudness[loudness > 0])
    for clip_seconds in (30, 10):
        clips = audio_clips(out.read_bytes(), clip_seconds=clip_seconds)
        assert len(clips) == math.ceil(len(x) / sr / clip_seconds)
        for c in clips[:-1]:
            assert clip_seconds - 1 <= c.seconds <= clip_seconds
            at = round((c.start_s + c.seconds) * sr)
            assert np.sqrt(np.mean(x[at - frame // 2 : at + frame // 2] ** 2)) < speaking / 20


def test_samples_are_clipped_not_wrapped() -> None:
    x = np.concatenate([np.full(800, 2.0), np.full(800, -3.0), [np.nan] * 800, [np.inf] * 800])
    y = decode(audio_clips(encode(x.astype(np.float32), 16000, subtype="FLOAT"))[0])
    assert y[200:600].min() > 0.99 and y[1000:1400].max() < -0.99
    assert np.all(y[1800:2200] == 0) and y[2600:3000].min() > 0.99


def test_short_clip_seconds() -> None:
    clips = audio_clips(encode(tone(440, 8000, 2.0), 8000), clip_seconds=0.5)
    assert all(0.25 <= c.seconds <= 0.5 for c in clips[:-1]) and 0 < clips[-1].seconds <= 0.5
    assert clips[-1].start_s + clips[-1].seconds == 2.0


# -- bad input ----------------------------------------------------------------------------


def _wav_with_lying_header(seconds: float) -> bytes:
    data = bytearray(encode(tone(440, 16000, seconds), 16000))
    struct.pack_into("<I", data, 4, 0xFFFFFFF0)  # RIFF size
    struct.pack_into("<I", data, 40, 0xFFFFFF00)  # data size: ~4 GiB
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "not a readable"),
        (np.random.default_rng(2).bytes(20_000), "not a readable"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + np.random.default_rng(3).bytes(20_000), "readable"),
        (encode(np.zeros(0, np.float32), 16000), "no samples"),
        (encode(np.zeros(1000, np.float32), 16000)[:44], "no samples"),
        (encode(tone(440, 44100, 2.0), 44100, "FLAC")[:3000], "decoded"),
    ],
    ids=["empty", "random", "fake-mp3", "zero-length", "header-only", "truncated-flac"],
)
def test_bad_input_is_invalid_media_with_param(data: bytes, words: str) -> None:
    with pytest.raises(InvalidMedia) as e:
        audio_clips(data, param="messages[0].content[1]")
    assert e.value.param == "messages[0].content[1]" and words in e.value.message


def test_too_long_is_refused_from_the_header_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(*_: object) -> None:
        raise AssertionError("decoded before the length check")

    monkeypatch.setattr(audio, "Resampler", no_decoding)
    with pytest.raises(InvalidMedia) as e:
        audio_clips(encode(np.zeros(16000 * 3, np.float32), 16000), max_seconds=2.5, param="p")
    assert e.value.param == "p" and "2.5s" in e.value.message and "max_seconds" in e.value.message
    with pytest.raises(InvalidMedia, match="600s"):
        audio_clips(encode(np.zeros(16000 * 601, np.int16), 16000))


def test_a_header_understating_the_length_is_stopped_while_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = audio._info

    def one_frame(data: bytes, param: str | None) -> SimpleNamespace:
        info = real(data, param)
        return SimpleNamespace(samplerate=info.samplerate, channels=info.channels, frames=1)

    monkeypatch.setattr(audio, "_info", one_frame)
    with pytest.raises(InvalidMedia, match="3.0s, more than the 2s") as e:
        audio_clips(encode(np.zeros(16000 * 3, np.float32), 16000), max_seconds=2, param="p")
    assert e.value.param == "p"


def test_the_decoding_thread_stops_with_its_consumer() -> None:
    made: list[int] = []

    def endless() -> Generator[int, None, None]:
        n = 0
        while True:
            made.append(n)
            yield n
            n += 1

    before = threading.active_count()
    with contextlib.closing(audio._ahead(endless())) as items:
        assert [next(items) for _ in range(3)] == [0, 1, 2]
    assert threading.active_count() == before and len(made) <= 5

    def failing() -> Generator[int, None, None]:
        yield 1
        raise InvalidMedia("broken", "p")

    with pytest.raises(InvalidMedia, match="broken"):
        list(audio._ahead(failing()))
    assert threading.active_count() == before


def test_a_header_claiming_more_data_uses_the_real_data() -> None:
    clips = audio_clips(_wav_with_lying_header(1.0))
    assert len(clips) == 1 and clips[0].seconds == 1.0
    assert audio_seconds(_wav_with_lying_header(1.0)) == 1.0


def test_truncated_files_give_what_they_hold() -> None:
    wav = encode(tone(440, 16000, 4.0), 16000, subtype="PCM_24")
    assert audio_clips(wav[: len(wav) // 2])[0].seconds == pytest.approx(2.0, abs=1e-3)
    mp3 = encode(tone(440, 44100, 4.0), 44100, "MP3", "MPEG_LAYER_III")
    assert 1.0 < sum(c.seconds for c in audio_clips(mp3[: len(mp3) // 2])) < 3.0


def test_audio_seconds_still_reads_the_header() -> None:
    assert audio_seconds(encode(tone(440, 22050, 1.5), 22050, "FLAC")) == 1.5
    with pytest.raises(InvalidMedia) as e:
        audio_seconds(b"nope", "p")
    assert e.value.param == "p"


def _pcm16(x: np.ndarray) -> np.ndarray:
    """What a round trip through a PCM_16 WAV makes of float samples."""
    out = io.BytesIO()
    sf.write(out, np.clip(x, -1, 1), 16000, format="WAV", subtype="PCM_16")
    return sf.read(io.BytesIO(out.getvalue()), dtype="float32")[0]


@pytest.mark.parametrize("rate", [1, 4, 999, 384_001, 100_000_000, 2_000_000_000])
def test_a_header_claiming_an_absurd_sample_rate_is_a_400(rate: int) -> None:
    """Issue 8, class 7: 1-4 Hz and 100 MHz WAVs raised ZeroDivisionError (a 500)."""
    with pytest.raises(InvalidMedia, match=f"sample rate is {rate} Hz") as e:
        audio_clips(wav_claiming(rate), param="p")
    assert e.value.param == "p"
    with pytest.raises(InvalidMedia, match="sample rate"):
        audio_seconds(wav_claiming(rate))


@pytest.mark.parametrize("rate", [1000, 7999, 44101, 384_000])
def test_odd_but_real_sample_rates_are_resampled(rate: int) -> None:
    clips = audio_clips(wav_claiming(rate, frames=rate // 10))
    assert sum(c.seconds for c in clips) == pytest.approx(0.1, abs=1e-3)
    decode(clips[0])


@settings(max_examples=80, deadline=None)
@given(
    rate=st.one_of(st.integers(0, 2**32 - 1), st.integers(900, 400_000)),
    channels=st.integers(1, 1100),
    frames=st.integers(0, 3000),
    bits=st.sampled_from([8, 16, 24, 32]),
)
def test_any_rate_and_channel_count_gives_clips_or_invalid_media(
    rate: int, channels: int, frames: int, bits: int
) -> None:
    """Whatever a WAV header claims, the outcome is 16 kHz mono clips or InvalidMedia."""
    try:
        clips = audio_clips(wav_claiming(rate, channels, frames, bits))
    except InvalidMedia:
        return
    assert MIN_RATE <= rate <= MAX_RATE and channels <= MAX_CHANNELS
    assert sum(c.seconds for c in clips) == pytest.approx(frames / rate, abs=2 / 16000)
    for clip in clips:
        decode(clip)


def test_more_than_64_channels_is_a_400() -> None:
    assert len(audio_clips(wav_claiming(8000, channels=64, frames=800))) == 1
    with pytest.raises(InvalidMedia, match="65 channels; at most 64"):
        audio_clips(wav_claiming(8000, channels=65, frames=800))
