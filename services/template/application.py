"""The template application: owns the Reminder event store.

Why this shape: every command is load → decide (the aggregate's rules) → save, one
transaction, and returns plain values (dicts), so the nameko service, worker processes,
a CLI and tests call the same methods. :func:`open_template` builds it on the configured
store (SQLite file under var/, or the service's own PostgreSQL schema).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from services.common.db import open_application
from services.common.problems import DomainError, text
from services.template.domain import Reminder


def day(value: str, name: str = "due_on") -> date:
    """An ISO date from the outside (RPC arguments are JSON), or ``invalid_parameter``."""
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("invalid_parameter", name=name, detail=text("iso_date")) from None


def reminder_view(reminder: Reminder) -> dict[str, Any]:
    return {
        "reminder_id": str(reminder.id),
        "tenant": reminder.tenant,
        "subject": reminder.subject,
        "due_on": reminder.due_on,
        "status": reminder.status,
        "version": reminder.version,
    }


class TemplateApp(Application[UUID]):
    name = "template"

    def schedule(self, tenant: str, subject: str, due_on: str, actor: str, correlation_id: str) -> dict[str, Any]:
        reminder = Reminder.schedule(
            tenant=tenant, subject=subject, due_on=day(due_on), actor=actor, correlation_id=correlation_id
        )
        self.save(reminder)
        return reminder_view(reminder)

    def postpone(self, reminder_id: str, due_on: str, actor: str, correlation_id: str) -> dict[str, Any]:
        reminder = self.reminder(reminder_id)
        reminder.postpone(day(due_on), actor, correlation_id)
        self.save(reminder)
        return reminder_view(reminder)

    def complete(self, reminder_id: str, actor: str, correlation_id: str) -> dict[str, Any]:
        reminder = self.reminder(reminder_id)
        reminder.complete(actor, correlation_id)
        self.save(reminder)
        return reminder_view(reminder)

    def reminder(self, reminder_id: str) -> Reminder:
        """The reminder, or ``not_found`` (also for ids that are no UUID or another aggregate)."""
        try:
            found = self.repository.get(UUID(str(reminder_id)))
        except (ValueError, AggregateNotFoundError):
            found = None
        if not isinstance(found, Reminder):
            raise DomainError("not_found", log_message=f"no reminder {str(reminder_id)[:64]}")
        return found


def open_template() -> TemplateApp:
    """The template application on the configured store (used by service, workers, CLI)."""
    return open_application(TemplateApp, "template")
