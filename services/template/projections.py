"""Read model: a tenant's open reminders by due date (the clerk's Wiedervorlage list).

Why this shape: one table for one screen, folded from the events and rebuildable from the
event store (all tenants or one). A row changes only for a newer version, so an event
applied twice (redelivery, replay) changes nothing; the position commits with the rows
(the mechanics: :class:`services.common.projection.FoldedReadModel`).
"""

from __future__ import annotations

from typing import Any

from services.common.projection import FoldedReadModel, Statement
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


class ReminderBoard(FoldedReadModel):
    DDL = DDL
    TABLES = ("reminders",)
    POSITION_TABLE, BOARD = "reminders_position", "due"

    def statements(self, event: Any) -> list[Statement]:
        found = statement(event)
        return [found] if found else []

    def due(self, tenant: str, until: str, limit: int = 100) -> list[dict[str, Any]]:
        """The tenant's open reminders due on or before ``until`` (ISO date), oldest first."""
        rows = self.store.query(
            "SELECT reminder_id, subject, due_on, version FROM reminders WHERE tenant = ? AND status = ? "
            "AND due_on <= ? ORDER BY due_on, reminder_id LIMIT ?",
            (tenant, OPEN, until, limit),
        )
        return [dict(zip(("reminder_id", "subject", "due_on", "version"), row, strict=True)) for row in rows]
