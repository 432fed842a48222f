"""The benchmarks still import what they measure: they run by hand, not in CI, so a
moved or renamed module would otherwise break them unnoticed (issue 9 moved many)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCH.glob("*.py")))
def test_a_benchmark_imports(script: str) -> None:
    """Importing runs no benchmark: each script keeps its work under `__main__`."""
    done = subprocess.run(
        [sys.executable, "-c", f"import {script}"], cwd=BENCH, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
