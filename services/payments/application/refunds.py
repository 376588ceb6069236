"""Refunds: requested by a clerk with a reason, or automatically (money the case did not
need, or the fee rule when the case ends); then sent to the provider.

Why two steps: the request is saved first (the decision is durable), then sent with the
refund id as idempotency key; if the provider does not answer, the refund stays requested
and sending it again (``submit_refund``) is the same refund at the provider. Its outcome
arrives by webhook or poll, or at once in the provider's answer.
"""

from __future__ import annotations

from typing import Any

from services.common.authz import TENANT_STAFF_KINDS
from services.common.problems import DomainError, text
from services.payments import metrics
from services.payments.application.base import SYSTEM, as_uuid, log
from services.payments.application.cases import as_principal, visible
from services.payments.application.provider_state import ProviderState
from services.payments.application.views import payment_view
from services.payments.domain.payment import REFUND_REQUESTED, RefundNotPossible
from services.payments.psp import ProviderError, ProviderUnavailable


class Refunds(ProviderState):
    def request_refund(self, case_id: str, reason: str, principal: dict[str, Any], correlation_id: str,
                       amount_cents: int | None = None, payment_id: str | None = None) -> dict[str, Any]:
        """A clerk of the case (clerk or team lead for its tenant and service) pays money back:
        by default all that is left of the case's paid payment."""
        who = as_principal(principal)
        receivable = visible(self.receivable(case_id), who)
        assert who is not None  # visible() refuses nobody
        if who.kind not in TENANT_STAFF_KINDS:
            raise DomainError("forbidden")
        target = as_uuid(payment_id or receivable.paid_payment_id)
        if target is None:
            raise RefundNotPossible(detail=text("refund_not_paid"))

        def command() -> str:
            payment = self.payment(target)
            if payment.case_id != receivable.case_id:
                raise DomainError("payment_not_found", log_message="payment of another case")
            refund_id = payment.next_refund_id()
            payment.request_refund(
                refund_id=refund_id, amount_cents=payment.refundable_cents if amount_cents is None else amount_cents,
                reason=str(reason or ""), automatic=False, flagged=False, actor=who.subject,
                correlation_id=correlation_id,
            )
            self.save(payment)
            return refund_id

        refund_id = self.decide(command)
        metrics.REFUNDS.labels("clerk").inc()
        self.submit_refund(str(target), refund_id, correlation_id)
        return payment_view(self.payment(target))

    def submit_refund(self, payment_id: str, refund_id: str, correlation_id: str) -> str:
        """Send a requested refund to the provider (again); its status afterwards."""
        payment = self.payment(payment_id)
        refund = payment.refunds.get(refund_id)
        if refund is None or refund["status"] != REFUND_REQUESTED:
            return refund["status"] if refund else "unknown"
        merchant = self.merchants.for_tenant(payment.tenant)
        try:
            result = self.psp().refund(
                merchant, str(payment.psp_payment_id), idempotency_key=refund_id, amount_cents=refund["amount_cents"],
                reason=refund["reason"], reference=refund_id,
            )
        except ProviderUnavailable as exc:
            metrics.PROVIDER_ERRORS.labels("refund", "unavailable").inc()
            log.warning("refund_not_sent", payment_id=payment_id, refund_id=refund_id, error=str(exc)[:200])
            return REFUND_REQUESTED
        except ProviderError as exc:  # refused for good: the clerk has to look (needs_attention)
            code = exc.code
            metrics.PROVIDER_ERRORS.labels("refund", code).inc()
            log.error("refund_refused", payment_id=payment_id, refund_id=refund_id, code=code)

            def refused() -> None:
                current = self.payment(payment_id)
                if current.refund_failed(refund_id=refund_id, reason=f"provider:{code}", provider_event_id="",
                                         actor=SYSTEM, correlation_id=correlation_id):
                    self.save(current)

            self.decide(refused)
            return "failed"

        def answered() -> str:
            current = self.payment(payment_id)
            outcome = self._apply_refunds(current, [result], f"refund:{result.psp_refund_id}:{result.status}", SYSTEM,
                                          correlation_id)
            self.save(current)
            return outcome or REFUND_REQUESTED

        return self.decide(answered)

    def submit_pending_refunds(self, refunds: list[tuple[str, str]], correlation_id: str) -> dict[str, str]:
        """Refunds the provider has not confirmed (the retry); status per refund id. The
        provider is asked first: a refund it settled whose webhook was lost is applied from
        its answer (sending it again would only replay the create's first answer, ``pending``);
        one it never received is sent again."""
        return {refund_id: self._retry_refund(payment_id, refund_id, correlation_id) for payment_id, refund_id in refunds}

    def _retry_refund(self, payment_id: str, refund_id: str, correlation_id: str) -> str:
        try:
            self.sync_payment(payment_id, correlation_id)
        except DomainError as exc:  # the status API did not answer: sending is still safe (idempotent)
            log.info("refund_status_unknown", payment_id=payment_id, refund_id=refund_id, error=exc.code)
        return self.submit_refund(payment_id, refund_id, correlation_id)
