"""The payments side of the case saga: ``python -m services.payments.saga`` — a plain process
consuming ``payments.saga`` (see :data:`services.common.amqp.QUEUES`).

* ``case.submitted`` with a fee > 0: the case's receivable is opened (with its Kassenzeichen).
  The submissions service opens such a case in ``payment_pending`` in the same save as
  ``Submitted`` (``PaymentRequested``), so "submitted with a fee" is "payment requested";
  the submitted event is the one that carries what the receivable needs (reference, form
  version, applicant).
* ``case.approved|rejected|withdrawn``: ``close_case`` — no further payment; a paid fee is
  refunded as the fee's rule pinned from the catalog says.

Both commands are idempotent through the receivable (one per case, closed once), so a
redelivered event changes nothing; what can never succeed goes to ``payments.saga.dead``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.saga import Handler, Poison, SagaConsumer
from services.payments.application import PaymentsApp, open_payments

QUEUE = "payments.saga"
CLOSING = {"case.approved.v2": "approved", "case.rejected.v2": "rejected", "case.withdrawn.v2": "withdrawn"}
RefundRule = Callable[[str, int], dict[str, Any]]


def saga_handler(app: PaymentsApp, refund_rule: RefundRule) -> Handler:
    """``refund_rule(service_id, form_version)``: the fee's ``refund_on`` of that definition."""

    def handle(envelope: dict[str, Any]) -> str:
        kind, data = envelope["type"], envelope["data"]
        correlation_id = envelope.get("correlation_id") or logs.new_correlation_id()
        case_id = envelope["aggregate_id"]
        if kind == "case.submitted.v1":
            if int(data["fee_cents"]) <= 0:
                return "no_fee"
            app.request_payment(
                case_id=case_id, tenant=envelope["tenant"], service_id=envelope["service_id"],
                case_reference=data["reference"], amount_cents=int(data["fee_cents"]), fee_version=int(data["form_version"]),
                refund_rule=refund_rule(envelope["service_id"], int(data["form_version"])),
                applicant_ref=data["applicant_ref"], correlation_id=correlation_id,
            )
            return "requested"
        if kind in CLOSING:
            closed = app.close_case(case_id, CLOSING[kind], envelope.get("actor") or "system:cases", correlation_id)
            return "closed" if closed is not None else "no_fee"
        raise Poison(f"unexpected event type {kind}")

    return handle


def catalog_refund_rule() -> RefundRule:
    """The catalog's definition over RPC (a standalone proxy: this process has no container)."""
    from nameko.exceptions import RemoteError
    from nameko.standalone.rpc import ClusterRpcProxy

    from services.common.config import nameko_config
    from services.common.nameko_deps import domain_error

    def rule(service_id: str, version: int) -> dict[str, Any]:
        try:
            with ClusterRpcProxy(nameko_config("payments"), timeout=30) as cluster:
                definition = cluster.catalog.get_definition(service_id, version)
        except RemoteError as exc:
            raise domain_error(exc) or exc from None
        return definition.get("fee", {}).get("refund_on", {})

    return rule


def main() -> int:
    logs.configure("payments-saga")
    check_broker()
    metrics.serve("payments-saga")
    SagaConsumer(QUEUE, saga_handler(open_payments(), catalog_refund_rule()), "payments-saga").run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
