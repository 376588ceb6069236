"""The payments outbox relay process: ``python -m services.payments.relay`` — payment events
from the payments event store to RabbitMQ ``vr.events`` (routing key = type, e.g.
``payment.succeeded.v1``), with publisher confirms, position saved after the confirm."""

from __future__ import annotations

import sys

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.db import ReadStore
from services.common.relay import Relay
from services.payments.application import open_payments
from services.payments.integration import map_notification


def main() -> int:
    logs.configure("payments-relay")
    check_broker()
    metrics.serve("payments-relay")
    Relay(open_payments(), ReadStore("payments"), map_notification, source="payments").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
