"""Plain values out of the payments application (dicts for RPC and JSON)."""

from __future__ import annotations

from typing import Any

from services.payments.domain.payment import OPEN, REFUND_DE, STATUS_DE, XBEZAHL, Payment
from services.payments.domain.receivable import Receivable


def payment_view(payment: Payment) -> dict[str, Any]:
    return {
        "payment_id": str(payment.id),
        "case_id": payment.case_id,
        "tenant": payment.tenant,
        "service_id": payment.service_id,
        "attempt": payment.attempt,
        "kassenzeichen": payment.kassenzeichen,
        "case_reference": payment.case_reference,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "purpose": payment.purpose,
        "status": XBEZAHL[payment.status],
        "state": payment.status,
        "status_text": STATUS_DE[payment.status],
        "pay_url": payment.pay_url if payment.status == OPEN else None,
        "expires_at": payment.expires_at,
        "method": payment.method,
        "paid_cents": payment.paid_cents,
        "booked_at": payment.booked_at,
        "late": payment.late,
        "settles_case": payment.settles_case,
        "refunded_cents": payment.refunded_cents,
        "refunds": [{**r, "status_text": REFUND_DE[r["status"]]} for r in payment.refunds.values()],
        "needs_attention": payment.needs_attention,
        "version": payment.version,
    }


def case_payment_view(receivable: Receivable, attempts: list[Payment]) -> dict[str, Any]:
    """The payment of a case: what is owed, its status (XBezahldienste) and every attempt."""
    by_id = {str(p.id): p for p in attempts}
    current = by_id.get(receivable.paid_payment_id or "") or by_id.get(receivable.open_payment_id or "")
    current = current or (attempts[-1] if attempts else None)
    return {
        "case_id": receivable.case_id,
        "tenant": receivable.tenant,
        "service_id": receivable.service_id,
        "case_reference": receivable.case_reference,
        "kassenzeichen": receivable.kassenzeichen,
        "amount_cents": receivable.amount_cents,
        "currency": "EUR",
        "paid": receivable.paid,
        "closed": receivable.closed,
        "status": XBEZAHL[current.status] if current else "INITIAL",
        "status_text": STATUS_DE[current.status] if current else STATUS_DE["created"],
        "payment": payment_view(current) if current else None,
        "attempts": [payment_view(p) for p in attempts],
        "needs_attention": any(p.needs_attention for p in attempts),
    }
