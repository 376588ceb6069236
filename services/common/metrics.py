"""Prometheus metrics: every process exposes /metrics on its own port."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics, make_wsgi_app

from services.common.config import settings
from services.common.logs import get_logger

# no `<name>_created` series beside every counter and histogram: only names of contracts/metrics.yaml
disable_created_metrics()

ENTRYPOINT_LATENCY = Histogram(
    "vr_entrypoint_seconds",
    "Latency of nameko entrypoints (RPC, HTTP, event handlers)",
    ["service", "entrypoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ENTRYPOINT_ERRORS = Counter(
    "vr_entrypoint_errors_total", "Entrypoint calls that raised", ["service", "entrypoint", "error"]
)
HTTP_REQUESTS = Histogram(
    "vr_http_request_seconds",
    "Gateway HTTP request latency",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_RELAYED = Counter("vr_events_relayed_total", "Integration events published", ["source"])
RELAY_POSITION = Gauge(
    "vr_relay_position_events", "Last notification id (events of the store) confirmed by the broker", ["source"]
)
RELAY_LAG = Gauge("vr_relay_lag_events", "Events in the store the relay has not published yet", ["source"])
PROJECTION_LAG = Gauge(
    "vr_projection_lag_events", "Events behind the head of the event store", ["projection"]
)
PROJECTION_LAG_SECONDS = Gauge(
    "vr_projection_lag_seconds", "Seconds since the projection was last caught up (0 while it is)", ["projection"]
)
PROJECTION_APPLIED = Counter(
    "vr_projection_events_total", "Events applied by a projection", ["projection", "result"]
)
BATCH_SIZE = Histogram(
    "vr_batch_size_messages",
    "Commands carried per group-commit batch",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

MESSAGES_ATTEMPTED = Counter(
    "vr_notifications_attempts_total", "Delivery attempts of messages by outcome state", ["channel", "status"]
)
MESSAGES_PENDING = Gauge("vr_notifications_pending_messages", "Undelivered messages by state", ["status"])
MESSAGES_DEFERRED = Counter(
    "vr_notifications_deferred_total", "Messages held back by the per-recipient rate limit (sent later)"
)
OLDEST_PENDING = Gauge("vr_notifications_oldest_pending_seconds", "Age of the oldest undelivered message")

# usage per tenant (bounded: the catalog's tenants × a few event kinds) until the KPI projection exists
CASE_EVENTS = Counter(
    "vr_case_events_total", "Case events first delivered to the projector, by tenant and kind (submitted, approved …)",
    ["tenant", "event"],
)

# RabbitMQ, for every consumer queue (services.common.amqp): what comes back, what is parked
REDELIVERIES = Counter(
    "vr_amqp_redeliveries_total", "Messages delivered again (not acked before a reconnect)", ["queue"]
)
DEAD_LETTERS = Counter("vr_dead_letters_total", "Messages parked in the queue's dead-letter queue", ["queue"])
QUEUE_DEPTH = Gauge(
    "vr_queue_depth_messages", "Messages ready in a consumer queue or its dead-letter queue (seen by the relay)",
    ["queue"],
)
DB_CONNECTIONS = Gauge(
    "vr_db_connections", "Read-store connections of this process by state (in_use, idle)", ["service", "state"]
)

DISK_AVAILABLE = Gauge("vr_disk_available_bytes", "Free bytes on the volume of the process's files", ["volume"])
DISK_SIZE = Gauge("vr_disk_size_bytes", "Size of the volume of the process's files", ["volume"])

_started: set[int] = set()
_caught_up: dict[str, float] = {}


def observe_projection(projection: str, head: int, position: int) -> None:
    """Set a projection's lag in events and in seconds: the time since it was last caught up
    with the head of its event store (a stuck projection's number grows, a busy one's stays small)."""
    lag = max(head - position, 0)
    now = time.monotonic()
    if lag == 0 or projection not in _caught_up:
        _caught_up[projection] = now
    PROJECTION_LAG.labels(projection).set(lag)
    PROJECTION_LAG_SECONDS.labels(projection).set(now - _caught_up[projection] if lag else 0.0)


def serve(process: str) -> int | None:
    """Start the /metrics HTTP endpoint once per process (its port from the config), with
    ``/live`` and ``/ready`` (:mod:`services.common.health`) beside it.

    ``METRICS_PORT=0`` switches it off (tests start many containers in one process).
    """
    current = settings()
    port = current.metrics_port_for(process)
    if port == 0 or port in _started:
        return None
    try:
        from services.common import health

        health.start(process, port, current.metrics_addr, make_wsgi_app())
    except OSError as exc:
        get_logger(__name__).warning("metrics_port_unavailable", port=port, error=str(exc))
        return None
    _started.add(port)
    watch_disk("var", current.var_dir)
    return port


def watch_disk(volume: str, path: Path) -> None:
    """Report the free and total bytes of ``path``'s volume at every scrape (the disk alert)."""
    def usage() -> Any:
        return shutil.disk_usage(path if path.exists() else Path.cwd())

    DISK_AVAILABLE.labels(volume).set_function(lambda: usage().free)
    DISK_SIZE.labels(volume).set_function(lambda: usage().total)
