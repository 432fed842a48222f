"""`GET /metrics` in the Prometheus text format (version 0.0.4).

A few counters and histograms kept in dicts, written as text at scrape time; gauges
(requests in flight, backend health, models) are read from live state when scraped, so
they can never drift. No client library: the format is a few lines of text, and the
gateway has one process.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

Labels = tuple[str, ...]
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _labels(names: Labels, values: Labels, extra: str = "") -> str:
    """`{a="1",b="2"}` with values escaped as the format requires.

    >>> _labels(("model", "le"), ('say "hi"\\n', "0.5"))
    '{model="say \\\\"hi\\\\"\\\\n",le="0.5"}'
    """
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


@dataclass
class Counter:
    name: str
    help: str
    labels: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, *label_values: str, by: float = 1.0) -> None:
        self.values[label_values] = self.values.get(label_values, 0.0) + by

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for values, total in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.labels, values)} {_number(total)}"


@dataclass
class Histogram:
    name: str
    help: str
    labels: Labels = ()
    buckets: tuple[float, ...] = SECONDS
    _counts: dict[Labels, list[int]] = field(default_factory=dict)
    _sums: dict[Labels, float] = field(default_factory=dict)

    def observe(self, value: float, *label_values: str) -> None:
        counts = self._counts.get(label_values)
        if counts is None:
            counts = self._counts[label_values] = [0] * (len(self.buckets) + 1)
        counts[bisect.bisect_left(self.buckets, value)] += 1  # the first bucket with le >= v
        self._sums[label_values] = self._sums.get(label_values, 0.0) + value

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for values, counts in sorted(self._counts.items()):
            running = 0
            bounds = [*(repr(float(b)) for b in self.buckets), "+Inf"]  # le="1.0", as clients write
            for bound, count in zip(bounds, counts, strict=True):
                running += count
                le = _labels(self.labels, values, f'le="{bound}"')
                yield f"{self.name}_bucket{le} {running}"
            yield f"{self.name}_sum{_labels(self.labels, values)} {self._sums[values]!r}"
            yield f"{self.name}_count{_labels(self.labels, values)} {running}"


@dataclass(frozen=True)
class Gauge:
    """A value read from live state at scrape time: (label values, value) pairs."""

    name: str
    help: str
    labels: Labels
    samples: Iterable[tuple[Labels, float]]

    def render(self) -> Iterator[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        for values, value in self.samples:
            yield f"{self.name}{_labels(self.labels, values)} {_number(value)}"


class Metrics:
    """What the gateway counts as it serves; one instance per app."""

    def __init__(self) -> None:
        self.http_requests = Counter(
            "gateway_http_requests_total", "HTTP requests answered, by route and status.",
            ("method", "path", "status"),
        )  # fmt: skip
        self.http_seconds = Histogram(
            "gateway_http_request_duration_seconds",
            "Time from request to the end of the response (a stream's last byte).",
            ("path",),
        )
        self.routed = Counter(
            "gateway_chat_answered_total",
            "Chats a backend started answering, by model, backend and route reason.",
            ("model", "backend", "reason"),
        )
        self.backend_failures = Counter(
            "gateway_backend_failures_total",
            "Backend failures before the first byte (each may fail over), by error code.",
            ("backend", "code"),
        )
        self.media_seconds = Histogram(
            "gateway_media_prepare_seconds",
            "Time to turn one request's media into what backends take (stills, clips, images).",
        )
        self.client_cut_off = Counter(
            "gateway_client_cut_off_total",
            "Connections closed because the client took none of its answer for "
            "server.client_write_timeout_s, by what it left unread (stream, response).",
            ("what",),
        )

    def render(self, gauges: Iterable[Gauge]) -> str:
        families: list[Counter | Histogram | Gauge]
        families = [self.http_requests, self.http_seconds, self.routed, self.backend_failures,
                    self.media_seconds, self.client_cut_off, *gauges]  # fmt: skip
        return "\n".join(line for f in families for line in f.render()) + "\n"
