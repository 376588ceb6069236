"""The Notice: one provider webhook event, kept in the inbox from the moment it arrived.

Why this shape: a notice is stored durably before the provider gets its 2xx, under an id
that follows from (merchant, provider event id), so a redelivered event is the same notice
(the second save conflicts: deduplicated) and is never applied twice. It stays pending until
it is applied — a notice for a payment we do not know (yet) is kept and retried, never
dropped. Each delivery's signature is remembered: the very same signed message arriving
again is a replay, not a redelivery (the provider signs every delivery anew).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.payments.domain.payment import PAYMENT_NAMESPACE

KINDS = (
    "payment.succeeded", "payment.failed", "payment.cancelled", "payment.expired", "refund.succeeded", "refund.failed",
)
RECEIVED, PARKED, APPLIED = "received", "parked", "applied"
#: Deliveries remembered per notice (a provider retrying for days must not grow it without end).
MAX_DELIVERIES = 20


class Notice(Aggregate):
    @staticmethod
    def create_id(merchant_id: str, event_id: str) -> UUID:
        return uuid5(PAYMENT_NAMESPACE, f"notice|{merchant_id}|{event_id}")

    @event("Received")
    def __init__(
        self, tenant: str, merchant_id: str, event_id: str, kind: str, occurred_at: str, psp_payment_id: str,
        payment_ref: str, details: dict[str, Any], signature: str, received_at: str, actor: str, correlation_id: str,
    ) -> None:
        self.tenant = tenant
        self.merchant_id = merchant_id
        self.event_id = event_id
        self.kind = kind
        self.occurred_at = occurred_at
        self.psp_payment_id = psp_payment_id
        self.payment_ref = payment_ref
        self.details = details
        self.signatures = [signature]
        self.status = RECEIVED
        self.outcome: str | None = None

    @property
    def pending(self) -> bool:
        return self.status != APPLIED

    def delivered_again(self, signature: str, actor: str, correlation_id: str) -> bool:
        """False when this exact signed message was seen before (a replay); True for a new delivery."""
        if signature in self.signatures:
            return False
        if len(self.signatures) < MAX_DELIVERIES:
            self._redelivered(self.tenant, signature, actor, correlation_id)
        return True

    def park(self, reason: str, actor: str, correlation_id: str) -> bool:
        """Not applicable yet (e.g. no such payment): kept for the retry; recorded once."""
        if self.status != RECEIVED:
            return False
        self._parked(self.tenant, reason, actor, correlation_id)
        return True

    def applied(self, payment_id: str, outcome: str, actor: str, correlation_id: str) -> bool:
        if self.status == APPLIED:
            return False
        self._applied(self.tenant, payment_id, outcome, actor, correlation_id)
        return True

    @event("Redelivered")
    def _redelivered(self, tenant: str, signature: str, actor: str, correlation_id: str) -> None:
        self.signatures.append(signature)

    @event("Parked")
    def _parked(self, tenant: str, reason: str, actor: str, correlation_id: str) -> None:
        self.status = PARKED
        self.outcome = reason

    @event("Applied")
    def _applied(self, tenant: str, payment_id: str, outcome: str, actor: str, correlation_id: str) -> None:
        self.status = APPLIED
        self.outcome = outcome
