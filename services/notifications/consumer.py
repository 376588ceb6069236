"""The notifications consumer: a plain (non-eventlet) process that turns case events from
``vr.events`` into messages — ``python -m services.notifications.consumer``.

Each event is recorded with its tracking record in one transaction and acked after the
commit; an event seen before (redelivery, replay) records nothing, so nothing is sent twice.
Sending is the notifications service's job (its timer), not this process's.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from services.common import logs, metrics
from services.common.amqp import BatchConsumer, check_broker
from services.common.production import refuse_unsafe_start
from services.notifications.application import NotificationsApp, open_notifications

QUEUE = "notifications.events"


class Consumer:
    def __init__(self, app: NotificationsApp) -> None:
        self.app = app
        self.running = True
        self.log = logs.get_logger("notifications-consumer")

    def stop(self, *_: Any) -> None:
        self.running = False

    def run(self) -> None:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        consumer = None
        self.log.info("consumer_started", queue=QUEUE)
        while self.running:
            try:
                if consumer is None:
                    consumer = BatchConsumer(QUEUE)
                batch = consumer.next_batch(max_size=200, wait=0.2)
                for delivery in batch:
                    body = delivery.body
                    if "_malformed" in body or "aggregate_id" not in body or "event_id" not in body:
                        # never the body itself: an event's data may hold personal data
                        self.log.error("malformed_event_skipped", type=body.get("type"), keys=sorted(body)[:20])
                        continue
                    logs.bind_correlation_id(body.get("correlation_id"))
                    created = self.app.accept(body)
                    metrics.PROJECTION_APPLIED.labels("notifications", "applied" if created else "skipped").inc()
                if batch:
                    consumer.ack_through(batch[-1].delivery_tag)
            except Exception as exc:  # noqa: BLE001 - reconnect and carry on; unacked events come back
                self.log.warning("consumer_retry", error=repr(exc))
                if consumer is not None:
                    consumer.close()
                consumer = None
                time.sleep(1.0)
        if consumer is not None:
            consumer.close()
        self.log.info("consumer_stopped")


def main() -> int:
    refuse_unsafe_start("notifications-consumer")
    logs.configure("notifications-consumer")
    check_broker()
    metrics.serve("notifications-consumer")
    Consumer(open_notifications()).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
