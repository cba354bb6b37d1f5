"""Prometheus metrics.

Counters and histograms are process-wide (one wagate process is one scrape target); the
instance gauges are read from the gateway when /metrics is scraped, so they never drift.

For the event sinks: call `delivery_succeeded(sink, seconds)` when a receiver confirmed an
event, `delivery_retrying(sink)` when an attempt failed and was rescheduled, and
`delivery_failed(sink)` when the event was given up on. `sink` is a short, fixed name
("webhook", "rabbitmq", "nats" …), never a URL or an instance name.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from wagate.core.lifecycle import EXTERNAL, LIVE, State

# No `*_created` series: they double the output and nobody reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

# --- lifecycle ---------------------------------------------------------------------------

CONNECTS = Counter(
    "wagate_connects", "Sessions that reached open (an account is connected)", registry=None
)
RECONNECTS = Counter(
    "wagate_reconnects",
    "Sessions started again without a connect from a closed state "
    "(backoff reconnects, restart-required 515, restart)",
    registry=None,
)
CLOSES = Counter(
    "wagate_closes",
    "Live sessions that ended, by close code (401 logged out, 408 QR expired, 428 lost …)",
    ["code"],
    registry=None,
)

# --- events ------------------------------------------------------------------------------

EVENTS_PRODUCED = Counter(
    "wagate_events_produced", "Events published on the in-process bus", ["event"], registry=None
)
EVENTS_DELIVERED = Counter(
    "wagate_events_delivered", "Events a sink's receiver confirmed", ["sink"], registry=None
)
EVENTS_RETRYING = Counter(
    "wagate_events_retrying",
    "Delivery attempts that failed and were rescheduled",
    ["sink"],
    registry=None,
)
EVENTS_FAILED = Counter(
    "wagate_events_failed",
    "Events a sink gave up on (attempts exhausted or rejected for good)",
    ["sink"],
    registry=None,
)
DELIVERY_SECONDS = Histogram(
    "wagate_event_delivery_seconds",
    "From an event's creation to its confirmed delivery",
    ["sink"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    registry=None,
)
STREAM_DROPPED = Counter(
    "wagate_event_stream_dropped",
    "Events not sent to a live stream (Manager, CLI) whose reader fell behind",
    registry=None,
)

# --- message consumers (messaging/consumers.py) ------------------------------------------

CONSUMER_DROPPED = Counter(
    "wagate_consumer_dropped",
    "Messages a consumer never received: its backlog was full and they were the oldest",
    ["consumer"],
    registry=None,
)
CONSUMER_FAILURES = Counter(
    "wagate_consumer_failures",
    "Calls of a consumer's handle that raised",
    ["consumer"],
    registry=None,
)

# --- HTTP --------------------------------------------------------------------------------

HTTP_REQUESTS = Counter(
    "wagate_http_requests",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
    registry=None,
)
HTTP_SECONDS = Histogram(
    "wagate_http_request_duration_seconds",
    "HTTP request handling time by route template",
    ["route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
    registry=None,
)

PROCESS_WIDE: tuple[Collector, ...] = (
    CONNECTS,
    RECONNECTS,
    CLOSES,
    EVENTS_PRODUCED,
    EVENTS_DELIVERED,
    EVENTS_RETRYING,
    EVENTS_FAILED,
    DELIVERY_SECONDS,
    STREAM_DROPPED,
    CONSUMER_DROPPED,
    CONSUMER_FAILURES,
    HTTP_REQUESTS,
    HTTP_SECONDS,
)


def delivery_succeeded(sink: str, seconds: float) -> None:
    """A receiver confirmed an event `seconds` after the event was created."""
    EVENTS_DELIVERED.labels(sink).inc()
    DELIVERY_SECONDS.labels(sink).observe(max(seconds, 0.0))


def delivery_retrying(sink: str) -> None:
    """An attempt failed and the event was rescheduled."""
    EVENTS_RETRYING.labels(sink).inc()


def delivery_failed(sink: str) -> None:
    """The sink gave up on an event."""
    EVENTS_FAILED.labels(sink).inc()


def consumer_dropped(consumer: str, messages: int) -> None:
    """A consumer's full backlog dropped its `messages` oldest messages."""
    CONSUMER_DROPPED.labels(consumer).inc(messages)


def consumer_failed(consumer: str) -> None:
    """A consumer's handle raised."""
    CONSUMER_FAILURES.labels(consumer).inc()


# --- the lifecycle seen through persisted state changes -----------------------------------

_LIVE = frozenset(s.value for s in LIVE)
_RESTARTING = _LIVE | {State.RECONNECTING.value}


class LifecycleMetrics:
    """Counts connects, reconnects and closes from each persisted state change."""

    def __init__(self) -> None:
        self._last: dict[str, str] = {}

    def on_status(self, instance_id: str, state: str, reason: int) -> None:
        """An instance's lifecycle state was persisted (called once per change)."""
        prev = self._last.get(instance_id, State.IDLE.value)
        if prev == state:
            return
        self._last[instance_id] = state
        if state == State.OPEN.value:
            CONNECTS.inc()
        elif state == State.CONNECTING.value and prev in _RESTARTING:
            RECONNECTS.inc()
        if prev in _LIVE and state not in _LIVE:
            CLOSES.labels(str(reason)).inc()

    def forget(self, instance_id: str) -> None:
        self._last.pop(instance_id, None)

    async def on_event(self, envelope: dict[str, Any]) -> None:
        """The bus subscriber: count every event; forget deleted instances."""
        name = envelope["event"]
        EVENTS_PRODUCED.labels(name).inc()
        if name == "instance.delete":
            self.forget(envelope.get("instanceId") or "")


# --- the instance gauges, read at scrape time ---------------------------------------------

InstanceRow = tuple[str, str, str]
"""(instance name, integration, lifecycle state value)."""


class InstancesCollector:
    """`wagate_instances{state}`, `wagate_instances_lifecycle{state}`, and Evolution's
    `evolution_instance_*` gauges, from the gateway's live registry; the per-instance ones
    (`evolution_instance_up`, `evolution_instance_state`) only with `names`."""

    def __init__(
        self,
        rows: Callable[[], Iterable[InstanceRow]],
        info: dict[str, str],
        names: bool = True,
    ) -> None:
        self._rows = rows
        self._info = info
        self._names = names
        """Whether the per-instance gauges (labelled with instance names) are shown."""

    def collect(self) -> Iterator[Metric]:
        rows = list(self._rows())
        external: dict[str, int] = dict.fromkeys(("open", "connecting", "close"), 0)
        rich: dict[str, int] = {s.value: 0 for s in State if s is not State.DELETED}
        up = GaugeMetricFamily(
            "evolution_instance_up",
            "1 if the instance is open",
            labels=["instance", "integration"],
        )
        state_g = GaugeMetricFamily(
            "evolution_instance_state",
            "The instance's connection state (value 1)",
            labels=["instance", "integration", "state"],
        )
        for name, integration, lifecycle in rows:
            ext = EXTERNAL.get(State(lifecycle), "close")
            external[ext] = external.get(ext, 0) + 1
            rich[lifecycle] = rich.get(lifecycle, 0) + 1
            up.add_metric([name, integration], 1.0 if ext == "open" else 0.0)
            state_g.add_metric([name, integration, ext], 1.0)
        by_ext = GaugeMetricFamily(
            "wagate_instances",
            "Instances by connection state (open/connecting/close)",
            labels=["state"],
        )
        for state, n in external.items():
            by_ext.add_metric([state], n)
        by_rich = GaugeMetricFamily(
            "wagate_instances_lifecycle", "Instances by lifecycle state", labels=["state"]
        )
        for state, n in rich.items():
            by_rich.add_metric([state], n)
        total = GaugeMetricFamily("evolution_instances_total", "Instances on this server")
        total.add_metric([], len(rows))
        info = GaugeMetricFamily(
            "evolution_environment_info", "The server", labels=sorted(self._info)
        )
        info.add_metric([self._info[k] for k in sorted(self._info)], 1.0)
        yield from (by_ext, by_rich, total, info)
        if self._names:
            yield from (up, state_g)


class ConsumersCollector:
    """`wagate_consumer_backlog{consumer}`: each message consumer's queued and in-hand
    messages, read at scrape time."""

    def __init__(self, backlogs: Callable[[], Iterable[tuple[str, int]]]) -> None:
        self._backlogs = backlogs

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "wagate_consumer_backlog",
            "Messages a consumer has yet to handle (queued or being handled)",
            labels=["consumer"],
        )
        for name, backlog in self._backlogs():
            gauge.add_metric([name], backlog)
        yield gauge


def build_registry(*collectors: Collector) -> CollectorRegistry:
    """One app's registry: the process-wide metrics plus its own gauges (`collectors`)."""
    registry = CollectorRegistry(auto_describe=False)
    for metric in (*PROCESS_WIDE, PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(metric)
    for collector in collectors:
        registry.register(collector)
    return registry


# --- HTTP requests: a pure ASGI wrapper ---------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UNMATCHED = "<unmatched>"


class HttpMetrics:
    """Counts HTTP requests by route template (never the raw path), method and status, and
    times them. Costs a few microseconds: one closure, two clock reads, one dict lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self._note(scope, status, time.perf_counter() - started)

    def _note(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        key = (template, scope["method"], status)
        children = self._children.get(key)
        if children is None:
            method = key[1] if key[1] in _METHODS else "other"
            children = (
                HTTP_REQUESTS.labels(template, method, str(status)),
                HTTP_SECONDS.labels(template),
            )
            if len(self._children) < 4096:  # bounded even under odd methods/statuses
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
