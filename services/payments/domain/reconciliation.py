"""Reconciliation: a tenant's day at the provider (the settlement report) against our ledger.

Why this shape: the comparison is a pure function of two lists of lines; a Reconciliation
aggregate per tenant and day records what it found, each mismatch once as an event (a run
repeated finds nothing new), and a mismatch that a later run no longer sees as resolved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate, event

from services.payments.domain.payment import PAYMENT_NAMESPACE

BERLIN = ZoneInfo("Europe/Berlin")
PAYMENT_LINE, REFUND_LINE = "payment", "refund"
MISSING_IN_LEDGER = "missing_in_ledger"  # the provider booked money we have no record of
MISSING_IN_SETTLEMENT = "missing_in_settlement"  # we booked money the provider does not report
AMOUNT_DIFFERS = "amount_differs"
DUPLICATE_IN_SETTLEMENT = "duplicate_in_settlement"


@dataclass(frozen=True)
class Line:
    """One booking: a payment (positive cents) or a refund (negative), by the provider's id."""

    kind: str
    psp_id: str
    amount_cents: int
    reference: str = ""
    kassenzeichen: str = ""
    psp_payment_id: str = ""  # a refund's payment (a payment's own id)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.psp_id}"


@dataclass(frozen=True)
class Mismatch:
    key: str
    problem: str
    line_kind: str
    psp_id: str
    reference: str
    ledger_cents: int | None
    settlement_cents: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compare(settlement: list[Line], ledger: list[Line]) -> list[Mismatch]:
    """Every difference between the provider's lines and ours, in key order."""
    reported: dict[str, list[Line]] = {}
    for line in settlement:
        reported.setdefault(line.key, []).append(line)
    booked = {line.key: line for line in ledger}
    found = []
    for key in sorted(reported.keys() | booked.keys()):
        lines, ours = reported.get(key, []), booked.get(key)
        some = lines[0] if lines else ours
        assert some is not None
        problem = None
        if len(lines) > 1:
            problem = DUPLICATE_IN_SETTLEMENT
        elif not lines:
            problem = MISSING_IN_SETTLEMENT
        elif ours is None:
            problem = MISSING_IN_LEDGER
        elif lines[0].amount_cents != ours.amount_cents:
            problem = AMOUNT_DIFFERS
        if problem:
            found.append(Mismatch(
                key, problem, some.kind, some.psp_id, (ours or some).reference,
                ours.amount_cents if ours else None, sum(line.amount_cents for line in lines) if lines else None,
            ))
    return found


class Reconciliation(Aggregate):
    @staticmethod
    def create_id(tenant: str, day: str) -> UUID:
        return uuid5(PAYMENT_NAMESPACE, f"reconciliation|{tenant}|{day}")

    @event("Opened")
    def __init__(self, tenant: str, day: str) -> None:
        self.tenant = tenant
        self.day = day
        self.open: dict[str, dict[str, Any]] = {}
        self.last_run: dict[str, Any] = {}

    def record(self, mismatches: list[Mismatch], totals: dict[str, int], actor: str, correlation_id: str) -> list[Mismatch]:
        """Record a run: mismatches not seen before (returned), those gone, and the totals."""
        found = {m.key: m for m in mismatches}
        new = [m for key, m in found.items() if self.open.get(key) != m.as_dict()]
        for mismatch in new:
            self._mismatch_found(self.tenant, self.day, mismatch.as_dict(), actor, correlation_id)
        for key in sorted(self.open.keys() - found.keys()):
            self._mismatch_resolved(self.tenant, self.day, key, actor, correlation_id)
        self._reconciled(self.tenant, self.day, dict(totals), len(found), actor, correlation_id)
        return new

    @event("MismatchFound")
    def _mismatch_found(self, tenant: str, day: str, mismatch: dict[str, Any], actor: str, correlation_id: str) -> None:
        self.open[mismatch["key"]] = mismatch

    @event("MismatchResolved")
    def _mismatch_resolved(self, tenant: str, day: str, key: str, actor: str, correlation_id: str) -> None:
        self.open.pop(key, None)

    @event("Reconciled")
    def _reconciled(self, tenant: str, day: str, totals: dict[str, int], mismatches: int, actor: str,
                    correlation_id: str) -> None:
        self.last_run = {**totals, "mismatches": mismatches}


def booking_day(instant: str) -> str:
    """The booking date of an instant: the day in Germany (as the provider's settlement counts)."""
    return datetime.fromisoformat(instant).astimezone(BERLIN).date().isoformat()
