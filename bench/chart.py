"""The chart `python -m bench` writes: each proxy's added p50 latency per concurrency (not a test).

Two panels side by side, non-streamed (p50 to the answer's last byte) and streamed (p50 time
to first token), each a group of bars per concurrency with one bar per proxy, labelled with
its value, on a symmetric log axis (linear within 1 ms of zero, where noise can make the
floor's added latency negative): the proxies differ by orders of magnitude. Drawn with
matplotlib's Agg backend (no display); the PNG stays small (about 30 KB).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# (path, streamed, concurrency) -> loadgen.py's JSON result for that cell
Cells = dict[tuple[str, bool, int], dict[str, Any]]
# panel title -> proxy -> added p50 ms, one per concurrency
Panels = dict[str, dict[str, list[float]]]

BASE = "direct"
PANELS = (
    (False, "total", "non-streamed: added p50 latency"),
    (True, "ttft", "streamed: added p50 time to first token"),
)


def added_p50(cells: Cells, names: list[str], concurrencies: list[int]) -> Panels:
    """Each proxy's p50 minus the direct path's at the same concurrency, per panel."""
    panels: Panels = {}
    for stream, key, title in PANELS:
        base = {c: cells[(BASE, stream, c)][key]["p50"] for c in concurrencies}
        panels[title] = {
            n: [cells[(n, stream, c)][key]["p50"] - base[c] for c in concurrencies]
            for n in names
            if n != BASE
        }
    return panels


def draw(panels: Panels, concurrencies: list[int], path: Path) -> str:
    """Write the chart to `path`; '' when written, else why not (matplotlib missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        return f"matplotlib is not importable ({e}): pip install -e .[bench]"
    fig, axes = plt.subplots(1, len(panels), figsize=(10, 3.6), squeeze=False)
    for ax, (title, series) in zip(axes[0], panels.items(), strict=True):
        width = 0.8 / max(len(series), 1)
        for i, (name, ys) in enumerate(series.items()):
            xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(concurrencies))]
            bars = ax.bar(xs, ys, width, label=name)
            ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=1)
        ax.set_xticks(range(len(concurrencies)), [str(c) for c in concurrencies])
        ax.set_xlabel("requests in flight")
        ax.set_yscale("symlog", linthresh=1)
        ax.margins(y=0.12)  # room for the tallest bar's label
        ax.set_ylabel("ms over direct (log)")
        ax.set_title(title, fontsize=10)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return ""
