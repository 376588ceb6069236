"""The payments outbox relay process: ``python -m services.payments.relay`` — payment events
from the payments event store to RabbitMQ ``vr.events`` (routing key = type, e.g.
``payment.succeeded.v1``), with publisher confirms, position saved after the confirm
(services/common/relay.py)."""

from __future__ import annotations

import sys

from services.common.relay import main
from services.payments.application import open_payments
from services.payments.integration import map_notification

if __name__ == "__main__":
    sys.exit(main("payments-relay", open_payments, "payments", map_notification))
