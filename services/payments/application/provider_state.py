"""What the provider says about a payment — by webhook (through the inbox), by polling, or in
its answer to a create — applied to our payment and its case's receivable.

Rules kept here: the provider's state is applied idempotently (a duplicate or an overtaken
state records nothing); money received is recorded whatever our state was, and if the case
does not need it (another attempt paid, or the case was closed) a full refund is raised at
once and flagged for the clerk; a notice is saved in the inbox before anything else and
marked applied in the same transaction as its effect, so it is applied exactly once; a
notice for a payment we do not know stays pending and is retried.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any
from uuid import UUID

from services.common.problems import DomainError
from services.payments import metrics
from services.payments.application.base import SYSTEM, PaymentsBase, as_uuid, log
from services.payments.application.views import payment_view
from services.payments.domain import Notice, Payment, Receivable
from services.payments.domain.payment import CANCELLED, CREATED, EXPIRED, FAILED, PENDING
from services.payments.merchants import Merchant
from services.payments.psp import ProviderPayment, ProviderRefund, ProviderUnavailable, webhooks
from services.payments.psp.webhooks import REPLAYED, WebhookEvent, WebhookRejected

PROVIDER_UNSUCCESSFUL = {"failed": FAILED, "cancelled": CANCELLED, "expired": EXPIRED}
#: A refund request to the provider: (payment id, refund id).
Submission = tuple[str, str]


class ProviderState(PaymentsBase):
    # -- the webhook inbox -----------------------------------------------------------------
    def receive_webhook(self, body: bytes, signature_header: str, correlation_id: str,
                        merchant_header: str | None = None) -> dict[str, Any]:
        """A webhook as it arrived: verified (signature, timestamp, merchant), then stored and
        applied; WebhookRejected (400) for a forged, stale, malformed or replayed one. A
        byte-identical delivery (same ``t`` and ``v1``) is a replay; the provider's own
        retries are signed anew and are duplicates (2xx, applied once)."""
        try:
            merchant, event, signature = webhooks.read(
                body, signature_header, self.merchants, self.clock().timestamp(), self.settings.webhook_tolerance,
                merchant_header,
            )
            result = self.receive_notice(merchant, event, signature, correlation_id)
        except WebhookRejected as exc:
            metrics.WEBHOOKS.labels(f"rejected_{exc.params.get('reason')}").inc()
            log.warning("webhook_rejected", reason=exc.params.get("reason"), detail=exc.log_message)
            raise
        metrics.WEBHOOKS.labels(result["status"]).inc()
        return result

    def receive_notice(self, merchant: Merchant, event: WebhookEvent, signature: str, correlation_id: str) -> dict[str, Any]:
        """Store a verified webhook durably (deduplicated by its event id), then apply it.
        Returns once it is stored: whatever happens after, it is not lost."""
        if event.payment is None:
            return {"status": "ignored", "type": event.kind[:60]}
        actor = f"psp:{merchant.merchant_id}"
        details = {"payment": event.payment.as_dict(), "refund": asdict(event.refund) if event.refund else None}

        def store() -> tuple[UUID, bool]:
            notice_id = Notice.create_id(merchant.merchant_id, event.event_id)
            existing = self._find(Notice, notice_id)
            if existing is None:
                assert event.payment is not None
                self.save(Notice(
                    tenant=merchant.tenant, merchant_id=merchant.merchant_id, event_id=event.event_id, kind=event.kind,
                    occurred_at=event.created, psp_payment_id=event.payment.psp_payment_id,
                    payment_ref=event.payment.reference, details=details, signature=signature, received_at=self.now(),
                    actor=actor, correlation_id=correlation_id,
                ))
                return notice_id, False
            if not existing.delivered_again(signature, actor, correlation_id):
                raise WebhookRejected(reason=REPLAYED, log_message=f"event {event.event_id[:80]} replayed")
            self.save(existing)
            return notice_id, True

        notice_id, duplicate = self.decide(store)
        try:
            outcome = self.process_notice(notice_id, correlation_id)
        except Exception as exc:  # noqa: BLE001 - stored: the retry applies it; the provider gets its 2xx
            log.exception("notice_processing_failed", notice_id=str(notice_id), error=repr(exc))
            outcome = "pending"
        return {"status": "duplicate" if duplicate else "stored", "notice_id": str(notice_id), "outcome": outcome}

    def process_notice(self, notice_id: UUID | str, correlation_id: str) -> str:
        """Apply a stored notice once; ``parked`` while its payment is unknown."""
        submissions: list[Submission] = []

        def command() -> str:
            submissions.clear()
            notice = self._find(Notice, as_uuid(notice_id))
            if notice is None:
                return "unknown"
            if not notice.pending:
                return notice.outcome or "applied"
            actor = f"psp:{notice.merchant_id}"
            payment = self._find(Payment, as_uuid(notice.payment_ref))
            if payment is None or payment.tenant != notice.tenant:
                if payment is not None:
                    log.error("notice_for_other_tenant", notice_id=str(notice.id), tenant=notice.tenant)
                    notice.applied(str(payment.id), "ignored", actor, correlation_id)
                elif not notice.park("unknown_payment", actor, correlation_id):
                    return "parked"
                self.save(notice)
                return "ignored" if payment is not None else "parked"
            receivable = self.receivable(payment.case_id)
            state = ProviderPayment.from_dict(notice.details["payment"])
            refunds = [ProviderRefund(**notice.details["refund"])] if notice.details.get("refund") else []
            outcome = self._apply(payment, receivable, state, refunds, notice.event_id, actor, correlation_id, submissions)
            notice.applied(str(payment.id), outcome, actor, correlation_id)
            self.save(notice, payment, receivable)
            return outcome

        outcome = self.decide(command)
        metrics.NOTICES.labels(outcome).inc()
        for submission in submissions:
            self.submit_refund(*submission, correlation_id)  # type: ignore[attr-defined]
        return outcome

    def process_pending(self, notice_ids: list[str], correlation_id: str) -> dict[str, int]:
        """Apply pending notices again (the retry of the inbox); outcomes counted."""
        return dict(Counter(self.process_notice(notice_id, correlation_id) for notice_id in notice_ids))

    # -- polling ---------------------------------------------------------------------------
    def sync_payment(self, payment_id: str, correlation_id: str) -> dict[str, Any]:
        """Ask the provider how the payment stands and apply the answer (a lost webhook
        never strands a case). ``service_unavailable`` when the provider does not answer."""
        payment = self.payment(payment_id)
        merchant = self.merchants.for_tenant(payment.tenant)
        try:
            if payment.psp_payment_id:
                states = [self.psp().payment(merchant, payment.psp_payment_id)]
            else:
                states = self.psp().payments_by_reference(merchant, str(payment.id))
        except ProviderUnavailable as exc:
            metrics.PROVIDER_ERRORS.labels("status", "unavailable").inc()
            raise DomainError("service_unavailable", log_message=f"provider: {exc}") from exc
        for state in states:
            self.apply_provider_state(str(payment.id), state, correlation_id)
        return payment_view(self.payment(payment_id))

    def apply_provider_state(self, payment_id: str, state: ProviderPayment, correlation_id: str) -> str:
        """Apply the provider's view of a payment (a poll, or the answer to a create)."""
        submissions: list[Submission] = []
        event_id = f"state:{state.psp_payment_id}:{state.status}"

        def command() -> str:
            submissions.clear()
            payment = self.payment(payment_id)
            receivable = self.receivable(payment.case_id)
            outcome = self._apply(payment, receivable, state, list(state.refunds), event_id, SYSTEM, correlation_id, submissions)
            self.save(payment, receivable)
            return outcome

        outcome = self.decide(command)
        for submission in submissions:
            self.submit_refund(*submission, correlation_id)  # type: ignore[attr-defined]
        return outcome

    def expire_payment(self, payment_id: str, correlation_id: str) -> dict[str, Any]:
        """An unpaid payment past its expiry: ask the provider once more (a success may be on
        its way), then expire it; the case may start a new attempt. A later success is still honoured."""
        payment = self.payment(payment_id)
        if payment.status not in PENDING or not self.past_expiry(payment):  # type: ignore[attr-defined]
            return payment_view(payment)
        try:
            self.sync_payment(payment_id, correlation_id)
        except DomainError as exc:
            log.warning("expiry_without_provider_status", payment_id=payment_id, error=exc.code)

        def command() -> None:
            payment = self.payment(payment_id)
            receivable = self.receivable(payment.case_id)
            if payment.expire("", SYSTEM, correlation_id):
                receivable.attempt_ended(str(payment.id), EXPIRED, SYSTEM, correlation_id)
                self.save(payment, receivable)

        self.decide(command)
        return payment_view(self.payment(payment_id))

    # -- the decision ----------------------------------------------------------------------
    def _apply(self, payment: Payment, receivable: Receivable, state: ProviderPayment, refunds: list[ProviderRefund],
               event_id: str, actor: str, correlation_id: str, submissions: list[Submission]) -> str:
        """Change ``payment`` and ``receivable`` (not saved) as the provider's state says; the outcome."""
        outcome = "unchanged"
        pid = str(payment.id)
        if state.status == "open" and payment.status == CREATED:
            if payment.start(state.psp_payment_id, state.pay_url, state.expires_at or "", actor, correlation_id):
                outcome = "started"
        elif state.status == "succeeded":
            outcome = self._received(payment, receivable, state, event_id, actor, correlation_id, submissions) or outcome
        elif state.status in PROVIDER_UNSUCCESSFUL:
            ended = PROVIDER_UNSUCCESSFUL[state.status]
            changed = {
                FAILED: lambda: payment.fail(state.status, event_id, actor, correlation_id),
                CANCELLED: lambda: payment.cancel(event_id, actor, correlation_id),
                EXPIRED: lambda: payment.expire(event_id, actor, correlation_id),
            }[ended]()
            if changed:
                receivable.attempt_ended(pid, ended, actor, correlation_id)
                outcome = ended
        return self._apply_refunds(payment, refunds, event_id, actor, correlation_id) or outcome

    def _apply_refunds(self, payment: Payment, refunds: list[ProviderRefund], event_id: str, actor: str,
                       correlation_id: str) -> str | None:
        outcome = None
        for refund in refunds:
            ours = refund.reference if refund.reference in payment.refunds else f"psp:{refund.psp_refund_id}"
            if refund.status == "succeeded" and payment.refund_succeeded(
                refund_id=ours, psp_refund_id=refund.psp_refund_id, amount_cents=refund.amount_cents,
                booked_at=refund.completed_at or self.now(), provider_event_id=event_id, actor=actor,
                correlation_id=correlation_id,
            ):
                outcome = "refunded"
            elif refund.status == "failed" and payment.refund_failed(
                refund_id=ours, reason=refund.reason or "failed", provider_event_id=event_id, actor=actor,
                correlation_id=correlation_id,
            ):
                outcome = "refund_failed"
        return outcome

    def _received(self, payment: Payment, receivable: Receivable, state: ProviderPayment, event_id: str, actor: str,
                  correlation_id: str, submissions: list[Submission]) -> str | None:
        pid = str(payment.id)
        if payment.status == "paid":
            return None
        not_needed = receivable.payment_received(pid, actor, correlation_id)
        late = payment.status not in PENDING
        payment.succeed(
            method=state.method or "unknown", amount_cents=state.amount_cents, booked_at=state.succeeded_at or self.now(),
            settles_case=not_needed is None, psp_payment_id=state.psp_payment_id, provider_event_id=event_id,
            actor=actor, correlation_id=correlation_id,
        )
        if not_needed is None:
            return "paid_late" if late else "paid"
        refund_id = payment.next_refund_id()
        payment.request_refund(refund_id=refund_id, amount_cents=payment.refundable_cents, reason=f"auto:{not_needed}",
                               automatic=True, flagged=True, actor=actor, correlation_id=correlation_id)
        submissions.append((pid, refund_id))
        metrics.REFUNDS.labels("automatic").inc()
        log.warning("payment_not_needed_refunded", payment_id=pid, case_id=payment.case_id, reason=not_needed)
        return "refund_raised"
