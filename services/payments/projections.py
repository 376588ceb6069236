"""Read models of the payments service: payments (per case, per tenant, what is due for
expiry, polling or a refund retry), the ledger (every booking the cash office needs) and
the webhook inbox's pending notices.

Why this shape: folded from the payments event store itself (``catch_up``, so the service
reads its own writes; :class:`services.common.projection.FoldedReadModel`), rows change only
for a newer aggregate version and ledger entries have fixed keys, so an event applied twice
changes nothing; the position commits with the rows; rebuildable for all tenants or one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.common.projection import FoldedReadModel, Statement
from services.payments.domain import Notice, Payment
from services.payments.domain.reconciliation import PAYMENT_LINE, REFUND_LINE, Line, booking_day

DDL = """
CREATE TABLE IF NOT EXISTS payments (payment_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, tenant TEXT NOT NULL,
    service_id TEXT NOT NULL, attempt INTEGER NOT NULL, kassenzeichen TEXT NOT NULL, case_reference TEXT NOT NULL,
    amount_cents BIGINT NOT NULL, state TEXT NOT NULL, method TEXT, psp_payment_id TEXT, expires_at TEXT,
    booked_at TEXT, refund_state TEXT, refund_id TEXT, refunded_cents BIGINT NOT NULL, needs_attention INTEGER NOT NULL,
    created_at TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS payments_by_tenant ON payments (tenant, created_at, payment_id);
CREATE INDEX IF NOT EXISTS payments_by_case ON payments (case_id, attempt);
CREATE INDEX IF NOT EXISTS payments_by_state ON payments (state, expires_at);
CREATE INDEX IF NOT EXISTS payments_by_refund ON payments (refund_state);
CREATE TABLE IF NOT EXISTS ledger (entry_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, booking_date TEXT NOT NULL,
    booked_at TEXT NOT NULL, kind TEXT NOT NULL, psp_id TEXT NOT NULL, psp_payment_id TEXT NOT NULL,
    payment_id TEXT NOT NULL, reference TEXT NOT NULL, case_id TEXT NOT NULL, kassenzeichen TEXT NOT NULL,
    case_reference TEXT NOT NULL, amount_cents BIGINT NOT NULL, method TEXT);
CREATE INDEX IF NOT EXISTS ledger_by_day ON ledger (tenant, booking_date, booked_at, entry_id);
CREATE TABLE IF NOT EXISTS notices (notice_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, state TEXT NOT NULL,
    received_at TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS notices_by_state ON notices (state, received_at);
CREATE TABLE IF NOT EXISTS payments_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
PAYMENT_COLUMNS = (
    "payment_id", "case_id", "tenant", "service_id", "attempt", "kassenzeichen", "case_reference", "amount_cents",
    "state", "method", "psp_payment_id", "expires_at", "booked_at", "refund_state", "refund_id", "refunded_cents",
    "needs_attention", "created_at", "version",
)
LEDGER_COLUMNS = (
    "entry_id", "tenant", "booking_date", "booked_at", "kind", "psp_id", "psp_payment_id", "payment_id", "reference",
    "case_id", "kassenzeichen", "case_reference", "amount_cents", "method",
)
LEDGER_INSERT = (
    f"INSERT INTO ledger ({', '.join(LEDGER_COLUMNS)}) VALUES ({', '.join('?' * len(LEDGER_COLUMNS))}) "
    "ON CONFLICT (entry_id) DO NOTHING"
)


def utc(instant: str | None) -> str | None:
    """One spelling of instants (the provider writes ``…Z``), so that text order is time order."""
    return datetime.fromisoformat(instant).astimezone(UTC).isoformat(timespec="seconds") if instant else None


def _update(table: str, key: str, event: Any, **columns: Any) -> tuple[str, tuple[Any, ...]]:
    """Change a row only for a newer version of its aggregate (redelivery changes nothing)."""
    assignments = ", ".join(f"{name} = {value[0]}" if isinstance(value, tuple) else f"{name} = ?" for name, value in columns.items())
    values = [v for v in columns.values() if not isinstance(v, tuple)]
    sql = f"UPDATE {table} SET {assignments}, version = ? WHERE {key} = ? AND version < ?"
    return sql, (*values, event.originator_version, str(event.originator_id), event.originator_version)


def _ledger(event: Any, kind: str, psp_id: str, cents: int, entry: str, reference: str) -> tuple[str, tuple[Any, ...]]:
    row = {
        "entry_id": entry, "tenant": event.tenant, "booking_date": booking_day(event.booked_at),
        "booked_at": utc(event.booked_at), "kind": kind, "psp_id": psp_id,
        "psp_payment_id": getattr(event, "psp_payment_id", "") or "", "payment_id": str(event.originator_id),
        "reference": reference, "case_id": event.case_id, "kassenzeichen": event.kassenzeichen,
        "case_reference": event.case_reference, "amount_cents": cents, "method": getattr(event, "method", None),
    }
    return LEDGER_INSERT, tuple(row[c] for c in LEDGER_COLUMNS)


def statements(event: Any) -> list[Statement]:
    """The SQL that applies one domain event (none for events the read models ignore)."""
    if isinstance(event, Payment.Created):
        row = {
            "payment_id": str(event.originator_id), "case_id": event.case_id, "tenant": event.tenant,
            "service_id": event.service_id, "attempt": event.attempt, "kassenzeichen": event.kassenzeichen,
            "case_reference": event.case_reference, "amount_cents": event.amount_cents, "state": "created",
            "method": None, "psp_payment_id": None, "expires_at": None, "booked_at": None, "refund_state": None,
            "refund_id": None, "refunded_cents": 0, "needs_attention": 0, "created_at": utc(event.created_at),
            "version": event.originator_version,
        }
        sql = (f"INSERT INTO payments ({', '.join(PAYMENT_COLUMNS)}) VALUES ({', '.join('?' * len(PAYMENT_COLUMNS))}) "
               "ON CONFLICT (payment_id) DO NOTHING")
        return [(sql, tuple(row[c] for c in PAYMENT_COLUMNS))]
    if isinstance(event, Payment.Started):
        return [_update("payments", "payment_id", event, state="open", psp_payment_id=event.psp_payment_id,
                        expires_at=utc(event.expires_at))]
    if isinstance(event, Payment.Succeeded):
        pid = str(event.originator_id)
        return [
            _update("payments", "payment_id", event, state="paid", method=event.method, booked_at=utc(event.booked_at),
                    psp_payment_id=event.psp_payment_id),
            _ledger(event, PAYMENT_LINE, event.psp_payment_id, event.amount_cents, f"{pid}:payment", pid),
        ]
    for ended, state in ((Payment.Failed, "failed"), (Payment.Cancelled, "cancelled"), (Payment.Expired, "expired")):
        if isinstance(event, ended):
            return [_update("payments", "payment_id", event, state=state)]
    if isinstance(event, Payment.RefundRequested):
        attention = ("needs_attention",) if not event.flagged else ("1",)
        return [_update("payments", "payment_id", event, refund_state="requested", refund_id=event.refund_id,
                        needs_attention=attention)]
    if isinstance(event, Payment.Refunded):
        entry = f"{event.originator_id}:refund:{event.refund_id}"
        return [
            _update("payments", "payment_id", event, refund_state="refunded", refunded_cents=(f"refunded_cents + {int(event.amount_cents)}",)),
            _ledger(event, REFUND_LINE, event.psp_refund_id, -event.amount_cents, entry, event.refund_id),
        ]
    if isinstance(event, Payment.RefundFailed):
        return [_update("payments", "payment_id", event, refund_state="failed", needs_attention=("1",))]
    if isinstance(event, Notice.Received):
        sql = "INSERT INTO notices (notice_id, tenant, state, received_at, version) VALUES (?, ?, ?, ?, ?) ON CONFLICT (notice_id) DO NOTHING"
        return [(sql, (str(event.originator_id), event.tenant, "received", utc(event.received_at), event.originator_version))]
    for step, state in ((Notice.Parked, "parked"), (Notice.Applied, "applied")):
        if isinstance(event, step):
            return [_update("notices", "notice_id", event, state=state)]
    return []


class PaymentReadModels(FoldedReadModel):
    DDL = DDL
    TABLES = ("payments", "ledger", "notices")
    POSITION_TABLE, BOARD = "payments_position", "payments"

    def statements(self, event: Any) -> list[Statement]:
        return statements(event)

    # -- reading ---------------------------------------------------------------------------
    def _payments(self, where: str, params: tuple[Any, ...], order: str, limit: int) -> list[dict[str, Any]]:
        rows = self.store.query(f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM payments WHERE {where} ORDER BY {order} LIMIT ?",
                                (*params, limit))
        return [dict(zip(PAYMENT_COLUMNS, row, strict=True)) for row in rows]

    def payments_of_tenant(self, tenant: str, *, state: str | None = None, attention: bool = False,
                           before: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """A tenant's payments, newest first; ``before`` is the last ``created_at|payment_id`` seen."""
        where, params = ["tenant = ?"], [tenant]
        if state:
            where.append("state = ?")
            params.append(state)
        if attention:
            where.append("needs_attention = 1")
        if before:
            created_at, _, payment_id = before.partition("|")
            where.append("(created_at < ? OR (created_at = ? AND payment_id < ?))")
            params.extend([created_at, created_at, payment_id])
        return self._payments(" AND ".join(where), tuple(params), "created_at DESC, payment_id DESC", limit)

    def payments_of_case(self, case_id: str) -> list[dict[str, Any]]:
        return self._payments("case_id = ?", (case_id,), "attempt", 1000)

    def due_for_expiry(self, now: datetime, expiry: timedelta, limit: int = 500) -> list[str]:
        """Unpaid payments past their expiry (never started ones: ``expiry`` after creation)."""
        rows = self.store.query(
            "SELECT payment_id FROM payments WHERE (state = 'open' AND expires_at <= ?) "
            "OR (state = 'created' AND created_at <= ?) ORDER BY created_at LIMIT ?",
            (utc(now.isoformat()), utc((now - expiry).isoformat()), limit),
        )
        return [row[0] for row in rows]

    def unfinished(self, limit: int = 500) -> list[str]:
        """Payments the provider may still complete (to poll for a lost webhook)."""
        rows = self.store.query("SELECT payment_id FROM payments WHERE state IN ('created', 'open') ORDER BY created_at LIMIT ?", (limit,))
        return [row[0] for row in rows]

    def pending_refunds(self, limit: int = 500) -> list[tuple[str, str]]:
        rows = self.store.query("SELECT payment_id, refund_id FROM payments WHERE refund_state = 'requested' LIMIT ?", (limit,))
        return [(row[0], row[1]) for row in rows]

    def pending_notices(self, limit: int = 500) -> list[str]:
        rows = self.store.query("SELECT notice_id FROM notices WHERE state <> 'applied' ORDER BY received_at LIMIT ?", (limit,))
        return [row[0] for row in rows]

    def ledger(self, tenant: str, first_day: str, last_day: str | None = None) -> list[dict[str, Any]]:
        """The tenant's bookings from ``first_day`` to ``last_day`` (inclusive), in booking order."""
        rows = self.store.query(
            f"SELECT {', '.join(LEDGER_COLUMNS)} FROM ledger WHERE tenant = ? AND booking_date >= ? AND booking_date <= ? "
            "ORDER BY booking_date, booked_at, entry_id",
            (tenant, first_day, last_day or first_day),
        )
        return [dict(zip(LEDGER_COLUMNS, row, strict=True)) for row in rows]

    def ledger_lines(self, tenant: str, day: str) -> list[Line]:
        """The day's bookings as reconciliation lines."""
        return [Line(row["kind"], row["psp_id"], int(row["amount_cents"]), row["reference"], row["kassenzeichen"],
                     row["psp_payment_id"]) for row in self.ledger(tenant, day)]
