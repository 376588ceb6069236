"""Read model: the outbox — every message's delivery state, and which are due to be sent.

Why this shape: the sender asks "what is due now?" and clerks will ask "what became of the
messages of this case?"; both are one table folded from the Message events and rebuildable
from the event store. A row changes only for a newer version (redelivery harmless); the
position commits with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Application

from services.common.db import ReadStore
from services.notifications.domain import (
    CREATED,
    DELIVERED,
    PERMANENT_FAILURE,
    SENDING,
    TECHNICAL_FAILURE,
    TEMPORARY_FAILURE,
    Message,
)

DDL = """
CREATE TABLE IF NOT EXISTS outbox (message_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, case_id TEXT NOT NULL,
    kind TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, template_version INTEGER,
    next_attempt_at TEXT, error TEXT, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_by_status ON outbox (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS outbox_by_case ON outbox (case_id);
CREATE TABLE IF NOT EXISTS outbox_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
INSERT = (
    "INSERT INTO outbox (message_id, tenant, case_id, kind, status, attempts, version) VALUES (?, ?, ?, ?, ?, 0, ?) "
    "ON CONFLICT (message_id) DO NOTHING"
)
NEWER = "version = ? WHERE message_id = ? AND version < ?"
TRACK = (
    "INSERT INTO outbox_position (board, position) VALUES ('outbox', ?) ON CONFLICT (board) "
    "DO UPDATE SET position = excluded.position WHERE outbox_position.position < excluded.position"
)
COLUMNS = ("message_id", "tenant", "case_id", "kind", "status", "attempts", "template_version", "next_attempt_at", "error")


def statement(event: Any) -> tuple[str, tuple[Any, ...]] | None:
    key, version = str(event.originator_id), event.originator_version
    tail = (version, key, version)
    if isinstance(event, Message.Created):
        return INSERT, (key, event.tenant, event.case_id, event.kind, CREATED, version)
    if isinstance(event, Message.SendingStarted):
        sql = f"UPDATE outbox SET status = ?, attempts = attempts + 1, template_version = ?, {NEWER}"
        return sql, (SENDING, event.template_version, *tail)
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
        applied = 0
        while notes := app.recorder.select_notifications(start=self.position(), limit=batch, inclusive_of_start=False):
            applied += self.apply((app.mapper.to_domain_event(n) for n in notes), notes[-1].id)
        return applied

    def due(self, now: str, limit: int = 100) -> list[str]:
        """Ids of messages to send now: new ones, and failed-temporarily ones whose wait is over."""
        rows = self.store.query(
            "SELECT message_id FROM outbox WHERE status = ? OR (status = ? AND next_attempt_at <= ?) "
            "ORDER BY next_attempt_at, message_id LIMIT ?",
            (CREATED, TEMPORARY_FAILURE, now, limit),
        )
        return [row[0] for row in rows]

    def for_case(self, case_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(f"SELECT {', '.join(COLUMNS)} FROM outbox WHERE case_id = ? ORDER BY message_id", (case_id,))
        return [dict(zip(COLUMNS, row, strict=True)) for row in rows]
