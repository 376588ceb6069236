"""Read model: the outbox — every message's delivery state, and which are due to be sent.

Why this shape: the sender asks "what is due now?" and clerks will ask "what became of the
messages of this case?"; both are one table folded from the Message events and rebuildable
from the event store. A row changes only for a newer version (redelivery harmless); the
position commits with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.application import Application

from services.common.db import ReadStore
from services.common.streams import catch_up
from services.notifications.domain import (
    CREATED,
    DEFERRED,
    DELIVERED,
    PENDING,
    PERMANENT_FAILURE,
    SENDING,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Message,
)

DDL = """
CREATE TABLE IF NOT EXISTS outbox (message_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, case_id TEXT NOT NULL,
    kind TEXT NOT NULL, channel TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL, template_version INTEGER, next_attempt_at TEXT, error TEXT, first_attempt_at TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_status ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_case ON outbox (case_id);
CREATE INDEX IF NOT EXISTS outbox_by_recipient ON outbox (recipient, first_attempt_at);
CREATE TABLE IF NOT EXISTS outbox_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
INSERT = (
    "INSERT INTO outbox (message_id, tenant, case_id, kind, channel, recipient, status, attempts, created_at, "
    "updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) "
    "ON CONFLICT (message_id) DO NOTHING"
)
NEWER = "updated_at = ?, version = ? WHERE message_id = ? AND version < ?"
TRACK = (
    "INSERT INTO outbox_position (board, position) VALUES ('outbox', ?) ON CONFLICT (board) "
    "DO UPDATE SET position = excluded.position WHERE outbox_position.position < excluded.position"
)
#: A message left "sending" this long (the sender died mid-attempt) is due again: SMTP gives
#: no way to ask whether the mail left, so this is the one place a mail may go out twice.
SENDING_LEASE = timedelta(minutes=5)
COLUMNS = (
    "message_id", "tenant", "case_id", "kind", "channel", "status", "attempts", "template_version", "next_attempt_at",
    "error", "created_at", "updated_at",
)


def statement(event: Any) -> tuple[str, tuple[Any, ...]] | None:
    key, version, at = str(event.originator_id), event.originator_version, event.timestamp.isoformat()
    tail = (at, version, key, version)
    if isinstance(event, Message.Created):
        return INSERT, (key, event.tenant, event.case_id, event.kind, event.channel, event.recipient, CREATED, at, at, version)
    if isinstance(event, Message.SendingStarted):
        lease = (datetime.fromisoformat(event.at) + SENDING_LEASE).isoformat()
        sql = (
            "UPDATE outbox SET status = ?, attempts = attempts + 1, template_version = ?, next_attempt_at = ?, "
            f"first_attempt_at = COALESCE(first_attempt_at, ?), {NEWER}"
        )
        return sql, (SENDING, event.template_version, lease, event.at, *tail)
    if isinstance(event, Message.Deferred):
        sql = f"UPDATE outbox SET status = ?, next_attempt_at = ?, error = ?, {NEWER}"
        return sql, (DEFERRED, event.next_attempt_at, event.reason, *tail)
    if isinstance(event, Message.Erased):  # the row stays for the authority: kind, dates, state; not whose
        sql = (
            "UPDATE outbox SET recipient = '', status = CASE WHEN status IN (?, ?, ?, ?) THEN ? ELSE status END, "
            f"error = CASE WHEN status IN (?, ?, ?, ?) THEN 'recipient erased' ELSE error END, next_attempt_at = NULL, {NEWER}"
        )
        pending = (CREATED, SENDING, TEMPORARY_FAILURE, DEFERRED)
        return sql, (*pending, PERMANENT_FAILURE, *pending, *tail)
    if isinstance(event, Message.Delivered):
        return f"UPDATE outbox SET status = ?, next_attempt_at = NULL, error = NULL, {NEWER}", (DELIVERED, *tail)
    if isinstance(event, Message.TemporarilyFailed):
        sql = f"UPDATE outbox SET status = ?, next_attempt_at = ?, error = ?, {NEWER}"
        return sql, (TEMPORARY_FAILURE, event.next_attempt_at, event.error, *tail)
    for cls, status in ((Message.PermanentlyFailed, PERMANENT_FAILURE), (Message.TechnicallyFailed, TECHNICAL_FAILURE)):
        if isinstance(event, cls):
            return f"UPDATE outbox SET status = ?, next_attempt_at = NULL, error = ?, {NEWER}", (status, event.error, *tail)
    return None


class Outbox:
    def __init__(self, store: ReadStore):
        self.store = store
        try:  # the first slice's table lacked columns: a read model, rebuilt from the events
            store.query("SELECT recipient, channel, updated_at, first_attempt_at FROM outbox LIMIT 1")
        except Exception:  # noqa: BLE001 - no table yet, or the old one
            store.executescript("DROP TABLE IF EXISTS outbox; DROP TABLE IF EXISTS outbox_position")
        store.executescript(DDL)

    def close(self) -> None:
        self.store.close()

    def position(self) -> int:
        rows = self.store.query("SELECT position FROM outbox_position WHERE board = 'outbox'")
        return int(rows[0][0]) if rows else 0

    def apply(self, events: Iterable[Any], position: int | None = None) -> int:
        with self.store.transaction() as cur:
            applied = sum(cur.execute(sql, params).rowcount for e in events if (found := statement(e)) for sql, params in [found])
            if position is not None:
                cur.execute(TRACK, (position,))
        return applied

    def catch_up(self, app: Application, batch: int = 500) -> int:
        """Fold everything the event store recorded after the tracked position; rows changed."""
        return catch_up(app, self.position, self.apply, batch)

    def due(self, now: str, limit: int = 100) -> list[str]:
        """Ids of messages to send now: new ones, failed-temporarily ones whose wait is over,
        and ones whose attempt was cut off (still "sending" after :data:`SENDING_LEASE`)."""
        rows = self.store.query(
            "SELECT message_id FROM outbox WHERE status = ? OR (status IN (?, ?, ?) AND next_attempt_at <= ?) "
            "ORDER BY created_at, message_id LIMIT ?",  # oldest first: a case's notices in their order
            (CREATED, TEMPORARY_FAILURE, SENDING, DEFERRED, now, limit),
        )
        return [row[0] for row in rows]

    def pending(self) -> tuple[dict[str, int], str | None]:
        """Undelivered messages per state, and when the oldest of them was created (metrics)."""
        rows = self.store.query(
            "SELECT status, COUNT(*), MIN(created_at) FROM outbox WHERE status IN (?, ?, ?, ?) GROUP BY status",
            (CREATED, SENDING, TEMPORARY_FAILURE, DEFERRED),
        )
        return {str(status): int(count) for status, count, _ in rows}, min((str(r[2]) for r in rows), default=None)

    def undelivered(self, tenant: str | None) -> dict[str, int]:
        """A tenant's (None: every tenant's) messages not delivered now: still on their way
        (pending) or given up (failed)."""
        where, params = ("tenant = ? AND ", (tenant,)) if tenant is not None else ("", ())
        rows = self.store.query(f"SELECT status, COUNT(*) FROM outbox WHERE {where}status <> ? GROUP BY status",
                                (*params, DELIVERED))
        counts = {str(status): int(count) for status, count in rows}
        return {"pending": sum(counts.get(s, 0) for s in PENDING),
                "failed": sum(n for s, n in counts.items() if s not in PENDING)}

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            f"SELECT {', '.join(COLUMNS)} FROM outbox WHERE case_id = ? ORDER BY created_at, message_id", (case_id,)
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]

    def sent_since(self, recipient: str, since: str) -> list[str]:
        """When the recipient's messages first left, for those that left after ``since`` (rate limit)."""
        rows = self.store.query(
            "SELECT first_attempt_at FROM outbox WHERE recipient = ? AND first_attempt_at > ?", (recipient, since)
        )
        return [str(row[0]) for row in rows]

    def messages_of(self, recipient: str) -> list[str]:
        return [row[0] for row in self.store.query("SELECT message_id FROM outbox WHERE recipient = ?", (recipient,))]

    def cases_of(self, recipient: str) -> list[str]:
        rows = self.store.query("SELECT DISTINCT case_id FROM outbox WHERE recipient = ? AND case_id <> ''", (recipient,))
        return [row[0] for row in rows]
