"""Running the gateway as a process: serve until a signal, pid file, detach, stop.

The pid file is JSON `{"pid", "url"}` and is written once the socket is bound, so `--port 0`
works and `gateway status`/`down` find the real URL. It is written for foreground runs too,
so `gateway down` stops a gateway started by hand as well as a detached one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from gateway.config import GatewayConfig
from gateway.server import create_app

log = logging.getLogger("gateway")

DETACH_READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 90.0
SHUTDOWN_GRACE_S = 60.0  # in-flight requests get this long to finish on stop


def state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "gemma-gateway"


def pid_file(config: GatewayConfig) -> Path:
    return Path(config.server.pid_file) if config.server.pid_file else state_dir() / "gateway.pid"


@dataclass(frozen=True)
class Running:
    pid: int
    url: str


def read_pid_file(path: Path) -> Running | None:
    """The gateway recorded at `path`, if that process still exists."""
    try:
        data = json.loads(path.read_text())
        running = Running(int(data["pid"]), str(data["url"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return running if _alive(running.pid) else None


async def serve(config: GatewayConfig, embedded: bool) -> None:
    """Serve until SIGTERM/SIGINT, then drain in-flight requests and clean up."""
    embedded_log = state_dir() / "embedded.log" if embedded else None
    runner = web.AppRunner(
        create_app(config, embedded_log),
        handler_cancellation=True,
        shutdown_timeout=SHUTDOWN_GRACE_S,
        access_log=None,
    )
    await runner.setup()
    path = pid_file(config)
    try:
        site = web.TCPSite(runner, config.server.host, config.server.port)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": os.getpid(), "url": url}))
        if config.server.log_format == "json":  # no plain line among the JSON ones
            log.info("listening on %s", url, extra={"url": url})
        else:
            print(f"gateway listening on {url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("stopping: draining in-flight requests (up to %gs)", SHUTDOWN_GRACE_S)
    finally:
        await runner.cleanup()
        _remove_if_ours(path)


def _remove_if_ours(path: Path) -> None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if json.loads(path.read_text())["pid"] == os.getpid():
            path.unlink()


def detach(argv: list[str], config: GatewayConfig) -> int:
    """Start `gateway up` in a new session; return once it answers /readyz (any status)."""
    path = pid_file(config)
    if (running := read_pid_file(path)) is not None:
        print(f"gateway already running at {running.url} (pid {running.pid})", file=sys.stderr)
        return 1
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    log_path = state_dir() / "gateway.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "gateway", *argv],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + DETACH_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            print(f"gateway exited with code {child.returncode}; log: {log_path}", file=sys.stderr)
            print(_tail(log_path), file=sys.stderr)
            return 1
        running = read_pid_file(path)
        if running is not None and (status := probe(running.url + "/readyz")) is not None:
            state = "ready" if status == 200 else "started, not ready yet (see `gateway status`)"
            print(f"gateway {state} at {running.url} (pid {child.pid}; log: {log_path})")
            return 0
        time.sleep(0.2)
    print(f"gateway did not answer within {DETACH_READY_TIMEOUT_S:g}s; log: {log_path}")
    return 1


def stop(config: GatewayConfig) -> int:
    """SIGTERM the recorded gateway and wait until it has drained and exited."""
    path = pid_file(config)
    running = read_pid_file(path)
    if running is None:
        print("gateway is not running")
        return 0
    os.kill(running.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        if not _alive(running.pid):  # the pid file goes first, the process a little later
            print(f"gateway (pid {running.pid}) stopped")
            return 0
        time.sleep(0.1)
    print(f"gateway (pid {running.pid}) did not stop within {STOP_TIMEOUT_S:g}s", file=sys.stderr)
    return 1


def _alive(pid: int) -> bool:
    """Whether `pid` still runs. A zombie counts as gone: once a detached gateway's parent
    has exited, whoever inherits it (PID 1 in a container) may never reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        return done == 0
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def probe(url: str, timeout: float = 2.0) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, ValueError):
        return None


def _tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""
