"""Bounded shutdown of a plain process (relay, projectors, saga consumers): on SIGTERM or
SIGINT it stops taking work — ``/ready`` answers 503 at once and the loop ends after the
batch in hand is committed and acked — closes its connections and returns from ``run``,
so ``main`` exits 0. Messages taken from the broker but not yet handled were never acked:
they go back to the queue when the connection closes, so nothing is lost.

Should the last batch hang (a database lock, a broker that does not answer), a watchdog
ends the process after ``SHUTDOWN_SECONDS`` with exit code 1; what it had not committed
comes back the same way (Kubernetes' default grace period, 30 s, is above the default 20 s).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from services.common import health, logs
from services.common.config import settings


def on_terminate(stop: Callable[[], None], process: str) -> None:
    """Call ``stop`` (end the loop) on SIGTERM/SIGINT, and arm the watchdog."""
    bound = settings().shutdown_seconds
    log = logs.get_logger(process)

    def handler(signum: int, _frame: Any) -> None:
        health.stopping()
        stop()
        log.info("shutdown_requested", signal=signal.Signals(signum).name, bound_seconds=bound)
        watchdog = threading.Timer(bound, _force, args=(log, bound))
        watchdog.daemon = True
        watchdog.start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _force(log: Any, bound: float) -> None:
    log.error("shutdown_bound_exceeded", bound_seconds=bound)
    os._exit(1)
