"""Due reminders delivered (issue #16): the consumer schedules a reminder as a
``RuleAction`` with ``due_at``; a timer in the rules consumer process hands each one, once
due and still needed, to notifications and records it as settled.

Why exactly once: notifications derives its message ids from the reminder (the action) id,
so handing the same reminder over again records nothing; the action's ``Settled`` event is
saved after the hand-over, so a crash between the two only repeats a harmless hand-over,
and a settled action is never handed over again. Which reminders are scheduled is read from
the rules' own notification log (no read model to lag); a restart reads it from the start.

An overdue notice goes to every team lead of the case's tenant, asked of identity when it is
due (``identity.staff_with_role``, RPC: identity owns who holds which role, and a lead named
or revoked yesterday counts today; a staff projection here would duplicate its grant rules).
Only account ids are handed on — notifications addresses each like every account mail, and
keys one message per reminder and lead. A tenant without a team lead: the authority's own
address, logged and counted as ``authority_fallback``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from services.common import logs
from services.common.cases import OPEN, Status
from services.common.problems import DomainError
from services.rules import metrics
from services.rules.domain import RuleAction

SCHEDULED = "scheduled"
PAGE = 1000
#: An overdue case is one nobody has decided while the authority, not the citizen, has it.
WAITING_ON_AUTHORITY = frozenset(OPEN) - {Status.INFORMATION_REQUESTED, Status.PAYMENT_PENDING}
TEAM_LEAD = "team_lead"
log = logs.get_logger("rules-reminders")


class Reminders(Protocol):
    """Where a due reminder goes: ``notifications.send_reminder`` (RPC; the app in tests)."""

    def send_reminder(self, reminder: dict[str, Any]) -> dict[str, int]: ...


class Staff(Protocol):
    """Who holds a role in a tenant: ``identity.staff_with_role`` (RPC; the app in tests)."""

    def staff_with_role(self, tenant: str, role: str) -> list[dict[str, str]]: ...


class ReminderDelivery:
    clock: Any
    recorder: Any
    mapper: Any
    repository: Any
    save: Any

    def deliver_due(self, cases: Any, reminders: Reminders, staff: Staff | None = None) -> dict[str, int]:
        """Hand every due, still scheduled reminder over; counts by result. Without ``staff``
        nobody is known as team lead (overdue notices go to the authority's address)."""
        pending = self._scan_reminders()
        now = self.clock()
        counts: dict[str, int] = {}
        for action_id, due_at in sorted(pending.items(), key=lambda item: item[1]):
            if datetime.fromisoformat(due_at) > now:
                continue
            action = self.repository.get(UUID(action_id))
            if action.result == SCHEDULED:
                result = self._deliver(action, cases, reminders, staff)
                action.settle(result, action.tenant, action.service_id, "rules", action.correlation_id)
                self.save(action)
                counts[result] = counts.get(result, 0) + 1
            del pending[action_id]
        return counts

    def _deliver(self, action: RuleAction, cases: Any, reminders: Reminders, staff: Staff | None) -> str:
        try:
            facts = cases.rule_facts(action.case_id)
        except DomainError as exc:
            if exc.code not in ("case_not_found", "not_found"):
                raise
            return "case_gone"
        status = facts.get("status")
        citizen = action.target == "citizen"
        if (status != Status.INFORMATION_REQUESTED) if citizen else (status not in WAITING_ON_AUTHORITY):
            return "not_needed"
        reminder = {
            "reminder_id": str(action.id), "audience": "citizen" if citizen else "team", "tenant": action.tenant,
            "case_id": action.case_id, "reference": str(facts.get("reference") or ""), "message": action.reason,
            "correlation_id": action.correlation_id,
        }
        if not citizen:
            reminder["recipients"] = self._team_leads(action, staff)
        reminders.send_reminder(reminder)
        return "sent"

    @staticmethod
    def _team_leads(action: RuleAction, staff: Staff | None) -> list[str]:
        """The tenant's team leads' account ids; none → the authority's address (said so)."""
        leads = sorted({str(s["account_id"]) for s in staff.staff_with_role(action.tenant, TEAM_LEAD)}) if staff else []
        if leads:
            metrics.OVERDUE_NOTICES.labels("team_lead").inc(len(leads))
        else:
            metrics.OVERDUE_NOTICES.labels("authority_fallback").inc()
            log.warning("overdue_notice_to_authority", reason="no_team_lead", tenant=action.tenant,
                        case_id=action.case_id, reminder_id=str(action.id))
        return leads

    def _scan_reminders(self) -> dict[str, str]:
        """Scheduled reminders not yet settled (action id → due_at), read on from where the
        last round stopped."""
        if not hasattr(self, "_reminders"):
            self._reminders: dict[str, str] = {}
            self._reminders_read = 0
        while True:
            page = self.recorder.select_notifications(self._reminders_read + 1, PAGE)
            for notification in page:
                self._reminders_read = notification.id
                if notification.topic.endswith("RuleAction.Recorded"):
                    event = self.mapper.to_domain_event(notification)
                    if event.action == "remind" and event.result == SCHEDULED and event.due_at:
                        self._reminders[str(event.originator_id)] = event.due_at
                elif notification.topic.endswith("RuleAction.Settled"):
                    self._reminders.pop(str(notification.originator_id), None)
            if len(page) < PAGE:
                return self._reminders
