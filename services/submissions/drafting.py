"""Drafts and attachments in the submissions application: start, save, read, discard a draft;
upload and read an attachment; check the attachments a submission refers to.

Owner-only throughout: a draft or attachment of someone else is the same ``404`` as none.
Partial form data are not validated as a whole until submission (a half-filled form is the
point of a draft), but unknown fields, values a form field cannot hold and oversized data
are refused at once. Submitting a draft goes through
:meth:`~services.submissions.submitting.BatchSubmission.submit_batch` (``draft_id`` on the
command), which saves the case and ``Draft.Submitted`` in one transaction.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from services.common.blobs import BlobStore
from services.common.problems import DomainError, text
from services.submissions.domain.drafts import (
    OPEN,
    SUBMITTED,
    ApplicantFiles,
    Attachment,
    BlobReferences,
    Draft,
    DraftNotFound,
)

MAX_DRAFT_BYTES = 200_000  # JSON of one draft's form data; a filled form is a few KB
PAGE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FILENAME_MAX = 200
#: The files a citizen may attach, told by their first bytes (never by name or declared type).
MAGIC: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF-",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
}
FILE_WIDGET = "file"


def sniff_media_type(content: bytes) -> str | None:
    """The media type the content really has, if it is one we accept."""
    for media_type, signatures in MAGIC.items():
        if any(content.startswith(sig) for sig in signatures):
            return media_type
    return None


def file_fields(schema: dict[str, Any]) -> set[str]:
    """The form fields that hold an attachment (``"x-vr-widget": "file"``)."""
    return {name for name, spec in schema.get("properties", {}).items() if spec.get("x-vr-widget") == FILE_WIDGET}


def attachment_ref(value: Any) -> str | None:
    """The attachment id of a file field's value ``{"attachment_id": "<uuid>"}``, else None."""
    if isinstance(value, dict) and set(value) == {"attachment_id"} and isinstance(value["attachment_id"], str):
        try:
            return str(UUID(value["attachment_id"]))
        except ValueError:
            return None
    return None


def check_draft_data(schema: dict[str, Any], form_data: Any) -> None:
    """Refuse what no saving of a half-filled form needs: no object, too big, unknown fields,
    values no form field holds (nested data other than an attachment reference)."""
    if not isinstance(form_data, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    size = len(json.dumps(form_data, ensure_ascii=False).encode())
    if size > MAX_DRAFT_BYTES:
        raise DomainError("draft_too_large", limit=MAX_DRAFT_BYTES)
    fields, files = set(schema.get("properties", {})), file_fields(schema)
    errors = []
    for name, value in sorted(form_data.items()):
        if name not in fields:
            errors.append({"field": f"/{name}", "code": "additionalProperties", "message": text("field_unknown")})
        elif name in files:
            if value is not None and attachment_ref(value) is None:
                errors.append({"field": f"/{name}", "code": "attachment", "message": text("attachment_reference")})
        elif isinstance(value, dict | list):
            errors.append({"field": f"/{name}", "code": "type", "message": text("field_scalar")})
    if errors:
        raise DomainError("form_invalid", errors=errors[:50])


def check_page(page: Any) -> str | None:
    if page is None:
        return None
    if isinstance(page, int) and not isinstance(page, bool) and 0 <= page < 1000:
        return str(page)
    if isinstance(page, str) and PAGE.match(page):
        return page
    raise DomainError("invalid_parameter", name="page", detail=text("page_name"))


def draft_view(draft: Draft) -> dict[str, Any]:
    return {
        "draft_id": str(draft.id),
        "tenant": draft.tenant,
        "portal": draft.portal,
        "service_id": draft.service_id,
        "form_version": draft.form_version,
        "form_data": draft.form_data,
        "page": draft.page,
        "status": draft.status,
        "case_id": draft.case_id,
        "started_at": draft.started_at,
        "updated_at": draft.updated_at,
        "version": draft.version,
    }


def attachment_view(attachment: Attachment) -> dict[str, Any]:
    return {
        "attachment_id": str(attachment.id),
        "filename": attachment.filename,
        "media_type": attachment.media_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_at": attachment.uploaded_at,
    }


def _uuid(value: str, error: DomainError) -> UUID:
    try:
        return UUID(str(value))
    except ValueError:
        raise error from None


class DraftsAndAttachments(Application[UUID]):
    """Mixed into :class:`~services.submissions.application.SubmissionsApp` (clock, blobs)."""

    clock: Callable[[], datetime]
    blobs: BlobStore

    # -- drafts ------------------------------------------------------------------------------
    def mark_draft_submitted(self, draft_id: str, case_id: str, actor: str, correlation_id: str) -> None:
        """``Draft.Submitted`` for a draft whose case another case partition saved. A crash
        before this leaves the draft open; submitting it again replays the case and marks it."""
        draft = self.repository.get(UUID(draft_id))
        if draft.status == OPEN:
            draft.submit(case_id, actor=actor, correlation_id=correlation_id)
            # saved meanwhile (the owner, or a concurrent submit): the next submit marks it
            with contextlib.suppress(IntegrityError):
                self.save(draft)

    def start_draft(
        self, offering: Any, portal: str, owner: str, form_data: Any, page: Any, actor: str, correlation_id: str
    ) -> dict[str, Any]:
        check_draft_data(offering.form_schema, form_data)
        index = self._files(owner)
        draft = Draft(
            tenant=offering.tenant, portal=portal, service_id=offering.service_id,
            form_version=offering.form_version, owner=owner, form_data=form_data, page=check_page(page),
            started_at=self.clock().isoformat(), actor=actor, correlation_id=correlation_id,
        )
        index.add_draft(str(draft.id))
        self.save(index, draft)
        return draft_view(draft)

    def get_draft(self, draft_id: str, owner: str, open_only: bool = False) -> Draft:
        """The owner's draft; someone else's, a discarded or an erased one is no draft."""
        missing = DraftNotFound(draft_id=str(draft_id)[:64])
        try:
            draft = self.repository.get(_uuid(draft_id, missing))
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(draft, Draft) or draft.owner != owner or draft.status not in (OPEN, SUBMITTED):
            raise missing
        if open_only and draft.status != OPEN:
            raise missing
        return draft

    def save_draft(
        self, draft_id: str, owner: str, schema: dict[str, Any], form_data: Any, page: Any, actor: str, correlation_id: str
    ) -> dict[str, Any]:
        """Replace the draft's data (``schema``: the form of its pinned version)."""
        draft = self.get_draft(draft_id, owner, open_only=True)
        check_draft_data(schema, form_data)
        draft.save(form_data, check_page(page), self.clock().isoformat(), actor, correlation_id)
        self.save(draft)
        return draft_view(draft)

    def discard_draft(self, draft_id: str, owner: str, actor: str, correlation_id: str) -> None:
        draft = self.get_draft(draft_id, owner, open_only=True)
        draft.discard(actor, correlation_id)
        self.save(draft)

    def drafts_of(self, owner: str) -> list[dict[str, Any]]:
        """The owner's open drafts, most recently saved first (from the event store)."""
        index = self._find_files(owner)
        drafts = [self.repository.get(UUID(d)) for d in (index.drafts if index else [])]
        views = [draft_view(d) for d in drafts if d.status == OPEN]
        return sorted(views, key=lambda v: v["updated_at"], reverse=True)

    def export_files(self, owner: str) -> dict[str, list[dict[str, Any]]]:
        """The owner's drafts (open and submitted) and uploads, for the data export (Art. 15)."""
        index = self._find_files(owner)
        if index is None:
            return {"drafts": [], "attachments": []}
        drafts = [self.repository.get(UUID(d)) for d in index.drafts]
        attachments = [self.repository.get(UUID(a)) for a in index.attachments]
        return {
            "drafts": [draft_view(d) for d in drafts if d.status in (OPEN, SUBMITTED)],
            "attachments": [attachment_view(a) for a in attachments if not a.erased],
        }

    # -- attachments ---------------------------------------------------------------------
    def upload_attachment(
        self, owner: str, content: bytes, declared_type: str, filename: str, actor: str, correlation_id: str
    ) -> dict[str, Any]:
        media_type = sniff_media_type(content)
        if media_type is None or media_type != declared_type:
            raise DomainError("attachment_content_invalid", media_type=declared_type)
        index = self._files(owner)
        if index.closed:
            raise DomainError("account_deleted")
        sha256 = self.blobs.put(content)
        attachment = Attachment(
            owner=owner, filename=clean_filename(filename), media_type=media_type, size=len(content),
            sha256=sha256, uploaded_at=self.clock().isoformat(), actor=actor, correlation_id=correlation_id,
        )
        references = self._blob_references(sha256)
        references.refer(str(attachment.id))
        index.add_attachment(str(attachment.id))
        self.save(index, references, attachment)
        return attachment_view(attachment)

    def attachment(self, attachment_id: str, owner: str | None = None) -> Attachment:
        """The attachment (of ``owner`` if given); an erased one is no attachment."""
        missing = DomainError("attachment_not_found", attachment_id=str(attachment_id)[:64])
        try:
            found = self.repository.get(_uuid(attachment_id, missing))
        except AggregateNotFoundError:
            raise missing from None
        if not isinstance(found, Attachment) or found.erased or (owner is not None and found.owner != owner):
            raise missing
        return found

    def attachment_content(self, attachment: Attachment) -> dict[str, Any]:
        """Metadata and the bytes (base64: RPC carries JSON)."""
        content = self.blobs.get(attachment.sha256)
        return {**attachment_view(attachment), "content_b64": base64.b64encode(content).decode("ascii")}

    def attachment_errors(self, schema: dict[str, Any], form_data: dict[str, Any], owners: set[str]) -> list[dict[str, Any]]:
        """Field errors for file fields that do not refer to an attachment of ``owners``."""
        errors = []
        for name in sorted(file_fields(schema) & set(form_data)):
            ref = attachment_ref(form_data[name])
            try:
                if ref is None:
                    raise DomainError("attachment_not_found")
                attachment = self.attachment(ref)
                accept = schema["properties"][name].get("x-vr-accept") or list(MAGIC)
                if attachment.owner not in owners or attachment.media_type not in accept:
                    raise DomainError("attachment_not_found")
            except DomainError:
                errors.append({"field": f"/{name}", "code": "attachment", "message": text("attachment_reference")})
        return errors

    # -- the applicant's index -----------------------------------------------------------
    def _find_files(self, owner: str) -> ApplicantFiles | None:
        try:
            return self.repository.get(ApplicantFiles.create_id(owner))
        except AggregateNotFoundError:
            return None

    def _files(self, owner: str) -> ApplicantFiles:
        return self._find_files(owner) or ApplicantFiles(applicant_ref=owner)

    def _blob_references(self, sha256: str) -> BlobReferences:
        try:
            return self.repository.get(BlobReferences.create_id(sha256))
        except AggregateNotFoundError:
            return BlobReferences(sha256=sha256)


def clean_filename(filename: str) -> str:
    """Only the last path segment, printable, bounded: shown to clerks, never used as a path."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:FILENAME_MAX] or "datei"
