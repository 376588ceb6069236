"""The Payment: one attempt to pay a case's fee at the payment service provider (PSP).

Why this shape: the provider holds the money, so its word wins. Failed, cancelled and
expired are not final: a success reported later is recorded (money received is never
ignored). A notice that changes nothing — a duplicate, or one overtaken by a later state —
records nothing and raises nothing, so redelivered and reordered notices are harmless.
Public commands check and return whether anything was recorded; the private ``@event``
methods only change state. Every event carries tenant, case, service, actor and
correlation id. Pure: no I/O imports.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text

PAYMENT_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/payments")

CREATED, OPEN, PAID, FAILED, CANCELLED, EXPIRED = "created", "open", "paid", "failed", "cancelled", "expired"
PENDING = frozenset({CREATED, OPEN})
UNSUCCESSFUL = frozenset({FAILED, CANCELLED, EXPIRED})
#: The payment status of the XBezahldienste model, as the API shows it.
XBEZAHL = {CREATED: "INITIAL", OPEN: "INITIAL", PAID: "PAYED", FAILED: "FAILED", CANCELLED: "CANCELED", EXPIRED: "CANCELED"}
STATUS_DE = {
    CREATED: "Offen", OPEN: "Offen", PAID: "Bezahlt", FAILED: "Fehlgeschlagen", CANCELLED: "Abgebrochen",
    EXPIRED: "Abgelaufen",
}
REFUND_REQUESTED, REFUNDED, REFUND_FAILED = "requested", "refunded", "failed"
REFUND_DE = {REFUND_REQUESTED: "Erstattung beantragt", REFUNDED: "Erstattet", REFUND_FAILED: "Erstattung fehlgeschlagen"}
CURRENCY = "EUR"

#: A SEPA remittance field (Verwendungszweck) line: 27 characters of the SEPA Latin set plus
#: the umlauts and ß German banks carry.
PURPOSE_LIMIT = 27
PURPOSE_CHARACTERS = re.compile(r"[A-Za-z0-9ÄÖÜäöüß /?:().,'+&*-]+")
REASON_LIMIT = 500
MAX_AMOUNT_CENTS = 99_999_999


class RefundNotPossible(DomainError):
    code = "refund_not_possible"


def check_purpose(purpose: str) -> str:
    """The purpose text as a SEPA remittance line takes it, or ``invalid_parameter``."""
    if not (0 < len(purpose) <= PURPOSE_LIMIT and PURPOSE_CHARACTERS.fullmatch(purpose)):
        raise DomainError("invalid_parameter", name="purpose", detail=text("sepa_text", limit=PURPOSE_LIMIT))
    return purpose


def purpose_for(kassenzeichen: str) -> str:
    """The default purpose: the Kassenzeichen the cash office books by, marked as such."""
    return check_purpose(f"KZ {kassenzeichen}" if len(kassenzeichen) <= PURPOSE_LIMIT - 3 else kassenzeichen[:PURPOSE_LIMIT])


def check_amount(amount_cents: Any) -> int:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or not 0 < amount_cents <= MAX_AMOUNT_CENTS:
        raise DomainError("invalid_parameter", name="amount_cents", detail=text("range", low=1, high=MAX_AMOUNT_CENTS))
    return amount_cents


class Payment(Aggregate):
    """Attempt ``attempt`` of a case's payment; its id follows from (case, attempt)."""

    @staticmethod
    def create_id(case_id: str, attempt: int) -> UUID:
        return uuid5(PAYMENT_NAMESPACE, f"{case_id}|{attempt}")

    @event("Created")
    def __init__(
        self, case_id: str, tenant: str, service_id: str, attempt: int, amount_cents: int, currency: str,
        fee_version: int, purpose: str, kassenzeichen: str, case_reference: str, return_url: str, created_at: str,
        actor: str, correlation_id: str,
    ) -> None:
        self.case_id = case_id
        self.tenant = tenant
        self.service_id = service_id
        self.attempt = attempt
        self.amount_cents = amount_cents
        self.currency = currency
        self.fee_version = fee_version
        self.purpose = purpose
        self.kassenzeichen = kassenzeichen
        self.case_reference = case_reference
        self.return_url = return_url
        self.created_at = created_at
        self.status = CREATED
        self.psp_payment_id: str | None = None
        self.pay_url: str | None = None
        self.expires_at: str | None = None
        self.method: str | None = None
        self.paid_cents = 0
        self.booked_at: str | None = None
        self.late = False
        self.settles_case: bool | None = None
        self.refunds: dict[str, dict[str, Any]] = {}
        self.refunded_cents = 0

    @classmethod
    def create(cls, *, case_id: str, tenant: str, service_id: str, attempt: int, amount_cents: int, fee_version: int,
               purpose: str, kassenzeichen: str, case_reference: str, return_url: str, created_at: str,
               actor: str, correlation_id: str) -> Payment:
        return cls(
            case_id=case_id, tenant=tenant, service_id=service_id, attempt=attempt,
            amount_cents=check_amount(amount_cents), currency=CURRENCY, fee_version=fee_version,
            purpose=check_purpose(purpose), kassenzeichen=kassenzeichen, case_reference=case_reference,
            return_url=return_url, created_at=created_at, actor=actor, correlation_id=correlation_id,
        )

    # -- what the provider said ------------------------------------------------------------
    def start(self, psp_payment_id: str, pay_url: str, expires_at: str, actor: str, correlation_id: str) -> bool:
        """The provider opened its pay page. Only once; a notice may have overtaken it."""
        if self.status != CREATED:
            return False
        self._started(self.tenant, self.case_id, self.service_id, psp_payment_id, pay_url, expires_at, actor, correlation_id)
        return True

    def succeed(self, *, method: str, amount_cents: int, booked_at: str, settles_case: bool, psp_payment_id: str,
                provider_event_id: str, actor: str, correlation_id: str) -> bool:
        """Money received: recorded from any state but paid, also after failed, cancelled or expired."""
        if self.status == PAID:
            return False
        self._succeeded(
            self.tenant, self.case_id, self.service_id, method, amount_cents, booked_at, self.status in UNSUCCESSFUL,
            settles_case, psp_payment_id, self.kassenzeichen, self.case_reference, provider_event_id, actor, correlation_id,
        )
        return True

    def fail(self, reason: str, provider_event_id: str, actor: str, correlation_id: str) -> bool:
        if self.status not in PENDING:
            return False  # a late or repeated failure changes nothing, above all not a success
        self._failed(self.tenant, self.case_id, self.service_id, reason[:REASON_LIMIT], provider_event_id, actor, correlation_id)
        return True

    def cancel(self, provider_event_id: str, actor: str, correlation_id: str) -> bool:
        if self.status not in PENDING:
            return False
        self._cancelled(self.tenant, self.case_id, self.service_id, provider_event_id, actor, correlation_id)
        return True

    def expire(self, provider_event_id: str, actor: str, correlation_id: str) -> bool:
        """Unpaid past its expiry (the provider's notice, or our own timer: ``provider_event_id`` empty)."""
        if self.status not in PENDING:
            return False
        self._expired(self.tenant, self.case_id, self.service_id, provider_event_id, actor, correlation_id)
        return True

    # -- refunds ---------------------------------------------------------------------------
    def next_refund_id(self) -> str:
        """Deterministic, so a retried request for the same refund is the same refund at the provider too."""
        return str(uuid5(self.id, f"refund-{len(self.refunds) + 1}"))

    @property
    def refund_pending(self) -> bool:
        return any(r["status"] == REFUND_REQUESTED for r in self.refunds.values())

    @property
    def refundable_cents(self) -> int:
        return self.paid_cents - self.refunded_cents if self.status == PAID else 0

    @property
    def needs_attention(self) -> bool:
        """A clerk should look: a refund raised automatically for money the case did not need, or a failed refund."""
        return any(r["flagged"] or r["status"] == REFUND_FAILED for r in self.refunds.values())

    def request_refund(self, *, refund_id: str, amount_cents: int, reason: str, automatic: bool, flagged: bool,
                       actor: str, correlation_id: str) -> None:
        if self.status != PAID:
            raise RefundNotPossible(detail=text("refund_not_paid"))
        if self.refund_pending:
            raise RefundNotPossible(detail=text("refund_pending"))
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or not 0 < amount_cents <= self.refundable_cents:
            raise RefundNotPossible(detail=text("refund_amount", limit=self.refundable_cents))
        reason = reason.strip()
        if not 0 < len(reason) <= REASON_LIMIT:
            raise DomainError("invalid_parameter", name="reason", detail=text("text_length", limit=REASON_LIMIT))
        self._refund_requested(
            self.tenant, self.case_id, self.service_id, refund_id, amount_cents, reason, automatic, flagged, actor,
            correlation_id,
        )

    def refund_succeeded(self, *, refund_id: str, psp_refund_id: str, amount_cents: int, booked_at: str,
                         provider_event_id: str, actor: str, correlation_id: str) -> bool:
        """Money paid back: recorded once, also for a refund made at the provider directly."""
        known = self.refunds.get(refund_id)
        if (known is not None and known["status"] == REFUNDED) or self.status != PAID:
            return False
        self._refunded(
            self.tenant, self.case_id, self.service_id, refund_id, psp_refund_id, amount_cents, booked_at,
            self.kassenzeichen, self.case_reference, provider_event_id, actor, correlation_id,
        )
        return True

    def refund_failed(self, *, refund_id: str, reason: str, provider_event_id: str, actor: str, correlation_id: str) -> bool:
        known = self.refunds.get(refund_id)
        if known is None or known["status"] != REFUND_REQUESTED:
            return False
        self._refund_failed(
            self.tenant, self.case_id, self.service_id, refund_id, reason[:REASON_LIMIT], provider_event_id, actor,
            correlation_id,
        )
        return True

    # -- events: state changes only ------------------------------------------------------------
    @event("Started")
    def _started(self, tenant: str, case_id: str, service_id: str, psp_payment_id: str, pay_url: str,
                 expires_at: str, actor: str, correlation_id: str) -> None:
        self.status = OPEN
        self.psp_payment_id = psp_payment_id
        self.pay_url = pay_url
        self.expires_at = expires_at

    @event("Succeeded")
    def _succeeded(self, tenant: str, case_id: str, service_id: str, method: str, amount_cents: int, booked_at: str,
                   late: bool, settles_case: bool, psp_payment_id: str, kassenzeichen: str, case_reference: str,
                   provider_event_id: str, actor: str, correlation_id: str) -> None:
        self.status = PAID
        self.method = method
        self.paid_cents = amount_cents
        self.booked_at = booked_at
        self.late = late
        self.settles_case = settles_case
        self.psp_payment_id = self.psp_payment_id or psp_payment_id

    @event("Failed")
    def _failed(self, tenant: str, case_id: str, service_id: str, reason: str, provider_event_id: str, actor: str,
                correlation_id: str) -> None:
        self.status = FAILED

    @event("Cancelled")
    def _cancelled(self, tenant: str, case_id: str, service_id: str, provider_event_id: str, actor: str,
                   correlation_id: str) -> None:
        self.status = CANCELLED

    @event("Expired")
    def _expired(self, tenant: str, case_id: str, service_id: str, provider_event_id: str, actor: str,
                 correlation_id: str) -> None:
        self.status = EXPIRED

    @event("RefundRequested")
    def _refund_requested(self, tenant: str, case_id: str, service_id: str, refund_id: str, amount_cents: int,
                          reason: str, automatic: bool, flagged: bool, actor: str, correlation_id: str) -> None:
        self.refunds[refund_id] = {
            "refund_id": refund_id, "amount_cents": amount_cents, "reason": reason, "automatic": automatic,
            "flagged": flagged, "status": REFUND_REQUESTED, "psp_refund_id": None, "booked_at": None,
        }

    @event("Refunded")
    def _refunded(self, tenant: str, case_id: str, service_id: str, refund_id: str, psp_refund_id: str,
                  amount_cents: int, booked_at: str, kassenzeichen: str, case_reference: str, provider_event_id: str,
                  actor: str, correlation_id: str) -> None:
        refund = self.refunds.setdefault(refund_id, {
            "refund_id": refund_id, "amount_cents": amount_cents, "reason": "", "automatic": False, "flagged": False,
        })
        refund.update(status=REFUNDED, psp_refund_id=psp_refund_id, amount_cents=amount_cents, booked_at=booked_at)
        self.refunded_cents += amount_cents

    @event("RefundFailed")
    def _refund_failed(self, tenant: str, case_id: str, service_id: str, refund_id: str, reason: str,
                       provider_event_id: str, actor: str, correlation_id: str) -> None:
        self.refunds[refund_id].update(status=REFUND_FAILED, failure=reason)
