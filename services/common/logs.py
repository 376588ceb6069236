"""structlog JSON logs with one correlation id from HTTP through RPC, events and projections."""

from __future__ import annotations

import logging
import sys
import uuid

import structlog
from structlog.contextvars import bind_contextvars, clear_contextvars, get_contextvars

from services.common.config import settings

CORRELATION_HEADER = "X-Correlation-ID"
_configured = False


def configure(service: str) -> None:
    """Configure structlog (once per process) to write one JSON object per line."""
    global _configured
    level = getattr(logging, settings().log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, stream=sys.stderr, format="%(message)s")
    for noisy in ("amqp", "kombu", "nameko", "eventlet", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if not _configured:
        structlog.configure(
            processors=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(level),
            logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
            cache_logger_on_first_use=True,
        )
        _configured = True
    bind_contextvars(service=service)


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def valid_correlation_id(value: str | None) -> str | None:
    """Accept a caller's correlation id if it is short and printable, else None."""
    if value and len(value) <= 64 and value.isascii() and value.isprintable():
        return value
    return None


def bind_correlation_id(correlation_id: str | None, service: str | None = None) -> str:
    """Bind the id (or a new one) to this thread/greenthread's log context and return it."""
    service = service or get_contextvars().get("service")
    clear_contextvars()
    correlation_id = correlation_id or new_correlation_id()
    bind_contextvars(correlation_id=correlation_id, **({"service": service} if service else {}))
    return correlation_id


def current_correlation_id() -> str | None:
    return get_contextvars().get("correlation_id")


def correlation_id() -> str:
    """The id bound for this worker (nameko's Correlation(): the caller's), or a new one."""
    return current_correlation_id() or new_correlation_id()
