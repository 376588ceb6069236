"""The broker watchdog of a nameko service: probe RabbitMQ every ``BROKER_WATCH_INTERVAL``
seconds; while it cannot be reached, say so (the gateway answers 503 at once instead of
waiting on an RPC that cannot be sent); once it is back after an outage, exit with
:data:`RESTART_CODE` so the supervisor (deploy/run.py) starts the process afresh.

Why exit rather than reconnect: nameko 2's RPC reply listener did not always come back after
an outage of more than a few seconds (requests hung for good), and a fresh process is the one
recovery that is sure. Nothing is lost: RPC and event messages a worker had not acknowledged
go back to their queues, and every consumer is idempotent. Plain processes (relays, sagas,
projector) reconnect in their own loops and need no watchdog.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from services.common import logs

#: EX_TEMPFAIL: "try again" — the supervisor restarts the process.
RESTART_CODE = 75


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

    def probe(self, uri: str) -> bool:
        from services.common.amqp import connect

        try:
            connect(uri, connect_timeout=2).close()
            return True
        except Exception:  # noqa: BLE001 - any failure to connect means: not reachable
            return False

    def run(self, service: str, uri: str, interval: float, exit: Callable[[int], None] = os._exit,
            sleep: Callable[[float], None] = time.sleep) -> None:
        """The watch loop (a green thread of the service, started by services.common.launch)."""
        log = logs.get_logger(service)
        while True:
            reachable = self.probe(uri)
            if not reachable and self.down_since is None:
                self.down_since = time.monotonic()
                log.warning("broker_unreachable", service=service)
            elif reachable and self.down_since is not None:
                log.warning("broker_back_restarting", service=service,
                            outage_s=round(time.monotonic() - self.down_since, 1), exit_code=RESTART_CODE)
                sys.stderr.flush()
                exit(RESTART_CODE)
                return
            sleep(interval)


#: The one watch of this process (read by the gateway's endpoints).
WATCH = BrokerWatch()
