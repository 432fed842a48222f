"""Run Python where the only network is a loopback: a namespace of its own (`unshare -n`).

For tests whose failure would make the gateway connect to an address it must not reach:
inside, nothing can leave the machine whatever the code under test does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_isolated_network(code: str, timeout_s: float = 60) -> str:
    """Run `code` with `python -c` in a new network namespace with only `lo` (up); its
    stdout. Skips only when `unshare` is missing; any other failure fails the test."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("needs unshare(1) and ip(8) (util-linux, iproute2) for a network namespace")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    script = 'ip link set lo up && exec "$0" -c "$1"'
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", script, sys.executable, code],
        capture_output=True, text=True, timeout=timeout_s, env=env, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stderr[-3000:]}"
    return done.stdout
