"""The Receivable (Forderung): what one case owes and how it was paid.

Why this shape: it is the one place that knows every payment attempt of a case, so saving it
together with a payment serialises all decisions about the case (optimistic concurrency):
two concurrent requests cannot open two payments, and two successes cannot both count. It
holds the Kassenzeichen (the cash office books the receivable, whatever attempt paid it) and
the fee's refund rule pinned when the payment was requested.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text
from services.payments.domain.payment import PAYMENT_NAMESPACE, Payment, check_amount

OUTCOMES = ("approved", "rejected", "withdrawn")
FULL, NONE = "full", "none"
#: Why a received payment is not needed by its case (it is refunded automatically).
ALREADY_PAID, CASE_CLOSED = "already_paid", "case_closed"


class PaymentClosed(DomainError):
    """The case takes no further payment (it was decided or withdrawn)."""

    code = "payment_closed"


def check_refund_rule(rule: Any) -> dict[str, Any]:
    """``{"rejected": "full"|"none"|{"percent": N}, "withdrawn": …}``, as the catalog declares it."""
    rule = rule or {}
    if not isinstance(rule, dict):
        raise DomainError("invalid_parameter", name="refund_on", detail=text("json_object"))
    for outcome, value in rule.items():
        percent = value.get("percent") if isinstance(value, dict) else None
        valid = value in (FULL, NONE) or (
            isinstance(value, dict) and set(value) == {"percent"} and isinstance(percent, int)
            and not isinstance(percent, bool) and 0 < percent <= 100
        )
        if outcome not in OUTCOMES or not valid:
            raise DomainError("invalid_parameter", name="refund_on", detail=text("one_of", choices="full, none, {percent: 1–100}"))
    return dict(rule)


def refund_due(rule: dict[str, Any], outcome: str, paid_cents: int) -> int:
    """Cents to pay back when the case ends with ``outcome``; rounded down (no rule: nothing)."""
    value = rule.get(outcome, NONE)
    if value == FULL:
        return paid_cents
    if isinstance(value, dict):
        return paid_cents * int(value["percent"]) // 100
    return 0


class Receivable(Aggregate):
    @staticmethod
    def create_id(case_id: str) -> UUID:
        return uuid5(PAYMENT_NAMESPACE, f"receivable|{case_id}")

    @event("Opened")
    def __init__(
        self, case_id: str, tenant: str, service_id: str, case_reference: str, amount_cents: int, fee_version: int,
        kassenzeichen: str, refund_rule: dict[str, Any], applicant_ref: str, actor: str, correlation_id: str,
    ) -> None:
        self.case_id = case_id
        self.tenant = tenant
        self.service_id = service_id
        self.case_reference = case_reference
        self.amount_cents = amount_cents
        self.fee_version = fee_version
        self.kassenzeichen = kassenzeichen
        self.refund_rule = refund_rule
        self.applicant_ref = applicant_ref
        self.attempts = 0
        self.open_payment_id: str | None = None
        self.paid_payment_id: str | None = None
        self.closed: str | None = None

    @classmethod
    def open(cls, *, case_id: str, tenant: str, service_id: str, case_reference: str, amount_cents: int,
             fee_version: int, kassenzeichen: str, refund_rule: Any, applicant_ref: str, actor: str,
             correlation_id: str) -> Receivable:
        if amount_cents == 0:
            raise DomainError("no_fee_due")
        return cls(
            case_id=case_id, tenant=tenant, service_id=service_id, case_reference=case_reference,
            amount_cents=check_amount(amount_cents), fee_version=fee_version, kassenzeichen=kassenzeichen,
            refund_rule=check_refund_rule(refund_rule), applicant_ref=applicant_ref, actor=actor,
            correlation_id=correlation_id,
        )

    @property
    def paid(self) -> bool:
        return self.paid_payment_id is not None

    def payment_ids(self) -> list[UUID]:
        return [Payment.create_id(self.case_id, n) for n in range(1, self.attempts + 1)]

    # -- commands --------------------------------------------------------------------------
    def new_attempt(self, actor: str, correlation_id: str) -> int:
        """Open the next attempt: only when none is open and nothing was paid, and the case is open."""
        if self.closed or self.paid or self.open_payment_id:
            raise PaymentClosed(log_message=f"closed={self.closed} paid={self.paid} open={self.open_payment_id}")
        attempt = self.attempts + 1
        self._attempt_opened(self.tenant, attempt, str(Payment.create_id(self.case_id, attempt)), actor, correlation_id)
        return attempt

    def attempt_ended(self, payment_id: str, outcome: str, actor: str, correlation_id: str) -> bool:
        """The open attempt failed, was cancelled or expired: the next one may start."""
        if self.open_payment_id != payment_id:
            return False
        self._attempt_ended(self.tenant, payment_id, outcome, actor, correlation_id)
        return True

    def payment_received(self, payment_id: str, actor: str, correlation_id: str) -> str | None:
        """None when this payment pays the case; otherwise why the case does not need it."""
        if self.paid_payment_id == payment_id:
            return None
        if self.paid:
            return ALREADY_PAID
        if self.closed:
            return CASE_CLOSED
        self._paid(self.tenant, payment_id, actor, correlation_id)
        return None

    def close(self, outcome: str, actor: str, correlation_id: str) -> bool:
        if outcome not in OUTCOMES:
            raise DomainError("invalid_parameter", name="outcome", detail=text("one_of", choices=", ".join(OUTCOMES)))
        if self.closed:
            return False
        self._closed(self.tenant, outcome, actor, correlation_id)
        return True

    # -- events ----------------------------------------------------------------------------
    @event("AttemptOpened")
    def _attempt_opened(self, tenant: str, attempt: int, payment_id: str, actor: str, correlation_id: str) -> None:
        self.attempts = attempt
        self.open_payment_id = payment_id

    @event("AttemptEnded")
    def _attempt_ended(self, tenant: str, payment_id: str, outcome: str, actor: str, correlation_id: str) -> None:
        self.open_payment_id = None

    @event("Paid")
    def _paid(self, tenant: str, payment_id: str, actor: str, correlation_id: str) -> None:
        self.paid_payment_id = payment_id
        if self.open_payment_id == payment_id:
            self.open_payment_id = None

    @event("Closed")
    def _closed(self, tenant: str, outcome: str, actor: str, correlation_id: str) -> None:
        self.closed = outcome
