"""``python -m services.handover.consumer`` — a plain process consuming ``handover.cases``
(the decisions ``case.approved.v2``, ``case.rejected.v2``) and offering each decided case to
its authority's back office.

Idempotent like the saga consumers (:mod:`services.common.saga`): the hand-over stream's id
is derived from the case id, so the one ``Offered`` event is the tracking record — written
in the same transaction as the effect, because it *is* the effect. A redelivered or replayed
decision conflicts on save and records nothing; a message that can never be handled goes to
``handover.cases.dead``.
"""

from __future__ import annotations

import sys
from typing import Any

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.saga import Handler, Poison, SagaConsumer
from services.handover.application import OUTCOMES, HandoverApp, open_handover

QUEUE = "handover.cases"


def decision_handler(app: HandoverApp) -> Handler:
    def handle(envelope: dict[str, Any]) -> str:
        outcome = OUTCOMES.get(envelope["type"])
        if outcome is None:
            raise Poison(f"unexpected event type {envelope['type']}")
        correlation_id = envelope.get("correlation_id") or logs.new_correlation_id()
        return app.offer(envelope["aggregate_id"], envelope["tenant"], envelope["service_id"], outcome,
                         envelope["occurred_at"], correlation_id)

    return handle


def main() -> int:
    logs.configure("handover-consumer")
    check_broker()
    metrics.serve("handover-consumer")
    SagaConsumer(QUEUE, decision_handler(open_handover()), "handover-consumer").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
