"""What a running process tells Prometheus (``/metrics`` on the web server): the outbox's
deliveries by status, sends and their outcomes, 429 pauses, how long updates and web requests
take.

One :class:`Metrics` per :class:`bot.app.App`, on a registry of its own (never the library's
global one), so two apps in one process — the tests — count apart. The outbox and the pacers
keep their own plain counts (``OutboxStats.sends``, ``Pacer.pauses``): they are read here at
scrape time, so the core knows nothing of Prometheus. No label ever holds a person's data: a
channel's name, a message kind, an outcome, a route's template (``/{token}``, never the path).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from bot.domain.outbound import DeliveryStatus

CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: a tap is recorded in milliseconds, a file read or a big page takes a second or more.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Sends(Protocol):
    """What the outbox counts: sends by (channel, message kind, outcome)."""

    @property
    def sends(self) -> Mapping[tuple[str, str, str], int]:
        """The count of sends by (channel, kind, outcome)."""
        ...


class Paced(Protocol):
    """A bot's sending budget, as far as its pauses go."""

    @property
    def pauses(self) -> int:
        """How many times the platform's 429 paused it."""
        ...


class _Counted(Collector):
    """The counts the outbox and the pacers keep, as Prometheus counters at scrape time."""

    def __init__(self) -> None:
        self.outboxes: list[Sends] = []
        self.pacers: dict[str, Paced] = {}

    def collect(self) -> Iterator[Metric]:
        """The sends and the pauses so far."""
        sends = CounterMetricFamily(
            "hoinghi_sends",
            "Messages the outbox handed to a channel, by channel, message kind and outcome.",
            labels=("channel", "kind", "outcome"),
        )
        totals: dict[tuple[str, str, str], int] = {}
        for stats in self.outboxes:
            for labels, count in stats.sends.items():
                totals[labels] = totals.get(labels, 0) + count
        for labels, count in sorted(totals.items()):
            sends.add_metric(list(labels), count)
        yield sends
        pauses = CounterMetricFamily(
            "hoinghi_rate_limit_pauses",
            "Times a channel's platform said to wait (HTTP 429, retry_after) and sends paused.",
            labels=("channel",),
        )
        for channel, pacer in sorted(self.pacers.items()):
            pauses.add_metric([channel], pacer.pauses)
        yield pauses

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the families are known at scrape time."""
        return ()


class Metrics:
    """The process's instruments and the registry they are exposed from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._counted = _Counted()
        self.registry.register(self._counted)
        self.deliveries = Gauge(
            "hoinghi_outbox_deliveries",
            "Deliveries in the database by status (counted when scraped).",
            ("status",),
            registry=self.registry,
        )
        self.update_seconds = Histogram(
            "hoinghi_update_seconds",
            "Seconds the core took to handle one inbound update or event, by channel.",
            ("channel",),
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.web_request_seconds = Histogram(
            "hoinghi_web_request_seconds",
            "Seconds the web server took to answer a request, by route template.",
            ("route",),
            buckets=BUCKETS,
            registry=self.registry,
        )

    def watch_outbox(self, stats: Sends) -> None:
        """Expose the sends ``stats`` counts."""
        self._counted.outboxes.append(stats)

    def watch_pacers(self, pacers: Mapping[str, Paced]) -> None:
        """Expose the 429 pauses of each channel's budget."""
        self._counted.pacers.update(pacers)

    def observe_update(self, channel: str, seconds: float) -> None:
        """One inbound update of ``channel`` handled in ``seconds``."""
        self.update_seconds.labels(channel).observe(seconds)

    def observe_request(self, route: str, seconds: float) -> None:
        """One web request on ``route`` (its template) answered in ``seconds``."""
        self.web_request_seconds.labels(route).observe(seconds)

    def exposition(self, deliveries: Mapping[str, int]) -> bytes:
        """The text format, with ``deliveries`` (by status, counted just now) as the gauge;
        every status is written, a missing one as 0."""
        for status in DeliveryStatus:
            self.deliveries.labels(status.value).set(deliveries.get(status.value, 0))
        return generate_latest(self.registry)
