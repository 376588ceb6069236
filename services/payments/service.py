"""The payments service (nameko): a thin RPC interface over :class:`PaymentsApp`.

Callers: the gateway (citizens start and follow their payment, clerks refund, tenant admins
list and reconcile, the provider's webhook), and the case saga (a case asks for its fee or
ends). Every method is a few lines: plain JSON in, the application with the correlation id,
plain values out; DomainErrors cross RPC with their stable code. Reads catch the read models
up first, so a caller sees its own writes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.config import PaymentsSettings
from services.common.db import ReadStore
from services.common.nameko_deps import (
    Correlation,
    EntrypointMetrics,
    Observability,
    Provided,
    SettingTimer,
    domain_error,
)
from services.common.problems import DomainError, text
from services.payments import metrics as payment_metrics
from services.payments.application import PaymentsApp, open_payments
from services.payments.application.base import SYSTEM
from services.payments.application.reconcile import check_day
from services.payments.cashoffice import export_csv
from services.payments.projections import PaymentReadModels

LIST_LIMIT = 200
log = logs.get_logger("payments")


class PaymentsService:
    name = "payments"

    app: PaymentsApp = Provided(open_payments)
    read: PaymentReadModels = Provided(lambda: PaymentReadModels(ReadStore("payments")))
    catalog = RpcProxy("catalog")
    observability = Observability("payments")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "payments"

    # -- the case saga -------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def request_payment(self, case: dict[str, Any]) -> dict[str, Any]:
        """A case asks for its fee (``case``: case_id, tenant, service_id, reference, fee_cents,
        form_version, applicant_ref — as in case.submitted). Once per case; the fee's refund
        rule is pinned from the catalog's definition of that form version."""
        return self.app.request_payment(
            case_id=case["case_id"], tenant=case["tenant"], service_id=case["service_id"],
            case_reference=case["reference"], amount_cents=case["fee_cents"], fee_version=case["form_version"],
            refund_rule=self._refund_rule(case["service_id"], case["form_version"]),
            applicant_ref=case.get("applicant_ref", ""), actor=case.get("actor") or SYSTEM, correlation_id=logs.correlation_id(),
        )

    @rpc(expected_exceptions=DomainError)
    def close_case(self, case_id: str, outcome: str, actor: str) -> dict[str, Any] | None:
        """The case was approved, rejected or withdrawn: no further payment, a refund by the fee's rule."""
        return self.app.close_case(case_id, outcome, actor, logs.correlation_id())

    def _refund_rule(self, service_id: str, version: int) -> dict[str, Any]:
        try:
            definition = self.catalog.get_definition(service_id, version)
        except RemoteError as exc:
            raise domain_error(exc) or exc from None
        return definition.get("fee", {}).get("refund_on", {})

    # -- citizens and clerks ---------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def payment_for_case(self, case_id: str, principal: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.app.payment_for_case(case_id, principal)

    @rpc(expected_exceptions=DomainError)
    def start_payment(self, case_id: str, principal: dict[str, Any], return_url: str) -> dict[str, Any]:
        """Start or resume the case's payment; the answer carries the pay page (``payment.pay_url``)."""
        return self.app.start_payment(case_id, principal, return_url, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def payment_returned(self, case_id: str, principal: dict[str, Any] | None = None) -> dict[str, Any]:
        """The payer came back from the pay page: the provider is asked, then the case's payment."""
        return self.app.refresh_case(case_id, logs.correlation_id(), principal)

    @rpc(expected_exceptions=DomainError)
    def sync_payment(self, payment_id: str) -> dict[str, Any]:
        """Ask the provider about one payment now (the poller)."""
        return self.app.sync_payment(payment_id, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def request_refund(self, case_id: str, reason: str, principal: dict[str, Any], amount_cents: int | None = None,
                       payment_id: str | None = None) -> dict[str, Any]:
        return self.app.request_refund(case_id, reason, principal, logs.correlation_id(), amount_cents, payment_id)

    # -- the provider ----------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def receive_webhook(self, raw_body: str | bytes, signature_header: str, merchant_header: str | None = None) -> dict[str, Any]:
        """Verify, store (before answering), apply. ``raw_body`` exactly as received (text is
        taken as UTF-8), the ``PSP-Signature`` and ``PSP-Merchant-Id`` headers; a forged,
        stale, malformed or replayed one is ``webhook_rejected`` (400)."""
        body = raw_body.encode("utf-8") if isinstance(raw_body, str) else bytes(raw_body)
        return self.app.receive_webhook(body, signature_header or "", logs.correlation_id(), merchant_header)

    # -- tenant administration --------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def list_payments(self, tenant: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """A tenant's payments, newest first (query: state, attention, before, limit ≤ 200)."""
        query = query or {}
        limit = query.get("limit", 50)
        if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= LIST_LIMIT:
            raise DomainError("invalid_parameter", name="limit", detail=text("limit_range", low=1, high=LIST_LIMIT))
        self.read.catch_up(self.app)
        return self.read.payments_of_tenant(tenant, state=query.get("state"), attention=bool(query.get("attention")),
                                            before=query.get("before"), limit=limit)

    @rpc(expected_exceptions=DomainError)
    def reconciliation_report(self, tenant: str, day: str, run: bool = True) -> dict[str, Any]:
        """Reconcile the tenant's day with the provider's settlement report (``run``), or the
        last result; mismatches are recorded once each."""
        if not run:
            return self.app.reconciliation_report(tenant, day)

        def ledger() -> list[Any]:
            self.read.catch_up(self.app)
            return self.read.ledger_lines(tenant, check_day(day).isoformat())

        return self.app.reconcile(tenant, day, ledger, SYSTEM, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def cash_office_export(self, tenant: str, first_day: str, last_day: str | None = None) -> dict[str, str]:
        """The tenant's bookings of those days as the cash office's CSV."""
        first, last = check_day(first_day).isoformat(), check_day(last_day or first_day).isoformat()
        self.read.catch_up(self.app)
        entries = self.read.ledger(tenant, first, last)
        checks = self.app.reconciliation_checks(tenant, first, last, {e["booking_date"] for e in entries})
        return {
            "filename": f"zahlungen-{tenant}-{first}-{last}.csv", "content_type": "text/csv; charset=utf-8",
            "content": export_csv(entries, checks),
        }

    # -- the workers' rounds --------------------------------------------------------------------
    @SettingTimer.decorator(interval_from=lambda: PaymentsSettings.from_env().worker_interval)
    def worker_round(self) -> None:
        """The timer: expire, poll, retry. A round that fails (the provider is down) is logged;
        the next one tries again."""
        try:
            expired = self.expire_due()
            polled = self.poll_unfinished()
            retried = self.retry_pending()
            payment_metrics.count_states(self.read.store.query("SELECT state, COUNT(*) FROM payments GROUP BY state"))
        except Exception as exc:  # noqa: BLE001 - the next round tries again
            log.warning("worker_round_failed", error=repr(exc))
            return
        if expired or polled or any(retried.values()):
            log.info("worker_round", expired=expired, polled=polled, retried=retried)

    @rpc
    def expire_due(self) -> int:
        """Expire the unpaid payments past their expiry (each asked at the provider first)."""
        self.read.catch_up(self.app)
        due = self.read.due_for_expiry(self.app.clock(), self.app.expiry)
        cid = logs.correlation_id()
        return sum(self.app.expire_payment(payment_id, cid)["state"] == "expired" for payment_id in due)

    @rpc
    def poll_unfinished(self, limit: int = 100) -> dict[str, int]:
        """Ask the provider about unfinished payments (a lost webhook never strands a case)."""
        self.read.catch_up(self.app)
        cid, counts = logs.correlation_id(), Counter[str]()
        for payment_id in self.read.unfinished(limit):
            try:
                counts[self.app.sync_payment(payment_id, cid)["state"]] += 1
            except DomainError as exc:
                counts[exc.code] += 1
        return dict(counts)

    @rpc
    def retry_pending(self) -> dict[str, Any]:
        """Apply notices still in the inbox and send refunds the provider has not confirmed."""
        self.read.catch_up(self.app)
        cid = logs.correlation_id()
        return {
            "notices": self.app.process_pending(self.read.pending_notices(), cid),
            "refunds": self.app.submit_pending_refunds(self.read.pending_refunds(), cid),
        }
