"""Prometheus metrics of one daemon, in a registry of its own (several daemons can share a process in tests).

Counters the daemon bumps (rounds, deltas by outcome, step time) live here; counts kept elsewhere (gossip
checks by result, IPFS bytes up and down) are read when scraped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

DELTA_OUTCOMES = ("submitted", "verified", "rejected", "merged")


class _Read(Collector):
    """Counters whose values are read from elsewhere at scrape time."""

    def __init__(self) -> None:
        self.sources: list[tuple[str, str, str, Callable[[], dict[str, float]]]] = []

    def collect(self) -> Iterator[CounterMetricFamily]:
        for name, doc, label, read in self.sources:
            family = CounterMetricFamily(name, doc, labels=[label] if label else [])
            for key, value in read().items():
                family.add_metric([key] if label else [], value)
            yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.rounds = Counter("paris_rounds", "Rounds trained (miner), checked (validator) or merged (aggregator)",
                              registry=self.registry)
        self.deltas = Counter("paris_deltas", "Deltas by outcome", ["outcome"], registry=self.registry)
        for outcome in DELTA_OUTCOMES:
            self.deltas.labels(outcome)
        self.step_seconds = Histogram("paris_step_seconds", "Wall time of one training step (or replayed step)",
                                      buckets=(0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30), registry=self.registry)
        self._read = _Read()
        self.registry.register(self._read)

    def read(self, name: str, doc: str, label: str, source: Callable[[], dict[str, float]]) -> None:
        """Expose counts kept elsewhere as the counter `name` (one sample per key, labelled `label`)."""
        self._read.sources.append((name, doc, label, source))

    def text(self) -> bytes:
        return generate_latest(self.registry)
