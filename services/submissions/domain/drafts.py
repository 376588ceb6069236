"""Drafts (Entwürfe) and uploaded attachments: what a citizen has in progress before a case
exists.

A :class:`Draft` is an application being filled in, saved server-side page by page so it can
be resumed from "Meine Anträge" on any device. It pins the form version it was started on;
submitting turns it into a case through the ordinary submission path (the same validation,
idempotency and fee). Started vs submitted drafts are what the KPI counts.

An :class:`Attachment` is a file the citizen uploaded (PDF, JPEG, PNG); its bytes live in
the content-addressed blob store (``services.common.blobs``), the aggregate holds the
owner and the metadata. :class:`BlobReferences` counts which attachments share one blob
(two people may upload the same file), so erasing one person's attachment deletes the
bytes only when nobody else refers to them.

:class:`ApplicantFiles` indexes an applicant's drafts and attachments in the event store
(saved with them), so "Meine Anträge" and erasure find them without a read model. Pure
domain code, like :mod:`services.submissions.domain`.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError

FILES_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/applicant-files")
BLOB_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/blobs")

OPEN, SUBMITTED, DISCARDED, ERASED = "open", "submitted", "discarded", "erased"


class DraftNotFound(DomainError):
    code = "draft_not_found"


class Draft(Aggregate):
    """An application being filled in by its owner; only the owner ever sees it."""

    class Event(Aggregate.Event):
        tenant: str
        service_id: str
        actor: str
        correlation_id: str

    @event("Started")
    def __init__(
        self,
        *,
        tenant: str,
        portal: str,
        service_id: str,
        form_version: int,
        owner: str,
        form_data: dict[str, Any],
        page: str | None,
        started_at: str,
        actor: str,
        correlation_id: str,
    ) -> None:
        self.tenant = tenant
        self.portal = portal
        self.service_id = service_id
        self.form_version = form_version
        self.owner = owner
        self.form_data = form_data
        self.page = page
        self.started_at = started_at
        self.updated_at = started_at
        self.status = OPEN
        self.case_id: str | None = None

    def _trigger(self, event_class: type[Draft.Event], actor: str, correlation_id: str, **kw: Any) -> None:
        self.trigger_event(
            event_class, tenant=self.tenant, service_id=self.service_id, actor=actor, correlation_id=correlation_id, **kw
        )

    def _require_open(self) -> None:
        if self.status != OPEN:
            raise DraftNotFound(draft_id=str(self.id))

    def save(self, form_data: dict[str, Any], page: str | None, saved_at: str, actor: str, correlation_id: str) -> None:
        self._require_open()
        self._trigger(self.Saved, actor, correlation_id, form_data=form_data, page=page, saved_at=saved_at)

    def submit(self, case_id: str, actor: str, correlation_id: str) -> None:
        self._require_open()
        self._trigger(self.Submitted, actor, correlation_id, case_id=case_id)

    def discard(self, actor: str, correlation_id: str) -> None:
        self._require_open()
        self._trigger(self.Discarded, actor, correlation_id)

    def erase_personal_data(self, actor: str, correlation_id: str) -> None:
        if self.status != ERASED:
            self._trigger(self.PersonalDataErased, actor, correlation_id)

    class Saved(Event):
        form_data: dict[str, Any]
        page: str | None
        saved_at: str

        def apply(self, draft: Draft) -> None:
            draft.form_data = self.form_data
            draft.page = self.page
            draft.updated_at = self.saved_at

    class Submitted(Event):
        case_id: str

        def apply(self, draft: Draft) -> None:
            draft.status = SUBMITTED
            draft.case_id = self.case_id

    class Discarded(Event):
        def apply(self, draft: Draft) -> None:
            draft.status = DISCARDED
            draft.form_data = {}

    class PersonalDataErased(Event):
        def apply(self, draft: Draft) -> None:
            draft.status = ERASED
            draft.form_data = {}


class Attachment(Aggregate):
    """A file uploaded by its owner; referred to from form data by its id."""

    @event("Uploaded")
    def __init__(
        self, *, owner: str, filename: str, media_type: str, size: int, sha256: str, uploaded_at: str,
        actor: str, correlation_id: str,
    ) -> None:
        self.owner = owner
        self.filename = filename
        self.media_type = media_type
        self.size = size
        self.sha256 = sha256
        self.uploaded_at = uploaded_at
        self.erased = False

    def erase(self, actor: str, correlation_id: str) -> None:
        if not self.erased:
            self._erased(actor=actor, correlation_id=correlation_id)

    @event("PersonalDataErased")
    def _erased(self, actor: str, correlation_id: str) -> None:
        self.erased = True
        self.filename = ""


class BlobReferences(Aggregate):
    """Which attachments refer to one stored blob (content address = SHA-256)."""

    @event("Created")
    def __init__(self, sha256: str) -> None:
        self.sha256 = sha256
        self.attachments: list[str] = []

    @staticmethod
    def create_id(sha256: str) -> UUID:
        return uuid5(BLOB_NAMESPACE, sha256)

    def refer(self, attachment_id: str) -> None:
        if attachment_id not in self.attachments:
            self._referred(attachment_id=attachment_id)

    def release(self, attachment_id: str) -> None:
        if attachment_id in self.attachments:
            self._released(attachment_id=attachment_id)

    @event("Referred")
    def _referred(self, attachment_id: str) -> None:
        self.attachments.append(attachment_id)

    @event("Released")
    def _released(self, attachment_id: str) -> None:
        self.attachments.remove(attachment_id)


class ApplicantFiles(Aggregate):
    """An applicant's drafts and attachments, saved with them; closed on erasure (no draft
    or upload is accepted afterwards), like :class:`~services.submissions.domain.ApplicantCases`."""

    @event("Opened")
    def __init__(self, applicant_ref: str) -> None:
        self.applicant_ref = applicant_ref
        self.drafts: list[str] = []
        self.attachments: list[str] = []
        self.closed = False

    @staticmethod
    def create_id(applicant_ref: str, **_: Any) -> UUID:
        return uuid5(FILES_NAMESPACE, applicant_ref)

    def _require_open(self) -> None:
        if self.closed:
            raise DomainError("account_deleted")

    def add_draft(self, draft_id: str) -> None:
        self._require_open()
        self._draft_added(draft_id=draft_id)

    def add_attachment(self, attachment_id: str) -> None:
        self._require_open()
        self._attachment_added(attachment_id=attachment_id)

    def close(self, actor: str, correlation_id: str) -> None:
        if not self.closed:
            self._closed(actor=actor, correlation_id=correlation_id)

    @event("DraftAdded")
    def _draft_added(self, draft_id: str) -> None:
        self.drafts.append(draft_id)

    @event("AttachmentAdded")
    def _attachment_added(self, attachment_id: str) -> None:
        self.attachments.append(attachment_id)

    @event("Closed")
    def _closed(self, actor: str, correlation_id: str) -> None:
        self.closed = True


#: Per event: the fields holding personal data and what erasure leaves there.
DRAFT_PERSONAL_FIELDS: dict[type, dict[str, Any]] = {
    Draft.Started: {"form_data": {}},
    Draft.Saved: {"form_data": {}},
    Attachment.Uploaded: {"filename": ""},
}
