"""Media decoding in a child process, with a memory budget and a time limit.

FFmpeg, Pillow and libsndfile parse bytes a client chose. In a thread, a decoder that
crashes takes the gateway down, one that allocates gigabytes takes the machine's memory (a
750 KB MP4 declaring 16000x16000 frames made FFmpeg allocate 590 MB just to open it), and
one that never returns holds its worker forever. In a child each of these ends the child:
its request gets a 4xx and everything else goes on. The child's address space is capped
(`preprocess.decode_memory_mb` above what the decoders' libraries take when loaded) and it
is killed after `preprocess.decode_timeout_s`, or as soon as its client hangs up
(`Isolated.cancel`). Its temp files go to a private directory that the parent removes
however the child ended (FFmpeg needs its input as a file: `preprocess.video`).

Children fork from a forkserver that imported the decoders once (PyAV, Pillow, numpy,
libsndfile, pydantic: 0.3 s), so one starts in a few milliseconds. As with any multiprocessing
child, each one imports the main module too: a script that starts a gateway must guard its
main code with `if __name__ == "__main__":` (`python -m gateway` does). The blocking
`run_isolated` is called from the media thread pool, whose size still bounds how many run
at once.
"""

from __future__ import annotations

import multiprocessing
import pickle
import resource
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

from gateway.core.errors import GatewayError
from preprocess.errors import InvalidMedia, MediaTooLarge

T = TypeVar("T")

# What children run, imported once into the forkserver, and nothing of the HTTP stack: a
# child starts from the forkserver's memory (resident at its fork: 64 MiB with gateway.cli
# preloaded, 37 without; `bench_audio.py --e2e`). A child imports the main module too,
# unless it is a package's `__main__` (`python -m gateway`); the `gateway` console
# script's main module imports only `gateway.__main__`, which is kept light.
PRELOAD = ["gateway.core.prepare", "gateway.core.jsonvalues", "preprocess.parts"]

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(PRELOAD)
_RUNNING: set[BaseProcess] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Limits:
    memory_mb: int
    timeout_s: float


def start_forkserver() -> None:
    """Start the forkserver and wait until it can fork (it imports the decoders first, about
    half a second), so the first media request does not pay for it."""
    run_isolated(Limits(memory_mb=64, timeout_s=60), int)


def kill_children() -> None:
    """Kill every decoding child still running. For shutdown, once requests have been
    answered or cancelled: the threads waiting on them are then free at once."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for child in running:
        child.kill()


def run_isolated(limits: Limits, fn: Callable[..., T], *args: Any) -> T:
    """Blocking: `fn(*args)` in a fresh child process; its result, or its exception raised
    here. `fn` and the arguments travel by pickle, so `fn` must be importable by name."""
    return Isolated(limits).run(fn, *args)


class Isolated:
    """One isolated call that the thread waiting for it need not see through: `cancel()`,
    from any thread, kills its child at once (the client hung up) or stops it starting."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._child: BaseProcess | None = None
        self._cancelled = False

    def cancel(self) -> None:
        with self._lock:  # under the lock: `run` never reaps a child while it is killed here
            self._cancelled = True
            if self._child is not None:
                self._child.kill()

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking: as `run_isolated`, in a private temp dir removed however the child ends."""
        with tempfile.TemporaryDirectory(
            prefix="gateway-decode-", ignore_cleanup_errors=True
        ) as tmp:
            ok, value = self._call(tmp, fn, args)
            if ok:
                return cast(T, value)  # what `fn` returned, unpickled: pickle keeps no type
            try:
                raise value
            finally:
                # Held here, the exception would hold its own traceback, so this frame and
                # every caller's (request bodies included) until the cyclic GC runs.
                del value

    def _call(self, tmp: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[bool, Any]:
        with self._lock:
            if self._cancelled:
                raise InvalidMedia("the request was cancelled before its media was decoded")
            receive, send = _CONTEXT.Pipe(duplex=False)
            child = _CONTEXT.Process(
                target=_child, args=(send, self.limits.memory_mb, tmp, fn, args), daemon=True
            )
            child.start()
            self._child = child
        send.close()  # the child holds the other end: its exit is our EOF
        with _RUNNING_LOCK:
            _RUNNING.add(child)
        try:
            return self._receive(receive, child)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(child)
            receive.close()
            with self._lock:
                self._child = None
                if child.is_alive():
                    child.kill()
            child.join()

    def _receive(self, receive: Connection, child: BaseProcess) -> tuple[bool, Any]:
        timeout_s = self.limits.timeout_s
        if not receive.poll(timeout_s):
            raise InvalidMedia(
                f"decoding the media took over {timeout_s:g}s "
                "(preprocess.decode_timeout_s): send shorter or smaller media"
            )
        # The answer is a pickle streamed into the pipe (see `_answer`), read as it comes.
        with open(receive.fileno(), "rb", closefd=False) as answer:
            try:
                ok, value = pickle.load(answer)
            except (EOFError, pickle.UnpicklingError):
                child.join()
                raise _died(child.exitcode) from None
        return cast(tuple[bool, Any], (ok, value))


def _child(
    send: Connection, memory_mb: int, tmp: str, fn: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    _cap_address_space(memory_mb)
    tempfile.tempdir = tmp  # the parent removes it, even when this process is killed
    try:
        result: tuple[bool, Any] = (True, fn(*args))
    except MemoryError:
        result = (False, _too_much_memory(memory_mb))
    except Exception as e:  # noqa: BLE001 - every failure goes back to be raised there
        result = (False, e)
    _answer(send, result)


def _answer(send: Connection, result: tuple[bool, Any]) -> None:
    """`result` pickled straight into the pipe: a large bytes object (a clip, a still) goes
    out as it is, where `Connection.send` would first copy the whole result into one pickle
    (19 MB more at the peak for 10 minutes of clips). A result that cannot be pickled is our
    bug: it is said on stderr and the parent sees a child that ended without answering."""
    with open(send.fileno(), "wb", closefd=False) as out:
        try:
            pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as e:
            print(f"gateway decode child: unpicklable result: {e!r}", file=sys.stderr)


def _died(exitcode: int | None) -> Exception:
    """A child that exited without answering: killed by a signal while decoding (the input's
    doing, or the system's out-of-memory killer, or the gateway stopping), or failed to
    start at all (ours)."""
    if exitcode == -signal.SIGKILL:
        return InvalidMedia(
            "the media decoder was killed (SIGKILL: the system ran out of memory, or the "
            "gateway is stopping); send smaller media"
        )
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        return InvalidMedia(
            f"the media decoder crashed on this input ({name}): the file is malformed; re-encode it"
        )
    return GatewayError(f"the media decoding process exited with code {exitcode} before "
                        "answering; see the gateway's log")  # fmt: skip


def _too_much_memory(memory_mb: int) -> MediaTooLarge:
    return MediaTooLarge(
        f"decoding the media needs more than preprocess.decode_memory_mb ({memory_mb} MiB): "
        "send smaller media"
    )


def _cap_address_space(memory_mb: int) -> None:
    """Cap this process's address space at what it maps now (the loaded libraries) plus the
    budget. Linux only: elsewhere (no /proc, or RLIMIT_AS not enforced, as on macOS) the
    child still isolates crashes and hangs, but its memory is not capped."""
    try:
        with open("/proc/self/statm") as f:
            mapped = int(f.read().split()[0]) * resource.getpagesize()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = mapped + memory_mb * 2**20
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError):
        pass
