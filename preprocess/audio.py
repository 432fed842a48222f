"""Audio: its length from the header, and 16 kHz mono WAV clips of at most 30 s.

Everything here is a pure function of the bytes: libsndfile reads them from memory (wav
incl. 24-bit and float, flac, ogg/vorbis, mp3), nothing touches the disk or the network.
The resampler is a windowed-sinc (Kaiser) polyphase FIR written with numpy alone.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import queue
import threading
from collections.abc import Generator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar, cast

import numpy as np
import soundfile as sf
from numpy.lib.stride_tricks import sliding_window_view

from preprocess.errors import InvalidMedia
from preprocess.media import MediaLimits

_READ_SAMPLES = 1 << 19  # samples (frames x channels) decoded per block: 2 MiB of float32
_MAX_PHASES = 2000  # L and M of the rate ratio are kept at or below this (table size bound)
_STOP_DB = 80.0  # stopband attenuation of the anti-aliasing filter
_CUT_SEARCH_S = 1.0  # a cut is placed in the last second before each clip boundary
_CUT_FRAME_S = 0.020  # loudness is measured over 20 ms windows, 10 ms apart
# A header may claim any rate (1 Hz, 2 GHz) and up to 1024 channels; outside these the
# resampler's ratio degenerates (1 Hz) or rounds to zero (100 MHz), and no real recording
# lives there (telephony is 8 kHz, studio masters 384 kHz, surround and ambisonics <= 64).
MIN_RATE, MAX_RATE = 1000, 384_000
MAX_CHANNELS = 64
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Clip:
    """One piece of the audio, ready to send to a model."""

    start_s: float  # where the clip starts in the original
    seconds: float  # its length
    wav: bytes  # 16 kHz mono PCM_16 WAV (or `rate` if another was asked for)


def _info(data: bytes, param: str | None) -> sf._SoundFileInfo:
    """The header of `data` (nothing decoded); InvalidMedia when libsndfile cannot read it."""
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError) as e:
        reason = str(e).rsplit(": ", 1)[-1]  # drop libsndfile's "Error opening <object>"
        raise InvalidMedia(
            f"audio is not a readable wav, flac, ogg or mp3 file ({reason})", param
        ) from None
    if not info.samplerate or info.frames <= 0 or info.channels <= 0:
        raise InvalidMedia("audio has no samples", param)
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise InvalidMedia(
            f"audio says its sample rate is {info.samplerate} Hz; rates from {MIN_RATE} to "
            f"{MAX_RATE} Hz are read: resample it (16000 Hz is what the model hears)",
            param,
        )
    if info.channels > MAX_CHANNELS:
        raise InvalidMedia(
            f"audio has {info.channels} channels; at most {MAX_CHANNELS} are read: "
            "mix it down (the model hears mono)",
            param,
        )
    return info


def audio_seconds(data: bytes, param: str | None = None) -> float:
    """Duration of wav/flac/ogg/mp3 bytes from the header; unreadable audio is InvalidMedia.

    libsndfile reports the true length even when a WAV header claims more data than the
    file holds, so a lying header cannot inflate the estimate.
    """
    info = _info(data, param)
    return float(info.frames) / float(info.samplerate)


def _too_long(seconds: float, max_seconds: float, param: str | None) -> InvalidMedia:
    return InvalidMedia(
        f"audio lasts {seconds:.1f}s, more than the {max_seconds:g}s limit (max_seconds): "
        "send shorter audio",
        param,
    )


def audio_clips(
    data: bytes,
    *,
    clip_seconds: float = 30.0,
    rate: int = 16000,
    max_seconds: float = 600.0,
    param: str | None = None,
) -> list[Clip]:
    """Decode `data`, mix to mono, resample to `rate` and cut into WAV clips (PCM_16).

    The duration is checked from the header before anything is decoded (longer than
    `max_seconds` is InvalidMedia). The file is decoded in blocks of about 2 MiB that are
    mixed, resampled, cut and encoded as they arrive, so memory holds a block or two, the
    clip being filled and the WAV bytes made so far, never the whole decoded source.

    Clips last at most `clip_seconds`. Each cut is placed at the quietest point of the
    second before its boundary (the centre of the 20 ms window, stepped by 10 ms, with the
    lowest RMS; the latest one on ties) so that words are not split; the last clip may be
    shorter. Clips follow each other exactly: each starts where the previous one ended and
    together they cover the whole audio. Samples are clipped to [-1, 1] before encoding.

    Bad input (empty, not audio, truncated beyond use, no samples, too long) raises
    InvalidMedia carrying `param`.
    """
    if clip_seconds <= 0 or rate <= 0 or max_seconds <= 0:
        raise ValueError("clip_seconds, rate and max_seconds must be positive")
    info = _info(data, param)
    src = int(info.samplerate)
    if info.frames / src > max_seconds:
        raise _too_long(info.frames / src, max_seconds, param)
    longest = max(1, int(clip_seconds * rate))
    clips: list[Clip] = []
    pending, start = np.zeros(0, dtype=np.float32), 0  # resampled, not yet in a clip
    blocks = _resampled(data, src, rate, math.floor(max_seconds * src), max_seconds, param)
    with contextlib.closing(blocks):
        for block in blocks:
            pending = np.concatenate((pending, block))
            while pending.size > longest:
                cut = _cut_point(pending[:longest], rate)
                clips.append(Clip(start / rate, cut / rate, _wav(pending[:cut], rate)))
                pending, start = pending[cut:], start + cut
    if pending.size:
        clips.append(Clip(start / rate, pending.size / rate, _wav(pending, rate)))
    if not clips:
        raise InvalidMedia("audio has no samples", param)
    return clips


def cut_clips(data: bytes, limits: MediaLimits) -> list[Clip]:
    """Blocking, for a decoding child (a transcription's file): its length checked from its
    header, then the audio decoded and cut into clips at quiet moments."""
    seconds = audio_seconds(data, "file")
    if seconds > limits.max_audio_seconds:
        raise InvalidMedia(
            f"file: the audio lasts {seconds:.1f}s; the limit is "
            f"{limits.max_audio_seconds:g}s (preprocess.max_audio_seconds): send shorter audio",
            "file",
        )
    return audio_clips(data, clip_seconds=limits.audio_clip_seconds,
                       max_seconds=limits.max_audio_seconds, param="file")  # fmt: skip


def _resampled(
    data: bytes, src: int, rate: int, max_frames: int, max_seconds: float, param: str | None
) -> Generator[np.ndarray, None, None]:
    """The mono float32 signal at `rate`, block by block.

    Decoding runs one block ahead in a worker thread (libsndfile and numpy release the
    GIL), so it overlaps the resampling and encoding done by the caller's thread.
    """
    resampler = Resampler(src, rate)
    with contextlib.closing(_ahead(_decoded(data, src, max_frames, max_seconds, param))) as it:
        for mono in it:
            yield resampler.push(mono)
    yield resampler.flush()


def _decoded(
    data: bytes, src: int, max_frames: int, max_seconds: float, param: str | None
) -> Generator[np.ndarray, None, None]:
    """The mono float32 signal at the source rate, in blocks of about 2 MiB decoded."""
    frames = 0
    try:
        with _open(data) as f:
            channels = f.channels
            block = max(1024, _READ_SAMPLES // channels)
            fix_non_finite = f.subtype in ("FLOAT", "DOUBLE")
            buf = np.empty((block, channels), dtype=np.float32)
            while True:
                got = f.read(block, dtype="float32", always_2d=True, out=buf)
                if len(got) == 0:
                    return
                frames += len(got)
                if frames > max_frames:  # the header understated the length
                    raise _too_long(frames / src, max_seconds, param)
                mono = got[:, 0].copy()  # a strided column sum: far faster than mean/matmul
                for c in range(1, channels):
                    mono += got[:, c]
                if channels > 1:
                    mono *= np.float32(1.0 / channels)
                if fix_non_finite and not np.isfinite(mono).all():
                    mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0)
                yield mono
    except sf.LibsndfileError as e:
        raise InvalidMedia(f"audio could not be decoded ({e.error_string})", param) from None


@contextlib.contextmanager
def _open(data: bytes) -> Generator[sf.SoundFile, None, None]:
    """`data` opened for decoding; from an in-memory file descriptor where Linux has them.

    libsndfile then reads through plain read(2) calls instead of calling back into Python
    for every few KiB (BytesIO), which costs ~15% of an MP3 decode and takes the GIL.
    """
    if not hasattr(os, "memfd_create"):
        with sf.SoundFile(io.BytesIO(data)) as f:
            yield f
        return
    fd = os.memfd_create("gateway-audio", os.MFD_CLOEXEC)
    try:
        with open(fd, "wb", closefd=False) as w:
            w.write(data)
        os.lseek(fd, 0, os.SEEK_SET)
        with sf.SoundFile(fd, closefd=False) as f:
            yield f
    finally:
        os.close(fd)


_END = object()


_Box = queue.Queue[tuple[object, BaseException | None]]


def _offer(box: _Box, stop: threading.Event, item: object, error: BaseException | None) -> bool:
    """Put `item` in the box unless the consumer has stopped; whether it was put."""
    while not stop.is_set():
        try:
            box.put((item, error), timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _produce(items: Generator[Any, None, None], box: _Box, stop: threading.Event) -> None:
    """The worker of `_ahead`: every item, then the end mark (with the error, if one)."""
    try:
        for item in items:
            if not _offer(box, stop, item, None):
                return
        _offer(box, stop, _END, None)
    except BaseException as e:  # handed to the consumer, which re-raises it
        _offer(box, stop, _END, e)
    finally:
        items.close()


def _ahead(items: Generator[T, None, None], depth: int = 1) -> Generator[T, None, None]:
    """`items`, produced by a worker thread at most `depth` items ahead of the consumer.

    The worker's exceptions are raised here; if the consumer stops early (an exception,
    or closing this generator), the worker is told to stop and is joined before returning.
    """
    box: _Box = queue.Queue(maxsize=depth)
    stop = threading.Event()
    worker = threading.Thread(target=_produce, args=(items, box, stop), name="audio-decode",
                              daemon=True)  # fmt: skip
    worker.start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()


def _cut_point(head: np.ndarray, rate: int) -> int:
    """Where to end a clip that may be at most len(head) samples: its quietest point.

    The centre of the 20 ms window (10 ms steps) with the lowest RMS in the last second of
    `head` (the latest of equals); at most half the clip is searched, and a clip too short
    for one window is cut at its end.
    """
    longest = head.size
    frame = max(1, round(_CUT_FRAME_S * rate))
    hop = max(1, frame // 2)
    search = min(round(_CUT_SEARCH_S * rate), longest // 2)
    if search < frame:
        return longest
    seg = head[longest - search :].astype(np.float64)
    energy = np.concatenate(([0.0], np.cumsum(seg * seg)))
    starts = np.arange(0, search - frame + 1, hop)
    power = energy[starts + frame] - energy[starts]
    quietest = len(power) - 1 - int(np.argmin(power[::-1]))  # the latest of equals
    return longest - search + int(starts[quietest]) + frame // 2


def _wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    sf.write(out, np.clip(samples, -1.0, 1.0), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


def _ratio(src: int, dst: int) -> tuple[int, int]:
    """(L, M) with L/M = dst/src, both at most _MAX_PHASES (approximated if need be)."""
    r = Fraction(dst, src)
    if max(r.numerator, r.denominator) > _MAX_PHASES:
        r = (
            r.limit_denominator(_MAX_PHASES)
            if r <= 1
            else 1 / (1 / r).limit_denominator(_MAX_PHASES)
        )
    return r.numerator, r.denominator


def lowpass(up: int, down: int, stop_db: float = _STOP_DB) -> np.ndarray:
    """Kaiser-windowed sinc at the rate upsampled by `up`, gain `up`, odd length.

    The cutoff (-6 dB) is 0.9 x the lower of the two Nyquist frequencies; the transition
    band runs from 0.8 to 1.0 x that Nyquist, so everything that would alias is at least
    `stop_db` down and the band to 0.8 x Nyquist (6.4 kHz at 16 kHz) is flat.
    """
    nyquist = 0.5 / max(up, down)  # in cycles per sample of the upsampled stream
    cutoff, width = 0.9 * nyquist, 0.2 * nyquist
    taps = math.ceil((stop_db - 7.95) / (14.36 * width)) | 1
    beta = 0.1102 * (stop_db - 8.7)
    n = np.arange(taps, dtype=np.float64) - (taps - 1) / 2
    return up * 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(taps, beta)


class Resampler:
    """Streaming rational resampler src -> dst: polyphase FIR, float32, no state but a tail.

    Upsampling by L, filtering with `lowpass` and keeping every M-th sample is computed
    directly: output n is the dot product of K = ceil(taps / L) input samples with one of
    the filter's L phases, so no zero-stuffed signal is ever built. The outputs are taken
    in groups of L' = s*L (s = ceil(K / M)); in a group, output q always uses phase q and an
    input window that moves by M' = s*M >= K samples from group to group, so the windows of
    one phase across groups form a strided matrix BLAS can read in place (row stride >= row
    length): each block costs L' matrix-vector products and exactly K multiply-adds per
    output. The filter's delay is compensated: output n is centred on input n * M / L.
    """

    def __init__(self, src: int, dst: int) -> None:
        self.identity = src == dst
        up, down = _ratio(src, dst)
        self.up, self.down = up, down
        h = lowpass(up, down)
        delay = (len(h) - 1) // 2
        k = math.ceil(len(h) / up)
        s = math.ceil(k / down)
        self.k, self.group, self.step = k, s * up, s * down
        table = np.zeros(up * (k + 1), dtype=np.float64)
        table[: len(h)] = h
        t = np.arange(self.group) * down + delay  # position of each output, upsampled
        base, phase = t // up, t % up
        # row q: the K taps of output q's phase, reversed to match an ascending input window
        idx = phase[:, None] + up * np.arange(k)[::-1][None, :]
        self.taps = table[idx].astype(np.float32)
        self.lo = base - (k - 1)  # first input of each output's window (group 0)
        self.hi = int(base[-1])  # last input group 0 needs
        self.buf = np.zeros(-int(self.lo[0]), dtype=np.float32)  # inputs before 0 are 0
        self.off = int(self.lo[0])  # input index of buf[0]
        self.next_group = 0
        self.seen = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        """Feed input samples; returns the outputs that are now fully determined."""
        x = np.asarray(x, dtype=np.float32)
        self.seen += x.size
        if self.identity:
            return x
        self.buf = np.concatenate((self.buf, x))
        return self._run(self.off + self.buf.size)

    def flush(self) -> np.ndarray:
        """The remaining outputs (input beyond the end counts as silence)."""
        if self.identity:
            return np.zeros(0, dtype=np.float32)
        total = -(-self.seen * self.up // self.down)  # ceil(seen * L / M) outputs in all
        groups = -(-total // self.group)
        end = self.hi + (groups - 1) * self.step + 1  # inputs needed for the last group
        pad = max(0, end - (self.off + self.buf.size))
        self.buf = np.concatenate((self.buf, np.zeros(pad, dtype=np.float32)))
        done = self.next_group * self.group
        return self._run(self.off + self.buf.size)[: max(0, total - done)]

    def _run(self, end: int) -> np.ndarray:
        first = self.next_group
        last = max(first, (end - 1 - self.hi) // self.step + 1)
        n = last - first
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        out = np.empty((self.group, n), dtype=np.float32)
        windows = sliding_window_view(self.buf, self.k)
        for q in range(self.group):
            start = int(self.lo[q]) + first * self.step - self.off
            np.matmul(windows[start : start + n * self.step : self.step], self.taps[q], out=out[q])
        keep = int(self.lo[0]) + last * self.step - self.off
        self.buf = self.buf[keep:]
        self.off += keep
        self.next_group = last
        return out.T.ravel()
