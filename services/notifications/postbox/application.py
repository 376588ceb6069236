"""The postbox and decision-letter commands of the notifications application (mixed into
``NotificationsApp``, so items are saved in the same event store and, when created for an
event, in the same transaction as the event's tracking record).

Why this shape: ``accept`` creates a postbox item next to each message (:func:`new_item`);
the sender composes it later (:meth:`PostboxCommands.compose_item`) with what only the
owning services may hand out, asked over RPC at that moment (:class:`Sources`): the case's
decision or question from submissions (the v2 case events carry no free text), the
letterhead from catalog, the Kassenzeichen from payments. A decision's letter is rendered,
stored content-addressed and recorded (``Letter.Issued``) in the same save as the item's
composition. Everything is keyed, so a retry finds what an earlier attempt saved.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.persistence import IntegrityError

from services.common.blobs import BlobNotFound, BlobStore
from services.common.erasure import rewrite_event
from services.common.problems import DomainError
from services.notifications.domain import message_id
from services.notifications.kinds import case_of
from services.notifications.postbox.domain import (
    COMPOSED,
    CREATED,
    DECISIONS,
    PDF,
    POSTBOX,
    Letter,
    PostboxItem,
    letter_id,
    redacted,
)
from services.notifications.postbox.letter_pdf import LetterContent, german_date, render_letter
from services.notifications.postbox.texts import render_item

ACTOR = "notifications"
BERLIN = ZoneInfo("Europe/Berlin")


class Sources(Protocol):
    """What composing needs from other services, asked at compose time (RPC in the service)."""

    def case(self, case_id: str) -> Mapping[str, Any] | None: ...  # submissions.case_status(contents=True)

    def letterhead(self, ags: str) -> Mapping[str, Any]: ...  # catalog.letterhead

    def service_name(self, service_id: str) -> str: ...

    def payment(self, case_id: str) -> Mapping[str, Any] | None: ...  # payments.payment_for_case or None


def new_item(envelope: Mapping[str, Any], kind: str, recipient: str, tenant: str, reference: str, language: str) -> PostboxItem:
    """The postbox item of one integration event for its recipient (not yet composed); its
    case is the event's case (``data.case_id`` of a payment event, not the payment)."""
    return PostboxItem(
        source_event_id=str(envelope["event_id"]), channel=POSTBOX, recipient=recipient, tenant=tenant, kind=kind,
        language=language, case_id=case_of(envelope), reference=reference,
        occurred_at=str(envelope.get("occurred_at") or datetime.now(UTC).isoformat()), actor=ACTOR,
        correlation_id=str(envelope.get("correlation_id") or ""),
    )


def attachment_view(letter: Letter) -> dict[str, Any]:
    return {
        "attachment_id": str(letter.id), "filename": letter.filename, "media_type": letter.media_type,
        "size": letter.size, "sha256": letter.sha256,
    }


def document_view(letter: Letter) -> dict[str, Any]:
    return {
        "document_id": str(letter.id), "kind": "decision_letter", "decision": letter.decision,
        "filename": letter.filename, "media_type": letter.media_type, "sha256": letter.sha256, "size": letter.size,
        "issued_on": letter.issued_on, "created_at": letter.created_on.isoformat(), "erased": letter.pdf_erased,
    }


def item_view(item: PostboxItem, body: bool = False) -> dict[str, Any]:
    view = {
        "item_id": str(item.id), "kind": item.kind, "subject": item.subject, "case_id": item.case_id,
        "reference": item.reference, "tenant": item.tenant, "created_at": item.composed_at or item.occurred_at,
        "read": item.read, "attachments": list(item.attachments),
    }
    if body:
        view |= {"body_text": item.body_text, "body_html": item.body_html, "template_version": item.template_version}
    return view


def _day(value: Any) -> date | None:
    """The calendar day in Germany of an instant (a decision at 23:30 UTC is dated the next day)."""
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return (instant if instant.tzinfo is None else instant.astimezone(BERLIN)).date()


def contact_line(head: Mapping[str, Any]) -> str:
    parts = [f"Telefon {head['phone']}" if head.get("phone") else "", f"E-Mail {head['email']}" if head.get("email") else ""]
    return " · ".join(p for p in parts if p)


class PostboxCommands:
    """Mixed into NotificationsApp (uses its repository, save, recorder and mapper)."""

    _get: Any
    save: Any
    recorder: Any
    mapper: Any
    events: Any

    # -- created with the event (in ``accept``, same transaction as its tracking record) --------
    def postbox_news(
        self, envelope: Mapping[str, Any], kind: str, recipient: str, tenant: str, reference: str, language: str,
    ) -> list[PostboxItem]:
        """The event's postbox item for ``recipient``, unless it was recorded before (replay)."""
        if self._get(message_id(str(envelope["event_id"]), POSTBOX, recipient)) is not None:
            return []
        return [new_item(envelope, kind, recipient, tenant, reference, language)]

    # -- composing ----------------------------------------------------------------------------
    def compose_item(self, item_id: str, sources: Sources, blobs: BlobStore, base_url: str) -> dict[str, Any] | None:
        """Write the item's full text (and its decision letter); None if it is not to be composed."""
        item = self._get(item_id)
        if not isinstance(item, PostboxItem) or item.status != CREATED:
            return None
        case = sources.case(item.case_id)
        if case is None:  # counted as a failed attempt (postbox/retries.py), not asked again forever
            raise DomainError("case_not_found", case_id=item.case_id, log_message=f"postbox item {item_id}")
        head = sources.letterhead(item.tenant)
        contents = case.get("contents") or {}
        occurred = _day(item.occurred_at) or datetime.now(UTC).date()
        service_name = sources.service_name(str(case.get("service_id") or ""))
        context = {
            "reference": item.reference, "tenant_name": head["name"], "service_name": service_name,
            "occurred_on": german_date(occurred), "link": f"{base_url.rstrip('/')}/cases/{item.case_id}",
            "contact": contact_line(head), "question": contents.get("question") or "",
            "due_date": german_date(d) if (d := _day(case.get("due_date") or "")) else "",
            "decision_text": contents.get("decision") or "",
        }
        rendered = render_item(item.kind, item.language, context)
        news: list[Any] = [item]
        attachments = []
        if item.kind in DECISIONS:
            letter = self._get(letter_id(item.source_event_id))
            if not isinstance(letter, Letter):
                letter = self._issue_letter(item, case, head, service_name, occurred, sources, blobs)
                news.append(letter)
            attachments.append(attachment_view(letter))
        item.compose(rendered.subject, rendered.text, rendered.html, rendered.version, attachments, datetime.now(UTC).isoformat())
        try:
            self.save(*news)
        except IntegrityError:
            return None  # composed meanwhile by another round
        return item_view(item)

    def _issue_letter(
        self, item: PostboxItem, case: Mapping[str, Any], head: Mapping[str, Any], service_name: str, issued_on: date,
        sources: Sources, blobs: BlobStore,
    ) -> Letter:
        payment = sources.payment(item.case_id) or {}
        contents = case.get("contents") or {}
        applicant = contents.get("applicant") or {}
        content = LetterContent(
            tenant_name=str(head["name"]), tenant_address=str(head.get("address") or ""),
            tenant_contact=contact_line(head), opening_hours=str(head.get("opening_hours") or ""),
            legal_remedy=str(head.get("legal_remedy") or ""), reference=item.reference, service_name=service_name,
            decision=DECISIONS[item.kind], decision_text=str(contents.get("decision") or ""), issued_on=issued_on,
            submitted_on=_day(case.get("submitted_at") or ""),
            recipient_lines=[str(applicant["name"])] if applicant.get("name") else [],
            kassenzeichen=payment.get("kassenzeichen"),
            fee_paid_cents=int(payment["amount_cents"]) if payment.get("paid") and payment.get("amount_cents") else None,
        )
        pdf = render_letter(content)
        sha256 = blobs.put(pdf)  # content-addressed: a retry stores the same bytes under the same name
        return Letter(
            source_event_id=item.source_event_id, case_id=item.case_id, tenant=item.tenant, reference=item.reference,
            decision=content.decision, issued_on=issued_on.isoformat(), filename=f"Bescheid-{item.reference}.pdf",
            media_type=PDF, size=len(pdf), sha256=sha256, actor=ACTOR, correlation_id="",
        )

    def postbox_item_any(self, item_id: str) -> PostboxItem | None:
        """The item whatever its state (for a dead letter's fields), None if there is none."""
        item = self._get(item_id)
        return item if isinstance(item, PostboxItem) else None

    # -- the owner ----------------------------------------------------------------------------
    def postbox_item(self, item_id: str, account_id: str) -> PostboxItem:
        """The composed item if ``account_id`` owns it; the same 404 otherwise."""
        item = self._get(item_id)
        if not isinstance(item, PostboxItem) or item.status != COMPOSED or item.recipient != account_id:
            raise DomainError("postbox_item_not_found", log_message=f"postbox item {str(item_id)[:64]}")
        return item

    def mark_item(self, item_id: str, account_id: str, read: bool, correlation_id: str = "") -> dict[str, Any]:
        for _attempt in range(3):
            item = self.postbox_item(item_id, account_id)
            if not item.mark(read, account_id, correlation_id):
                return item_view(item)
            try:
                self.save(item)
            except IntegrityError:
                continue  # marked at the same moment from another tab
            return item_view(item)
        raise DomainError("service_unavailable", log_message="postbox item kept changing")

    def item_attachment(self, item_id: str, attachment_id: str, account_id: str, blobs: BlobStore) -> dict[str, Any]:
        item = self.postbox_item(item_id, account_id)
        if not any(a["attachment_id"] == attachment_id for a in item.attachments):
            raise DomainError("document_not_found", log_message=f"attachment {attachment_id[:64]}")
        try:
            return self._letter_file(attachment_id, blobs)
        except DomainError as exc:  # erased between its PDF and its item (erasure under way): gone
            raise DomainError("document_not_found", log_message=exc.code) from None

    # -- the responsible clerk ----------------------------------------------------------------
    def case_document(self, case_id: str, document_id: str, blobs: BlobStore) -> dict[str, Any]:
        letter = self._get(document_id)
        if not isinstance(letter, Letter) or letter.case_id != str(case_id):
            raise DomainError("document_not_found", log_message=f"document {document_id[:64]}")
        return self._letter_file(document_id, blobs)

    def _letter_file(self, document_id: str, blobs: BlobStore) -> dict[str, Any]:
        letter = self._get(document_id)
        if not isinstance(letter, Letter):
            raise DomainError("document_not_found", log_message=f"document {document_id[:64]}")
        if letter.pdf_erased:
            raise DomainError("document_erased")
        try:
            data = blobs.get(letter.sha256)
        except BlobNotFound:
            raise DomainError("document_erased", log_message=f"blob of {document_id} missing") from None
        return {**document_view(letter), "content_b64": base64.b64encode(data).decode("ascii")}

    # -- erasure ------------------------------------------------------------------------------
    def erase_postbox(self, account_id: str, item_ids: Iterable[str], blobs: BlobStore, correlation_id: str = "") -> dict[str, int]:
        """Erase the person's postbox items (their texts) and their letters' PDFs; the
        letters' reference, dates and decision stay for the authority. Idempotent: a run
        that died half-way is completed by the next."""
        erased = letters = rewritten = 0
        for item_id in item_ids:
            item = self._get(item_id)
            if not isinstance(item, PostboxItem) or item.recipient != account_id:
                continue
            documents = [a["attachment_id"] for a in item.attachments]
            documents += [str(letter_id(item.source_event_id))] if item.kind in DECISIONS else []
            for document_id in dict.fromkeys(documents):
                letter = self._get(document_id)
                if isinstance(letter, Letter):
                    blobs.delete(letter.sha256)
                    if not letter.pdf_erased:
                        letter.erase_pdf(ACTOR, correlation_id)
                        self.save(letter)
                        letters += 1
            if item.status != "erased":
                item.erase(ACTOR, correlation_id)
                self.save(item)
                erased += 1
            for stored in self.events.get(UUID(str(item.id))):
                clean = redacted(stored)
                if clean is not None:
                    rewrite_event(self.recorder, self.mapper.to_stored_event(clean))
                    rewritten += 1
        return {"items_erased": erased, "letters_erased": letters, "events_redacted": rewritten}
