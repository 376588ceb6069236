"""The notifications application: turns case events into messages and delivers them.

Why this shape: accepting an event saves its message(s) and the event's tracking record
(its position in the submissions log) in one transaction; the message id is derived from
(source event id, channel, recipient), so a redelivered or replayed event collides and
sends nothing. Delivery is load → decide → save around one SMTP attempt; the recipient's
address and the tenant's name are asked for at send time (``Directory``), never stored.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking

from services.common.db import open_application
from services.common.problems import DomainError
from services.notifications.domain import EMAIL, PENDING, CaseContact, Message, contact_id, message_id
from services.notifications.postbox.application import PostboxCommands
from services.notifications.rendering import DEFAULT_LANGUAGE, render
from services.notifications.smtp import DELIVERED, PERMANENT

#: Integration event type → message kind. v2 decisions carry no free text; the mail links to it.
KINDS: Mapping[str, str] = {
    "case.submitted.v1": "case_submitted",
    "case.information_requested.v2": "case_information_requested",
    "case.approved.v2": "case_approved",
    "case.rejected.v2": "case_rejected",
}
SOURCE = "submissions"  # the notification log the tracked positions belong to


class Directory(Protocol):
    """Looks up, at send time, what messages must not keep: the address and the tenant's name."""

    def recipient(self, account_id: str) -> Mapping[str, Any] | None: ...  # {"email", "language"?}

    def tenant_name(self, ags: str) -> str: ...


class Transport(Protocol):
    def send(self, to: str, subject: str, text: str, html: str) -> tuple[str, str]: ...


def message_view(message: Message) -> dict[str, Any]:
    return {
        "message_id": str(message.id), "tenant": message.tenant, "kind": message.kind,
        "case_id": message.case_id, "reference": message.reference, "channel": message.channel,
        "status": message.status, "attempts": message.attempts, "template_version": message.template_version,
        "next_attempt_at": message.next_attempt_at, "error": message.error, "version": message.version,
    }


class NotificationsApp(PostboxCommands, Application[UUID]):
    name = "notifications"

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    def accept(self, envelope: Mapping[str, Any]) -> int:
        """Record the messages one integration event asks for; 0 if it asks for none or was seen."""
        kind = KINDS.get(str(envelope.get("type")))
        if kind is None:
            return 0
        case_id, data = str(envelope["aggregate_id"]), envelope.get("data") or {}
        position = envelope.get("position")
        tracking = Tracking(SOURCE, int(position)) if position is not None else None
        news: list[Any] = []
        if kind == "case_submitted":
            contact = CaseContact(
                case_id=case_id, tenant=envelope["tenant"], applicant=str(data["applicant_ref"]),
                reference=str(data["reference"]), actor=str(envelope.get("actor") or ""),
                correlation_id=str(envelope.get("correlation_id") or ""),
            )
            news.append(contact)
        else:
            contact = self._contact(case_id)
            if contact is None:
                return 0  # a case submitted before this service existed: nobody to tell
        mid = message_id(str(envelope["event_id"]), EMAIL, contact.applicant)
        if self._exists(mid):
            return 0
        news.append(Message(
            source_event_id=str(envelope["event_id"]), channel=EMAIL, recipient=contact.applicant,
            tenant=contact.tenant, kind=kind, language=DEFAULT_LANGUAGE, case_id=case_id,
            reference=contact.reference, actor="notifications",
            correlation_id=str(envelope.get("correlation_id") or ""),
        ))
        # the postbox always gets the message, whatever the e-mail preferences (postbox/application.py)
        news.extend(self.postbox_news(envelope, kind, contact.applicant, contact.tenant, contact.reference, DEFAULT_LANGUAGE))
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking)
        processing.collect_events(*news)
        try:
            self._record(processing)
        except IntegrityError:
            return 0  # the same event again (a redelivery racing this one): already recorded
        return 1

    def deliver(
        self, message_id: str, transport: Transport, directory: Directory, base_url: str,
        now: datetime | None = None, rng: random.Random | None = None,
    ) -> dict[str, Any]:
        """One delivery attempt of a pending message; its view afterwards."""
        message = self.message(message_id)
        if message.status not in PENDING:
            return message_view(message)
        now = now or datetime.now(UTC)
        contact = directory.recipient(message.recipient)
        if not contact or not contact.get("email"):
            message.failed_permanently("no address for the recipient")
            self.save(message)
            return message_view(message)
        try:
            rendered = render(message.kind, str(contact.get("language") or message.language), {
                "reference": message.reference, "tenant_name": directory.tenant_name(message.tenant),
                "link": f"{base_url}/cases/{message.case_id}",
            })
        except LookupError as exc:  # a template or value missing: ours to fix, retrying will not help
            message.failed_technically(exc.__class__.__name__)
            self.save(message)
            return message_view(message)
        message.start_sending(rendered.version, now)
        self.save(message)  # the attempt is on record before the mail leaves
        outcome, error = transport.send(str(contact["email"]), rendered.subject, rendered.text, rendered.html)
        if outcome == DELIVERED:
            message.delivered(datetime.now(UTC))
        elif outcome == PERMANENT:
            message.failed_permanently(error)
        else:
            message.failed_temporarily(error, datetime.now(UTC), rng)
        self.save(message)
        return message_view(message)

    def message(self, message_id: str | UUID) -> Message:
        found = self._get(message_id)
        if not isinstance(found, Message):
            raise DomainError("not_found", log_message=f"no message {str(message_id)[:64]}")
        return found

    def _get(self, aggregate_id: str | UUID) -> Any:
        try:
            return self.repository.get(UUID(str(aggregate_id)))
        except (ValueError, AggregateNotFoundError):
            return None

    def _exists(self, aggregate_id: UUID) -> bool:
        return self._get(aggregate_id) is not None

    def _contact(self, case_id: str) -> CaseContact | None:
        found = self._get(contact_id(case_id))
        return found if isinstance(found, CaseContact) else None


def open_notifications() -> NotificationsApp:
    """The notifications application on the configured store (service, consumer, tests)."""
    return open_application(NotificationsApp, "notifications")
