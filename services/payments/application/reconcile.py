"""Reconciliation per tenant and day: the provider's settlement report against our ledger.

Why the second look: a line the provider booked that our ledger lacks is usually a lost
notice, so before recording it as a mismatch we ask the provider about that payment and
apply what it says (money received is never ignored), then compare again. What is left is
recorded (each new mismatch once, as an event and a metric) and reported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from services.common.problems import DomainError, text
from services.payments import metrics
from services.payments.application.base import as_uuid, log
from services.payments.application.refunds import Refunds
from services.payments.domain import Payment, Reconciliation
from services.payments.domain.reconciliation import AMOUNT_DIFFERS, MISSING_IN_LEDGER, Line, compare
from services.payments.psp import ProviderError

MAX_DAYS_WITHOUT_BOOKINGS = 366


def check_day(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("invalid_parameter", name="day", detail=text("iso_date")) from None


def totals(settlement: list[Line], ledger: list[Line]) -> dict[str, int]:
    return {
        "settlement_lines": len(settlement), "settlement_cents": sum(line.amount_cents for line in settlement),
        "ledger_lines": len(ledger), "ledger_cents": sum(line.amount_cents for line in ledger),
    }


class Reconciling(Refunds):
    def reconcile(self, tenant: str, day: str, ledger: Callable[[], list[Line]], actor: str,
                  correlation_id: str) -> dict[str, Any]:
        """Compare the day's settlement report with ``ledger()`` (the tenant's ledger lines of
        that day, read fresh on each call), record the result, return the report."""
        booking_day = check_day(day)
        merchant = self.merchants.for_tenant(tenant)
        try:
            settlement = self.psp().settlement(merchant, booking_day)
        except ProviderError as exc:
            raise DomainError("service_unavailable", log_message=f"settlement report: {exc}") from exc
        lines = ledger()
        mismatches = compare(settlement, lines)
        unknown = {m.psp_id if m.line_kind == "payment" else "" for m in mismatches if m.problem in (MISSING_IN_LEDGER, AMOUNT_DIFFERS)}
        unknown |= {line.psp_payment_id for line in settlement for m in mismatches
                    if m.problem == MISSING_IN_LEDGER and line.key == m.key}
        if self._ask_about(merchant, unknown - {""}, correlation_id):
            lines = ledger()
            mismatches = compare(settlement, lines)

        def command() -> list[Any]:
            reconciliation = self._find(Reconciliation, Reconciliation.create_id(tenant, booking_day.isoformat()))
            reconciliation = reconciliation or Reconciliation(tenant=tenant, day=booking_day.isoformat())
            new = reconciliation.record(mismatches, totals(settlement, lines), actor, correlation_id)
            self.save(reconciliation)
            return new

        for mismatch in self.decide(command):
            metrics.MISMATCHES.labels(mismatch.problem).inc()
            log.warning("reconciliation_mismatch", tenant=tenant, day=booking_day.isoformat(), **mismatch.as_dict())
        return self.reconciliation_report(tenant, booking_day.isoformat())

    def _ask_about(self, merchant: Any, psp_payment_ids: set[str], correlation_id: str) -> bool:
        """Apply what the provider says about payments it booked that our ledger lacks; whether any was ours."""
        asked = False
        for psp_payment_id in sorted(psp_payment_ids):
            try:
                state = self.psp().payment(merchant, psp_payment_id)
            except ProviderError as exc:
                log.warning("reconciliation_lookup_failed", psp_payment_id=psp_payment_id, error=str(exc)[:200])
                continue
            payment = self._find(Payment, as_uuid(state.reference))
            if payment is not None and payment.tenant == merchant.tenant:
                self.apply_provider_state(str(payment.id), state, correlation_id)
                asked = True
        return asked

    def reconciliation_checks(self, tenant: str, first_day: str, last_day: str,
                              booked_days: set[str] | None = None) -> dict[str, dict[str, dict[str, Any]]]:
        """Per reconciled day: its open mismatches by key (for the cash office). The days with
        bookings (``booked_days``), and every day of the range when it spans at most a year
        (a reconciled day without bookings of ours may still hold money only the provider has)."""
        first, last = check_day(first_day), check_day(last_day)
        days = set(booked_days or ())
        if (last - first).days <= MAX_DAYS_WITHOUT_BOOKINGS:
            days |= {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}
        checks = {}
        for day in sorted(days):
            found = self._find(Reconciliation, Reconciliation.create_id(tenant, day))
            if found is not None and found.last_run:
                checks[day] = dict(found.open)
        return checks

    def reconciliation_report(self, tenant: str, day: str) -> dict[str, Any]:
        """The recorded result of a tenant's day (``not_found`` before the first run)."""
        booking_day = check_day(day).isoformat()
        found = self._find(Reconciliation, Reconciliation.create_id(tenant, booking_day))
        if found is None:
            raise DomainError("not_found", log_message=f"no reconciliation of {tenant} on {booking_day}")
        return {
            "tenant": tenant, "day": booking_day, **found.last_run,
            "mismatches": sorted(found.open.values(), key=lambda m: m["key"]), "runs_version": found.version,
        }
