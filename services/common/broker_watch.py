"""The broker watchdog of a nameko service: check its own idle RabbitMQ connection every
``BROKER_WATCH_INTERVAL`` seconds; while it cannot be reached, say so (the gateway answers 503 at once instead of
waiting on an RPC that cannot be sent); once it is back after an outage, exit with
:data:`RESTART_CODE` so the supervisor (deploy/run.py) starts the process afresh.

Why exit rather than reconnect: nameko 2's RPC reply listener did not always come back after
an outage of more than a few seconds (requests hung for good), and a fresh process is the one
recovery that is sure. Nothing is lost: RPC and event messages a worker had not acknowledged
go back to their queues, and every consumer is idempotent. Plain processes (relays, sagas,
projector) reconnect in their own loops and need no watchdog.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from services.common import logs

#: EX_TEMPFAIL: "try again" — the supervisor restarts the process.
RESTART_CODE = 75
#: Heartbeat of the watch's own connection: a broker that vanished silently is noticed too.
HEARTBEAT_S = 10


class BrokerWatch:
    """Whether the broker is reachable, as last probed (``down_since`` is None while it is)."""

    def __init__(self) -> None:
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def retry_after(self) -> int:
        """Seconds a caller should wait before trying again (for Retry-After)."""
        return 5

    @staticmethod
    def open(uri: str) -> Any:
        from services.common.amqp import connect

        return connect(uri, heartbeat=HEARTBEAT_S, connect_timeout=2)

    @staticmethod
    def alive(conn: Any) -> None:
        """Raise if the connection is gone: the broker's close frame (it shuts down), a closed
        socket, or missed heartbeats (a silent network)."""
        with contextlib.suppress(TimeoutError):  # nothing from the broker: as it should be
            conn.drain_events(timeout=0.05)
        conn.heartbeat_tick()

    def run(self, service: str, uri: str, interval: float, exit: Callable[[int], None] = os._exit,
            sleep: Callable[[float], None] = time.sleep) -> None:
        """The watch loop (a green thread of the service, started by services.common.launch):
        one idle connection of its own, checked every ``interval`` seconds — no connection churn
        on the broker — and, while the broker is away, an attempt to connect each time."""
        log = logs.get_logger(service)
        conn = None
        while True:
            try:
                if conn is None:
                    conn = self.open(uri)
                    if self.down_since is not None:
                        log.warning("broker_back_restarting", service=service,
                                    outage_s=round(time.monotonic() - self.down_since, 1), exit_code=RESTART_CODE)
                        sys.stderr.flush()
                        exit(RESTART_CODE)
                        return
                self.alive(conn)
            except Exception:  # noqa: BLE001 - whatever broke, the broker is not reachable now
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    log.warning("broker_unreachable", service=service)
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
            sleep(interval)


#: The one watch of this process (read by the gateway's endpoints).
WATCH = BrokerWatch()
