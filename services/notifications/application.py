"""The notifications application: turns case and payment events, and identity's account
mails, into messages and delivers them.

Why this shape: accepting an event saves its message(s) and the event's tracking record
(its position in the publishing service's log) in one transaction; the message id is derived
from (source event id, channel, recipient), so a redelivered or replayed event collides and
sends nothing. Delivery is load → decide → save around one SMTP attempt; the recipient's
address and the tenant's details are asked for at send time (``Directory``), never stored
with the message; an account mail's address and link live in :class:`MailSecrets` only
until the mail is delivered or failed for good. The citizen's preferences decide, when the
event arrives, the language and whether an e-mail is sent at all.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, ProcessRecorder, Tracking

from services.common.db import open_application
from services.common.erasure import rewrite_event
from services.common.problems import DomainError
from services.notifications.domain import (
    EMAIL,
    PENDING,
    STATUS_TEXT,
    CaseContact,
    Message,
    contact_id,
    message_id,
    redacted,
)
from services.notifications.kinds import ACCOUNT_KINDS, KIND_TEXT, case_of, kind_of, source_of, values_of
from services.notifications.postbox.application import PostboxCommands
from services.notifications.preferences import MailSecrets, Preferences, defaults
from services.notifications.reminders import ReminderCommands, authority_of
from services.notifications.rendering import DEFAULT_LANGUAGE, LANGUAGES, render
from services.notifications.smtp import DELIVERED, PERMANENT

#: Where a mail's reader finds the full text (the postbox) and the case.
POSTBOX_PATH, CASE_PATH, WORKLIST_PATH = "/postbox", "/cases/{case_id}", "/verwaltung/"
PLATFORM_TENANT = "platform"  # account mails belong to no authority


class Directory(Protocol):
    """Looks up, at send time, what messages must not keep: the address and the tenant."""

    def recipient(self, account_id: str) -> Mapping[str, Any] | None: ...  # {"email"}

    def tenant(self, ags: str) -> Mapping[str, Any]: ...  # name, email, phone, address, opening_hours


class Transport(Protocol):
    def send(self, to: str, subject: str, text: str, html: str, kind: str = "") -> tuple[str, str]: ...


class RecipientIndex(Protocol):
    """Which messages and cases a recipient has (the outbox read model)."""

    def messages_of(self, recipient: str) -> list[str]: ...

    def cases_of(self, recipient: str) -> list[str]: ...


def message_view(message: Message) -> dict[str, Any]:
    return {
        "message_id": str(message.id), "tenant": message.tenant, "kind": message.kind,
        "case_id": message.case_id, "reference": message.reference, "channel": message.channel,
        "status": message.status, "status_text": STATUS_TEXT[message.status], "attempts": message.attempts,
        "template_version": message.template_version, "next_attempt_at": message.next_attempt_at,
        "error": message.error, "version": message.version,
    }


def tenant_context(tenant: Mapping[str, Any]) -> dict[str, str]:
    """Every field the templates name, present (empty when the tenant has none)."""
    return {key: str(tenant.get(key) or "") for key in ("name", "email", "phone", "address", "opening_hours", "signature")}


class NotificationsApp(ReminderCommands, PostboxCommands, Application[UUID]):
    name = "notifications"

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    # -- in: case and payment events ----------------------------------------------------------
    def accept(self, envelope: Mapping[str, Any], preferences: Preferences | None = None) -> int:
        """Record the messages one integration event asks for; 0 if it asks for none or was seen."""
        kind = kind_of(envelope)
        if kind is None:
            return 0
        case_id, data = case_of(envelope), envelope.get("data") or {}
        position = envelope.get("position")
        tracking = Tracking(source_of(envelope), int(position)) if position is not None else None
        news: list[Any] = []
        if kind == "case_submitted":
            contact = CaseContact(
                case_id=case_id, tenant=envelope["tenant"], applicant=str(data["applicant_ref"]),
                reference=str(data["reference"]), actor=str(envelope.get("actor") or ""),
                correlation_id=str(envelope.get("correlation_id") or ""),
            )
            news.append(contact)
        else:
            found = self._contact(case_id)
            if found is None or not found.applicant:
                return 0  # a case from before this service, or its applicant erased: nobody to tell
            contact = found
        wanted = preferences.get(contact.applicant) if preferences is not None else defaults()
        mid = message_id(str(envelope["event_id"]), EMAIL, contact.applicant)
        if wanted["email"].get(kind, True) and not self._exists(mid):
            news.append(Message(
                source_event_id=str(envelope["event_id"]), channel=EMAIL, recipient=contact.applicant,
                tenant=contact.tenant, kind=kind, language=wanted["language"], case_id=case_id,
                reference=contact.reference, actor="notifications",
                correlation_id=str(envelope.get("correlation_id") or ""), values=values_of(envelope),
            ))
        # the postbox always gets the message, whatever the e-mail preferences (postbox/application.py)
        news.extend(self.postbox_news(envelope, kind, contact.applicant, contact.tenant, contact.reference, wanted["language"]))
        if not news:
            return 0  # already recorded (a redelivery)
        processing: ProcessingEvent[UUID] = ProcessingEvent(tracking)
        processing.collect_events(*news)
        try:
            self._record(processing)
        except IntegrityError:
            return 0  # the same event again (a redelivery racing this one): already recorded
        return sum(isinstance(n, Message) for n in news)

    # -- in: identity's account mails ---------------------------------------------------------
    def accept_account_mail(self, mail: Mapping[str, Any], secrets: MailSecrets, preferences: Preferences) -> str:
        """Record an account mail (verification, password reset, …); its address and link go
        to ``secrets`` until delivery. The message id; the same ``mail_id`` again records nothing."""
        kind = str(mail["template"])
        if kind not in ACCOUNT_KINDS:
            raise DomainError("invalid_parameter", name="template", detail=", ".join(ACCOUNT_KINDS))
        recipient = str(mail.get("account_id") or "") or f"address:{mail['mail_id']}"
        mid = message_id(str(mail["mail_id"]), EMAIL, recipient)
        language = str(mail.get("language") or "")
        if language not in LANGUAGES:
            language = preferences.get(recipient)["language"] if mail.get("account_id") else DEFAULT_LANGUAGE
        secrets.keep(str(mid), recipient, str(mail["to"]), mail.get("link"), str(mail["expires_at"]))
        if not self._exists(mid):
            message = Message(
                source_event_id=str(mail["mail_id"]), channel=EMAIL, recipient=recipient, tenant=PLATFORM_TENANT,
                kind=kind, language=language, case_id="", reference="", actor="identity",
                correlation_id=str(mail.get("correlation_id") or ""),
            )
            with contextlib.suppress(IntegrityError):  # the same mail handed over twice at once
                self.save(message)
        return str(mid)

    # -- out: one delivery attempt ------------------------------------------------------------
    def deliver(
        self, message_id: str, transport: Transport, directory: Directory, base_url: str,
        now: datetime | None = None, rng: random.Random | None = None,
        secrets: MailSecrets | None = None, limit: Any = None,
    ) -> dict[str, Any]:
        """One delivery attempt of a pending message (or its deferral by ``limit``, a
        :class:`~services.notifications.limits.RecipientLimit`); its view afterwards."""
        message = self.message(message_id)
        if message.status not in PENDING:
            return message_view(message)
        now = now or datetime.now(UTC)
        account_mail = message.kind in ACCOUNT_KINDS
        secret = secrets.get(message_id) if account_mail and secrets is not None else None
        if account_mail:
            contact: Mapping[str, Any] | None = secret
        elif (ags := authority_of(message.recipient)) is not None:  # an overdue notice (reminders.py)
            contact = {"email": directory.tenant(ags).get("email")}
        else:
            contact = directory.recipient(message.recipient)
        if not contact or not contact.get("email"):
            message.failed_permanently("link expired" if account_mail else "no address for the recipient")
            return self._settled(message, secrets)
        if limit is not None and (until := limit.check(message.recipient, now)) is not None:
            message.defer(until, "rate limit")
            self.save(message)
            return message_view(message)
        try:
            context = {
                "reference": message.reference, "link": (secret or {}).get("link") or "",
                "postbox_link": base_url + POSTBOX_PATH, "case_link": base_url + CASE_PATH.format(case_id=message.case_id),
                "tenant": tenant_context(directory.tenant(message.tenant) if not account_mail else {}),
                "amount": message.values.get("amount_cents"), "kassenzeichen": message.values.get("kassenzeichen", ""),
                "note": message.values.get("note", ""), "worklist_link": base_url + WORKLIST_PATH,
            }
            rendered = render(message.kind, message.language, context)
        except LookupError as exc:  # a template or value missing: ours to fix, retrying will not help
            message.failed_technically(exc.__class__.__name__)
            return self._settled(message, secrets)
        message.start_sending(rendered.version, now)
        self.save(message)  # the attempt is on record before the mail leaves
        outcome, error = transport.send(str(contact["email"]), rendered.subject, rendered.text, rendered.html, message.kind)
        if outcome == DELIVERED:
            message.delivered(datetime.now(UTC))
        elif outcome == PERMANENT:
            message.failed_permanently(error)
        else:
            message.failed_temporarily(error, datetime.now(UTC), rng)
        return self._settled(message, secrets)

    def _settled(self, message: Message, secrets: MailSecrets | None) -> dict[str, Any]:
        """Save; an account mail that left or failed for good forgets its address and link."""
        self.save(message)
        if secrets is not None and message.status not in PENDING:
            secrets.forget(str(message.id))
        return message_view(message)

    # -- erasure ------------------------------------------------------------------------------
    def erase_recipient(self, account_id: str, index: RecipientIndex) -> dict[str, int]:
        """The account was deleted: its messages are closed and every stored event of them
        and of its cases' contacts loses who and which case (the authority keeps reference,
        dates and decision in the submissions service). Idempotent; the message ids stay, so a
        replayed event still sends nothing."""
        erased = rewritten = 0
        for mid in index.messages_of(account_id):
            message = self._get(mid)
            if isinstance(message, Message):
                if not message.erased:
                    message.erase()
                    self.save(message)
                    erased += 1
                rewritten += self._redact_stream(message.id)
        for case_id in index.cases_of(account_id):
            rewritten += self._redact_stream(contact_id(case_id))
        return {"messages": erased, "events_redacted": rewritten}

    def _redact_stream(self, aggregate_id: UUID) -> int:
        count = 0
        for stored_event in self.events.get(aggregate_id) if self._get(aggregate_id) is not None else ():
            clean = redacted(stored_event)
            if clean is not None:
                rewrite_event(self.recorder, self.mapper.to_stored_event(clean))
                count += 1
        return count

    # -- reads --------------------------------------------------------------------------------
    def message(self, message_id: str | UUID) -> Message:
        found = self._get(message_id)
        if not isinstance(found, Message):
            raise DomainError("not_found", log_message=f"no message {str(message_id)[:64]}")
        return found

    def contact(self, case_id: str) -> CaseContact | None:
        return self._contact(case_id)

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


def statuses_of(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Outbox rows with their German status text (the clerk's view)."""
    return [{**row, "status_text": STATUS_TEXT.get(str(row["status"]), str(row["status"]))} for row in rows]


def timeline_of(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The citizen's timeline entries for a case's messages: what was sent how, and its state."""
    return [
        {"at": row["updated_at"], "step": "message",
         "text": f"{KIND_TEXT.get(str(row['kind']), str(row['kind']))} per E-Mail: "
                 f"{STATUS_TEXT.get(str(row['status']), str(row['status']))}"}
        for row in rows
    ]
