"""The Reminder (Wiedervorlage): a clerk's note to look at something again on a date.

Why this shape: public command methods check the rules and raise DomainErrors; the
private ``@event`` methods only change state, because eventsourcing runs them again
whenever the aggregate is loaded from its stored events. Their names and parameters
are the stored event classes and attributes: once events are stored, rename nothing.
Every event carries tenant (AGS), actor and correlation id. Pure: no I/O imports.
"""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text

OPEN, DONE = "open", "done"
STATUS_DE = {OPEN: "Offen", DONE: "Erledigt"}
SUBJECT_LIMIT = 200


class ReminderClosed(DomainError):
    """A command the reminder no longer accepts (it is done)."""

    code = "transition_not_allowed"


class Reminder(Aggregate):
    @event("Scheduled")
    def __init__(self, tenant: str, subject: str, due_on: str, actor: str, correlation_id: str) -> None:
        self.tenant = tenant
        self.subject = subject
        self.due_on = due_on
        self.status = OPEN
        self.done_by: str | None = None

    @classmethod
    def schedule(cls, *, tenant: str, subject: str, due_on: date, actor: str, correlation_id: str) -> Reminder:
        subject = subject.strip()
        if not 0 < len(subject) <= SUBJECT_LIMIT:
            raise DomainError("invalid_parameter", name="subject", detail=text("text_length", limit=SUBJECT_LIMIT))
        return cls(tenant, subject, due_on.isoformat(), actor, correlation_id)

    # -- commands: check, then record -----------------------------------------------------
    def _require_open(self, action: str) -> None:
        if self.status != OPEN:
            raise ReminderClosed(action=action, status=self.status, status_de=STATUS_DE[self.status])

    def postpone(self, due_on: date, actor: str, correlation_id: str) -> None:
        self._require_open("postpone")
        if due_on.isoformat() != self.due_on:  # the same date again records nothing
            self._postponed(self.tenant, due_on.isoformat(), actor, correlation_id)

    def complete(self, actor: str, correlation_id: str) -> None:
        self._require_open("complete")
        self._completed(self.tenant, actor, correlation_id)

    # -- events: state changes only ------------------------------------------------------------
    @event("Postponed")
    def _postponed(self, tenant: str, due_on: str, actor: str, correlation_id: str) -> None:
        self.due_on = due_on

    @event("Completed")
    def _completed(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.status = DONE
        self.done_by = actor
