"""Read model: a tenant's open reminders by due date (the clerk's Wiedervorlage list).

Why this shape: one table for one screen, folded from the events and rebuildable from the
event store (all tenants or one). A row changes only for a newer version, so an event
applied twice (redelivery, replay) changes nothing; the position commits with the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Application

from services.common.db import ReadStore
from services.common.streams import catch_up
from services.template.domain import DONE, OPEN, Reminder

DDL = """
CREATE TABLE IF NOT EXISTS reminders (reminder_id TEXT PRIMARY KEY, tenant TEXT NOT NULL,
    subject TEXT NOT NULL, due_on TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reminders_by_due ON reminders (tenant, status, due_on, reminder_id);
CREATE TABLE IF NOT EXISTS reminders_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
INSERT = (
    "INSERT INTO reminders (reminder_id, tenant, subject, due_on, status, version) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (reminder_id) DO NOTHING"
)
NEWER = "WHERE reminder_id = ? AND version < ?"  # only a newer event changes a row
TRACK = (
    "INSERT INTO reminders_position (board, position) VALUES ('due', ?) ON CONFLICT (board) "
    "DO UPDATE SET position = excluded.position WHERE reminders_position.position < excluded.position"
)


def statement(event: Any) -> tuple[str, tuple[Any, ...]] | None:
    """The SQL that applies one domain event, or None for events the board ignores."""
    key, version = str(event.originator_id), event.originator_version
    if isinstance(event, Reminder.Scheduled):
        return INSERT, (key, event.tenant, event.subject, event.due_on, OPEN, version)
    if isinstance(event, Reminder.Postponed):
        return f"UPDATE reminders SET due_on = ?, version = ? {NEWER}", (event.due_on, version, key, version)
    if isinstance(event, Reminder.Completed):
        return f"UPDATE reminders SET status = ?, version = ? {NEWER}", (DONE, version, key, version)
    return None


class ReminderBoard:
    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def close(self) -> None:  # Provided() calls it when the container stops
        self.store.close()

    @staticmethod
    def _fold(cur: Any, events: Iterable[Any], tenant: str | None = None) -> int:
        found = [s for e in events if tenant in (None, getattr(e, "tenant", None)) and (s := statement(e))]
        return sum(cur.execute(sql, params).rowcount for sql, params in found)

    def position(self) -> int:
        rows = self.store.query("SELECT position FROM reminders_position WHERE board = 'due'")
        return int(rows[0][0]) if rows else 0

    def apply(self, events: Iterable[Any], position: int | None = None) -> int:
        """Fold a batch (from the log or a queue) and its position in one transaction; rows changed."""
        with self.store.transaction() as cur:
            applied = self._fold(cur, events)
            if position is not None:
                cur.execute(TRACK, (position,))
        return applied

    def catch_up(self, app: Application, batch: int = 500) -> int:
        """Fold everything the event store recorded after the tracked position; rows changed."""
        return catch_up(app, self.position, self.apply, batch)

    def rebuild(self, app: Application, tenant: str | None = None) -> int:
        """Drop and refold from the event store (all tenants, or one) in one transaction."""
        with self.store.transaction(exclusive=True) as cur:
            where, params = (" WHERE tenant = ?", (tenant,)) if tenant else ("", ())
            cur.execute(f"DELETE FROM reminders{where}", params)
            position = applied = 0
            while notes := app.recorder.select_notifications(start=position, limit=1000, inclusive_of_start=False):
                applied += self._fold(cur, (app.mapper.to_domain_event(n) for n in notes), tenant)
                position = notes[-1].id
            if tenant is None:  # a one-tenant rebuild leaves the others' progress as it is
                cur.execute(TRACK, (position,))
        return applied

    def due(self, tenant: str, until: str, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's open reminders due on or before ``until`` (ISO date), oldest first."""
        rows = self.store.query(
            "SELECT reminder_id, subject, due_on, version FROM reminders WHERE tenant = ? AND status = ? "
            "AND due_on <= ? ORDER BY due_on, reminder_id LIMIT ?",
            (tenant, OPEN, until, limit),
        )
        return [dict(zip(("reminder_id", "subject", "due_on", "version"), row, strict=True)) for row in rows]
