"""Reminders a rule schedules (issue #16), handed over by the rules process when due
(``notifications.send_reminder`` over RPC): the citizen's reminder of an unanswered question
(mail and postbox item, so it shows in the case's timeline like every message) and an
overdue case's notice to the authority.

Why keyed by the reminder id: the message and postbox item ids are derived from it, so the
rules process may hand the same reminder over again (a restart between our save and its own
record of "sent") and nothing is recorded or sent twice. The overdue notice goes to each
team lead the rules process names (``recipients``: account ids from identity's
``staff_with_role``; one message per lead, all saved in one transaction, addressed at send
time like every account's mail), or — when the tenant has none — to the authority's own
address (catalog's tenant e-mail).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.common.problems import DomainError
from services.notifications.domain import EMAIL, Message, message_id
from services.notifications.kinds import REMINDER_KINDS
from services.notifications.preferences import defaults

AUTHORITY_PREFIX = "tenant:"  # recipient of an overdue notice: the authority's own address
NOTE_LIMIT = 2000


def authority_of(recipient: str) -> str | None:
    """The AGS when the recipient is an authority's own address (``tenant:<ags>``)."""
    return recipient[len(AUTHORITY_PREFIX):] if recipient.startswith(AUTHORITY_PREFIX) else None


class ReminderCommands:
    _contact: Any
    _exists: Any
    save: Any
    postbox_news: Any

    def accept_reminder(self, reminder: Mapping[str, Any], preferences: Any = None) -> int:
        """Record one due reminder (reminder_id, audience citizen|team, tenant, case_id,
        reference?, message?, correlation_id?, recipients? — the team's account ids); the
        number of new mails (0: seen before or nobody to tell)."""
        audience = str(reminder.get("audience"))
        kind = REMINDER_KINDS.get(audience)
        if kind is None or not reminder.get("reminder_id") or not reminder.get("case_id"):
            raise DomainError("invalid_parameter", name="reminder", detail="reminder_id, case_id, audience citizen|team")
        rid, case_id = str(reminder["reminder_id"]), str(reminder["case_id"])
        contact = self._contact(case_id)
        note = str(reminder.get("message") or "")[:NOTE_LIMIT]
        correlation = str(reminder.get("correlation_id") or "")
        news: list[Any] = []
        if audience == "citizen":
            if contact is None or not contact.applicant:
                return 0  # a case from before this service, or its applicant erased
            wanted = preferences.get(contact.applicant) if preferences is not None else defaults()
            recipient, tenant, reference, language = contact.applicant, contact.tenant, contact.reference, wanted["language"]
            recipients = [recipient]
            envelope = {"event_id": rid, "aggregate_id": case_id, "type": "rules.reminder",
                        "occurred_at": datetime.now(UTC).isoformat(), "correlation_id": correlation}
            news.extend(self.postbox_news(envelope, kind, recipient, tenant, reference, language))
            mail_case = case_id
        else:
            tenant, language = str(reminder["tenant"]), "de"
            recipients = [str(r) for r in reminder.get("recipients") or () if r] or [AUTHORITY_PREFIX + tenant]
            reference = contact.reference if contact is not None else str(reminder.get("reference") or "")
            mail_case = ""  # the authority's notice is no part of the citizen's timeline
        for to in recipients:
            mid: UUID = message_id(rid, EMAIL, to)
            if not self._exists(mid):  # per recipient: a lead added since the last hand-over gets theirs
                news.append(Message(
                    source_event_id=rid, channel=EMAIL, recipient=to, tenant=tenant, kind=kind, language=language,
                    case_id=mail_case, reference=reference, actor="notifications", correlation_id=correlation,
                    values={"note": note} if note else {},
                ))
        if not news:
            return 0
        try:
            self.save(*news)  # one transaction: mail and postbox item
        except IntegrityError:
            return 0  # handed over twice at once: recorded by the other
        return sum(isinstance(n, Message) for n in news)
