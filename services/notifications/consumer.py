"""The notifications consumer: a plain (non-eventlet) process that turns case and payment
events from ``vr.events`` into messages — ``python -m services.notifications.consumer``.

Each event is recorded with its tracking record in one transaction and acked after the
commit; an event seen before (redelivery, replay) records nothing, so nothing is sent twice.
The loop (reconnects, dead letters) is the shared saga consumer's. Sending is the
notifications service's job (its timer), not this process's.
"""

from __future__ import annotations

import sys
from typing import Any

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.db import ReadStore
from services.common.production import refuse_unsafe_start
from services.common.saga import Poison, SagaConsumer
from services.notifications.application import NotificationsApp, open_notifications
from services.notifications.postbox.retries import ABANDONED, forget
from services.notifications.preferences import Preferences

QUEUE = "notifications.events"


def handler(app: NotificationsApp, preferences: Preferences) -> Any:
    def handle(body: dict[str, Any]) -> str:
        if body.get("type") == ABANDONED:  # a postbox item's dead letter, re-driven: try it again
            forget(preferences.store, str(body["data"]["item_id"]))
            return "applied"
        if "aggregate_id" not in body or "event_id" not in body:
            raise Poison("not an integration event")
        created = app.accept(body, preferences)
        metrics.PROJECTION_APPLIED.labels("notifications", "applied" if created else "skipped").inc()
        return "applied" if created else "skipped"

    return handle


def main() -> int:
    refuse_unsafe_start("notifications-consumer")
    logs.configure("notifications-consumer")
    check_broker()
    metrics.serve("notifications-consumer")
    app = open_notifications()
    SagaConsumer(QUEUE, handler(app, Preferences(ReadStore("notifications"))), "notifications-consumer").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
