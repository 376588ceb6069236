"""Prometheus metrics: every process exposes /metrics on its own port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from services.common.config import settings
from services.common.logs import get_logger

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
RELAY_POSITION = Gauge("vr_relay_position", "Last notification id confirmed by the broker", ["source"])
PROJECTION_LAG = Gauge(
    "vr_projection_lag_events", "Events behind the head of the event store", ["projection"]
)
PROJECTION_APPLIED = Counter(
    "vr_projection_events_total", "Events applied by a projection", ["projection", "result"]
)
BATCH_SIZE = Histogram(
    "vr_batch_size",
    "Commands carried per group-commit batch",
    ["stage"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)

MESSAGES_ATTEMPTED = Counter(
    "vr_notifications_attempts_total", "Delivery attempts of messages by outcome state", ["channel", "status"]
)
MESSAGES_PENDING = Gauge("vr_notifications_pending", "Undelivered messages by state", ["status"])
MESSAGES_DEFERRED = Counter(
    "vr_notifications_deferred_total", "Messages held back by the per-recipient rate limit (sent later)"
)
OLDEST_PENDING = Gauge("vr_notifications_oldest_pending_seconds", "Age of the oldest undelivered message")

_started: set[int] = set()


def serve(process: str) -> int | None:
    """Start the /metrics HTTP endpoint once per process (its port from the config).

    ``METRICS_PORT=0`` switches it off (tests start many containers in one process).
    """
    current = settings()
    port = current.metrics_port_for(process)
    if port == 0 or port in _started:
        return None
    try:
        start_http_server(port, addr=current.metrics_addr)
    except OSError as exc:
        get_logger(__name__).warning("metrics_port_unavailable", port=port, error=str(exc))
        return None
    _started.add(port)
    return port
