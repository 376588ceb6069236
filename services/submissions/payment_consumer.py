"""The submissions side of the payment saga: ``python -m services.submissions.payment_consumer``
— a plain process consuming ``submissions.payments`` (``payment.succeeded.v1``).

The one success per case that settles it (``settles_case``) records ``PaymentReceived`` on the
case with the Kassenzeichen as payment reference; the clerk can start the review then. The
case's own state makes it exactly once: a redelivered or duplicated success finds the case
paid already and changes nothing; a concurrent change conflicts on save and is retried by
redelivery. Other successes (late ones the payments service refunds) are not the case's.
"""

from __future__ import annotations

import sys
from typing import Any

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.saga import Handler, Poison, SagaConsumer
from services.submissions.application import SubmissionsApp
from services.submissions.partitioning import CaseStore, open_case_store

QUEUE = "submissions.payments"


def payment_handler(app: SubmissionsApp | CaseStore) -> Handler:
    def handle(envelope: dict[str, Any]) -> str:
        if envelope["type"] != "payment.succeeded.v1":
            raise Poison(f"unexpected event type {envelope['type']}")
        data = envelope["data"]
        if not data["settles_case"]:
            return "not_settling"
        correlation_id = envelope.get("correlation_id") or logs.new_correlation_id()
        return app.record_fee_paid(data["case_id"], int(data["amount_cents"]), data["kassenzeichen"], correlation_id)

    return handle


def main() -> int:
    logs.configure("submissions-payments")
    check_broker()
    metrics.serve("submissions-payments")
    SagaConsumer(QUEUE, payment_handler(open_case_store()), "submissions-payments").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
