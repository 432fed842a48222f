"""The benchmarks still import what they measure: they run by hand, not in CI, so a
moved or renamed module would otherwise break them unnoticed (issue 9 moved many)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.chart import added_p50, draw
from bench.suite import BEGIN, END, put_part

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


@pytest.mark.parametrize("script", sorted(p.stem for p in BENCH.glob("*.py")))
def test_a_benchmark_imports(script: str) -> None:
    """Importing runs no benchmark: each script keeps its work under `__main__`. The repo
    root is on the path as under `python -m bench`, which imports `bench.chart`."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", f"import {script}"], cwd=BENCH, capture_output=True, text=True,
        timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


def _cells(p50s: dict[str, list[float]]) -> dict[tuple[str, bool, int], dict[str, Any]]:
    """Cells as loadgen.py reports them: time to first token a tenth of the total."""
    return {
        (name, stream, c): {"total": {"p50": v}, "ttft": {"p50": v / 10}}
        for name, values in p50s.items()
        for c, v in zip((1, 16), values, strict=True)
        for stream in (False, True)
    }


def test_the_chart_shows_each_proxy_over_direct_per_concurrency() -> None:
    cells = _cells({"direct": [1.0, 10.0], "bare": [2.0, 30.0], "gateway": [4.0, 50.0]})
    panels = added_p50(cells, ["direct", "bare", "gateway"], [1, 16])
    assert panels == {
        "non-streamed: added p50 latency": {"bare": [1.0, 20.0], "gateway": [3.0, 40.0]},
        "streamed: added p50 time to first token": {
            "bare": pytest.approx([0.1, 2.0]),
            "gateway": pytest.approx([0.3, 4.0]),
        },
    }


def test_the_chart_is_a_small_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the `bench` extra is not installed")
    cells = _cells({"direct": [1.0, 10.0], "gateway": [4.0, 50.0], "LiteLLM": [9.0, 90.0]})
    path = tmp_path / "chart.png"
    assert draw(added_p50(cells, ["direct", "gateway", "LiteLLM"], [1, 16]), [1, 16], path) == ""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size < 80_000


def test_one_part_of_the_page_is_rewritten_and_a_new_one_added_after_the_others() -> None:
    page = (f"# B\n{BEGIN}\nhead\n<!-- bench:a -->old a<!-- bench:a end -->\n"
            f"<!-- bench:b -->b<!-- bench:b end -->\nWhole run: 9 min.\n{END}\nrest\n")  # fmt: skip
    run = "x\n<!-- bench:a -->new a<!-- bench:a end -->\n<!-- bench:c -->c<!-- bench:c end -->"
    page = put_part(put_part(page, run, "a"), run, "c")
    assert page == (
        f"# B\n{BEGIN}\nhead\n<!-- bench:a -->new a<!-- bench:a end -->\n"
        "<!-- bench:b -->b<!-- bench:b end -->\n<!-- bench:c -->c<!-- bench:c end -->\n"
        f"Whole run: 9 min.\n{END}\nrest\n"
    )
