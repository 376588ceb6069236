"""Payments of a case: the receivable is opened when the case asks for its fee, the citizen
starts (or resumes) paying, the case's end may refund.

Rules kept here: one open payment per case at a time (the receivable opens attempts), a
new attempt only after the last one failed, was cancelled or expired, never a second charge
once paid; a caller who may not see the case sees no payment (``payment_not_found``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from services.common.authz import Grant, Principal, can_read_case
from services.common.problems import DomainError, text
from services.payments.application.base import BERLIN, SYSTEM, PaymentsBase, as_uuid, log
from services.payments.application.views import case_payment_view
from services.payments.domain import KassenzeichenSequence, Payment, PaymentClosed, Receivable
from services.payments.domain.kassenzeichen import format_kassenzeichen, scope
from services.payments.domain.payment import OPEN, PENDING, purpose_for
from services.payments.domain.receivable import refund_due
from services.payments.psp import ProviderError, ProviderUnavailable


def as_principal(data: Any) -> Principal | None:
    """A principal as the gateway sends it (``Principal.to_dict()``); None if malformed."""
    try:
        return Principal(
            subject=str(data["subject"]), kind=str(data["kind"]),
            grants=tuple(Grant.from_dict(g) for g in data.get("grants", ())),
            trust_level=str(data.get("trust_level", "basic")),
        )
    except (KeyError, TypeError, AttributeError):
        return None


def visible(receivable: Receivable, principal: Principal | None) -> Receivable:
    """The receivable if ``principal`` may see its case (as the case's own rules say), else
    ``payment_not_found`` — the same answer as for a case without payment."""
    meta = {"tenant": receivable.tenant, "service_id": receivable.service_id, "applicant_ref": receivable.applicant_ref or "-"}
    if principal is None or not can_read_case(principal, meta):
        raise DomainError("payment_not_found", log_message="not visible to the caller")
    return receivable


def check_return_url(url: Any) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2048:
        raise DomainError("invalid_parameter", name="return_url", detail=text("one_of", choices="http(s) URL"))
    return url


class CasePayments(PaymentsBase):
    def request_payment(self, *, case_id: str, tenant: str, service_id: str, case_reference: str, amount_cents: int,
                        fee_version: int, refund_rule: dict[str, Any] | None = None, applicant_ref: str = "",
                        tenant_code: str | None = None, actor: str = SYSTEM, correlation_id: str) -> dict[str, Any]:
        """Open the case's receivable with its Kassenzeichen (idempotent: once per case)."""
        case = as_uuid(case_id)
        if case is None:
            raise DomainError("case_not_found", case_id=str(case_id)[:64])
        merchant = self.merchants.for_tenant(tenant)
        code = tenant_code or case_reference.split("-", 1)[0]

        def command() -> dict[str, Any]:
            existing = self._find(Receivable, Receivable.create_id(str(case)))
            if existing is not None:
                return case_payment_view(existing, self.attempts(existing))
            year = self.clock().astimezone(BERLIN).year
            numbers = scope(merchant.kassenzeichen_pattern, year)
            sequence = self._find(KassenzeichenSequence, KassenzeichenSequence.create_id(tenant, numbers))
            sequence = sequence or KassenzeichenSequence(tenant=tenant, scope=numbers)
            kassenzeichen = format_kassenzeichen(
                merchant.kassenzeichen_pattern, ags=tenant, code=code, year=year, seq=sequence.next_number()
            )
            receivable = Receivable.open(
                case_id=str(case), tenant=tenant, service_id=service_id, case_reference=case_reference,
                amount_cents=amount_cents, fee_version=fee_version, kassenzeichen=kassenzeichen,
                refund_rule=refund_rule, applicant_ref=applicant_ref, actor=actor, correlation_id=correlation_id,
            )
            self.save(sequence, receivable)
            log.info("payment_requested", case_id=str(case), tenant=tenant, kassenzeichen=kassenzeichen)
            return case_payment_view(receivable, [])

        return self.decide(command)

    def payment_for_case(self, case_id: str, principal: dict[str, Any] | None = None) -> dict[str, Any]:
        """The case's payment; with ``principal``, only if that principal may see the case."""
        receivable = self.receivable(case_id)
        if principal is not None:
            visible(receivable, as_principal(principal))
        return case_payment_view(receivable, self.attempts(receivable))

    def start_payment(self, case_id: str, principal: dict[str, Any], return_url: str, correlation_id: str) -> dict[str, Any]:
        """Start or resume paying: the open attempt's pay page while it is valid, else a new
        attempt at the provider. Nothing is charged twice: a paid case answers its payment."""
        who = as_principal(principal)
        url = check_return_url(return_url)
        visible(self.receivable(case_id), who)
        actor = who.subject if who else SYSTEM
        for _ in range(3):  # an attempt found past its expiry is expired first, then a new one starts
            receivable = self.receivable(case_id)
            current = self._find(Payment, as_uuid(receivable.open_payment_id))
            if receivable.paid:
                break
            if receivable.closed:
                raise PaymentClosed(log_message=f"case {receivable.closed}")
            if current is not None and current.status == OPEN and not self.past_expiry(current):
                break  # resume its pay page
            if current is not None and current.status == OPEN:
                self.expire_payment(str(current.id), correlation_id)  # type: ignore[attr-defined]
                continue
            if current is None:
                current = self.decide(lambda: self._new_attempt(case_id, url, actor, correlation_id))
            self._start_at_provider(current, correlation_id)
            break
        return self.payment_for_case(case_id)

    def refresh_case(self, case_id: str, correlation_id: str, principal: dict[str, Any] | None = None) -> dict[str, Any]:
        """The payer came back from the pay page: ask the provider about the case's unfinished
        attempts (the browser's return proves nothing), then answer the case's payment."""
        receivable = self.receivable(case_id)
        if principal is not None:
            visible(receivable, as_principal(principal))
        for payment in self.attempts(receivable):
            if payment.status in PENDING:
                try:
                    self.sync_payment(str(payment.id), correlation_id)  # type: ignore[attr-defined]
                except DomainError as exc:  # the provider is down: the webhook or the poller will tell
                    log.warning("refresh_without_provider", payment_id=str(payment.id), error=exc.code)
        return self.payment_for_case(case_id)

    def _new_attempt(self, case_id: str, return_url: str, actor: str, correlation_id: str) -> Payment:
        receivable = self.receivable(case_id)
        open_one = self._find(Payment, as_uuid(receivable.open_payment_id))
        if open_one is not None:
            return open_one  # another request opened it a moment ago
        attempt = receivable.new_attempt(actor, correlation_id)
        payment = Payment.create(
            case_id=receivable.case_id, tenant=receivable.tenant, service_id=receivable.service_id, attempt=attempt,
            amount_cents=receivable.amount_cents, fee_version=receivable.fee_version,
            purpose=purpose_for(receivable.kassenzeichen), kassenzeichen=receivable.kassenzeichen,
            case_reference=receivable.case_reference, return_url=return_url, created_at=self.now(), actor=actor,
            correlation_id=correlation_id,
        )
        self.save(receivable, payment)
        return payment

    def _start_at_provider(self, payment: Payment, correlation_id: str) -> None:
        """Create the payment at the provider (idempotent by our payment id) and record its pay page."""
        if payment.status not in PENDING or payment.pay_url:
            return
        merchant = self.merchants.for_tenant(payment.tenant)
        try:
            state = self.psp().create_payment(
                merchant, idempotency_key=str(payment.id), amount_cents=payment.amount_cents, purpose=payment.purpose,
                reference=str(payment.id), return_url=payment.return_url,
                expires_in=int(self.expiry.total_seconds()),
                metadata={"case_id": payment.case_id, "kassenzeichen": payment.kassenzeichen},
            )
        except ProviderUnavailable as exc:
            raise DomainError("service_unavailable", log_message=f"provider: {exc}") from exc
        except ProviderError as exc:
            if exc.code != "idempotency_key_reused":
                raise
            found = self.psp().payments_by_reference(merchant, str(payment.id))  # created before, other terms
            if not found:
                raise
            state = found[0]
        self.apply_provider_state(str(payment.id), state, correlation_id)  # type: ignore[attr-defined]

    def past_expiry(self, payment: Payment) -> bool:
        deadline = payment.expires_at or (datetime.fromisoformat(payment.created_at) + self.expiry).isoformat()
        return self.clock() >= datetime.fromisoformat(deadline)

    def close_case(self, case_id: str, outcome: str, actor: str, correlation_id: str) -> dict[str, Any] | None:
        """The case was decided or withdrawn: no further payment; a paid fee is refunded as
        the fee's rule says (None: the case had no payment)."""
        if self._find(Receivable, Receivable.create_id(str(as_uuid(case_id)))) is None:
            return None

        def command() -> tuple[str, str] | None:
            receivable = self.receivable(case_id)
            changed = receivable.close(outcome, actor, correlation_id)
            paid = self._find(Payment, as_uuid(receivable.paid_payment_id))
            refund = None
            if changed and paid is not None and not paid.refund_pending:
                cents = min(refund_due(receivable.refund_rule, outcome, paid.paid_cents), paid.refundable_cents)
                if cents > 0:
                    refund = (str(paid.id), paid.next_refund_id())
                    paid.request_refund(refund_id=refund[1], amount_cents=cents, reason=f"case_{outcome}",
                                        automatic=True, flagged=False, actor=actor, correlation_id=correlation_id)
            self.save(receivable, *([paid] if refund else []))
            return refund

        refund = self.decide(command)
        if refund:
            self.submit_refund(*refund, correlation_id)  # type: ignore[attr-defined]
        return self.payment_for_case(case_id)
