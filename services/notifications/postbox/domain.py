"""The postbox item and the decision letter (Bescheid).

Why this shape: every message a citizen gets also lands in their postbox, keyed like a
message by (source event id, channel ``postbox``, recipient), so a redelivered or replayed
event collides instead of creating a second item. The item is created with the event (and
its tracking record) and composed later, when the sender can ask the case for the full
text; only a composed item is shown. A decision letter is its own aggregate, keyed by the
deciding event: its PDF is identified by its SHA-256, recorded in ``Letter.Issued``; the
bytes live in a blob store. Erasure keeps what the authority must keep (reference, dates,
decision) and drops the rest. Pure: no I/O imports.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError
from services.notifications.domain import Message

POSTBOX = "postbox"
CREATED, COMPOSED, ERASED = "created", "composed", "erased"
#: What a redacted text field holds after erasure (the event stays, its contents go).
ERASED_TEXT = ""
PDF = "application/pdf"
DECISIONS = {"case_approved": "approved", "case_rejected": "rejected"}


def letter_id(source_event_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"vr-letter:{source_event_id}")


class ItemGone(DomainError):
    """The postbox item was erased (the account deleted); shown like no item at all."""

    code = "not_found"


class PostboxItem(Aggregate):
    """One message in a citizen's postbox: subject, full text and attachments (letters)."""

    create_id = staticmethod(Message.create_id)  # the same key as a message: (source event, channel, recipient)

    @event("Created")
    def __init__(
        self, source_event_id: str, channel: str, recipient: str, tenant: str, kind: str, language: str,
        case_id: str, reference: str, occurred_at: str, actor: str, correlation_id: str,
    ) -> None:
        self.source_event_id = source_event_id
        self.channel = channel
        self.recipient = recipient
        self.tenant = tenant
        self.kind = kind
        self.language = language
        self.case_id = case_id
        self.reference = reference
        self.occurred_at = occurred_at
        self.status = CREATED
        self.subject: str | None = None
        self.body_text: str | None = None
        self.body_html: str | None = None
        self.template_version: int | None = None
        self.attachments: list[dict[str, Any]] = []
        self.composed_at: str | None = None
        self.read = False

    def compose(
        self, subject: str, body_text: str, body_html: str, template_version: int,
        attachments: list[dict[str, Any]], at: str,
    ) -> None:
        """The full text, once: a second composition of the same item is refused."""
        if self.status != CREATED:
            raise DomainError("transition_not_allowed", action="compose", status=self.status, status_de=self.status)
        self._composed(self.tenant, subject, body_text, body_html, template_version, attachments, at, "notifications", "")

    def mark(self, read: bool, actor: str, correlation_id: str) -> bool:
        """Read or unread; False (and no event) if it already is."""
        if self.status == ERASED:
            raise ItemGone(log_message=f"postbox item {self.id} erased")
        if self.read == read:
            return False
        if read:
            self._marked_read(self.tenant, actor, correlation_id)
        else:
            self._marked_unread(self.tenant, actor, correlation_id)
        return True

    def erase(self, actor: str, correlation_id: str) -> None:
        if self.status != ERASED:
            self._erased(self.tenant, actor, correlation_id)

    @event("Composed")
    def _composed(
        self, tenant: str, subject: str, body_text: str, body_html: str, template_version: int,
        attachments: list[dict[str, Any]], at: str, actor: str, correlation_id: str,
    ) -> None:
        self.status = COMPOSED
        self.subject = subject
        self.body_text = body_text
        self.body_html = body_html
        self.template_version = template_version
        self.attachments = list(attachments)
        self.composed_at = at

    @event("MarkedRead")
    def _marked_read(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.read = True

    @event("MarkedUnread")
    def _marked_unread(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.read = False

    @event("Erased")
    def _erased(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.status = ERASED
        self.subject = self.body_text = self.body_html = None
        self.attachments = []


class Letter(Aggregate):
    """A decision letter (Bescheid) as issued: which case, which decision, when, and the
    SHA-256 of its PDF. After erasure the PDF is gone; reference, dates and decision stay."""

    @staticmethod
    def create_id(source_event_id: str, **_: object) -> UUID:
        return letter_id(source_event_id)

    @event("Issued")
    def __init__(
        self, source_event_id: str, case_id: str, tenant: str, reference: str, decision: str, issued_on: str,
        filename: str, media_type: str, size: int, sha256: str, actor: str, correlation_id: str,
    ) -> None:
        self.source_event_id = source_event_id
        self.case_id = case_id
        self.tenant = tenant
        self.reference = reference
        self.decision = decision
        self.issued_on = issued_on
        self.filename = filename
        self.media_type = media_type
        self.size = size
        self.sha256 = sha256
        self.pdf_erased = False

    def erase_pdf(self, actor: str, correlation_id: str) -> None:
        if not self.pdf_erased:
            self._pdf_erased(self.tenant, actor, correlation_id)

    @event("PdfErased")
    def _pdf_erased(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.pdf_erased = True


#: Stored fields that hold personal data, per event class, and what erasure leaves there.
PERSONAL: dict[type, dict[str, Any]] = {
    PostboxItem.Composed: {"subject": ERASED_TEXT, "body_text": ERASED_TEXT, "body_html": ERASED_TEXT},
}


def redacted(stored_event: Any) -> Any | None:
    """The event without its personal data, or None if it holds none (any more)."""
    fields = PERSONAL.get(type(stored_event))
    if not fields or all(getattr(stored_event, k) == v for k, v in fields.items()):
        return None
    return dataclasses.replace(stored_event, **fields)
