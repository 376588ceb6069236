"""Data subject rights on cases: export everything about an applicant, and erase their
personal data when they delete their account (the case itself is kept).

Erasure is idempotent and resumable, so a caller retries it until it succeeds: it closes
the applicant's case index (no case can be added afterwards), records
``PersonalDataErased`` on every case that lacks it, and then rewrites every stored event
that still holds personal data — decided by what the stored events hold, not by the flag,
so a run that died between the two steps is completed by the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.common.cases import Status
from services.common.erasure import rewrite_event
from services.submissions.application import SubmissionsApp, case_view
from services.submissions.domain import ApplicantCases, redacted
from services.submissions.domain.drafts import ApplicantFiles, Attachment, BlobReferences, Draft

ATTEMPTS = 5  # optimistic-concurrency retries against a clerk acting on the same case


@dataclass(frozen=True)
class ErasedCase:
    case_id: str
    tenant: str
    events_redacted: int  # stored events rewritten by this run (0: nothing was left)


def export_applicant(app: SubmissionsApp, case_ids: list[str]) -> list[dict[str, Any]]:
    """Every case of the applicant with its full contents and history."""
    cases = []
    for case_id in case_ids:
        store = app.of_case(case_id)
        case = store.get_case(case_id)
        history = [
            {"at": e.timestamp.isoformat(), "event": type(e).__name__, "actor": getattr(e, "actor", None)}
            for e in store.events.get(case.id)
        ]
        cases.append({**case_view(case), "applicant": case.applicant, "form_data": case.form_data, "history": history})
    return cases


def close_applicant(app: SubmissionsApp, applicant_ref: str, actor: str, correlation_id: str) -> list[str]:
    """Close the applicant's case index and return every case id it holds. After this no
    submission of the applicant is saved, so the list is final."""
    for _attempt in range(ATTEMPTS):
        try:
            index: ApplicantCases = app.repository.get(ApplicantCases.create_id(applicant_ref))
        except AggregateNotFoundError:
            index = ApplicantCases(applicant_ref=applicant_ref, case_ids=[])
        if not index.closed:
            index.close(actor, correlation_id)
            try:
                app.save(index)
            except IntegrityError:
                continue  # a batch added cases meanwhile: reload, they are erased too
        return app.applicant_case_ids(applicant_ref)
    raise RuntimeError(f"could not close the case index of {applicant_ref}")


def erase_case(app: SubmissionsApp, case_id: str, actor: str, correlation_id: str) -> ErasedCase:
    """``PersonalDataErased`` on the case (once) — with ``Withdrawn`` if it waited for the
    applicant's answer, which can never come now — then every stored event still holding
    personal data rewritten without it."""
    for _attempt in range(ATTEMPTS):
        case = app.get_case(case_id)
        if case.personal_data_erased and case.status != Status.INFORMATION_REQUESTED:
            break
        case.erase_personal_data(actor, correlation_id)
        case.close_unanswerable_question(actor, correlation_id)
        try:
            app.save(case)
        except IntegrityError:
            continue  # a clerk acted meanwhile; their event is redacted below if need be
        break
    else:
        raise RuntimeError(f"could not record the erasure of case {case_id}")
    return ErasedCase(str(case.id), case.tenant, _redact_stream(app, case.id))


def _save_retrying(app: SubmissionsApp, change: Any) -> Any:
    """Load, change and save, again on a concurrent write (the change is idempotent)."""
    for _attempt in range(ATTEMPTS):
        aggregates = change()
        try:
            app.save(*aggregates)
        except IntegrityError:
            continue
        return aggregates
    raise RuntimeError("could not save the erasure after concurrent writes")


def _redact_stream(app: SubmissionsApp, originator_id: Any) -> int:
    rewritten = 0
    for event in app.events.get(originator_id):
        clean = redacted(event)
        if clean is not None:
            rewrite_event(app.recorder, app.mapper.to_stored_event(clean))
            rewritten += 1
    return rewritten


def erase_files(app: SubmissionsApp, applicant_ref: str, actor: str, correlation_id: str) -> int:
    """Close the applicant's :class:`ApplicantFiles` (no new draft or upload), erase every
    draft's form data and every attachment (its bytes deleted once no other attachment
    refers to the same blob) and rewrite their stored events. Idempotent; returns the
    number of stored events rewritten."""

    def close() -> list[Any]:
        index = app._find_files(applicant_ref) or ApplicantFiles(applicant_ref=applicant_ref)
        index.close(actor, correlation_id)
        return [index]

    (index,) = _save_retrying(app, close)
    rewritten = 0
    for draft_id in index.drafts:
        def erase_draft(draft_id: str = draft_id) -> list[Any]:
            draft: Draft = app.repository.get(UUID(draft_id))
            draft.erase_personal_data(actor, correlation_id)
            return [draft]

        (draft,) = _save_retrying(app, erase_draft)
        rewritten += _redact_stream(app, draft.id)
    for attachment_id in index.attachments:
        rewritten += erase_attachment(app, attachment_id, actor, correlation_id)
    return rewritten


def erase_attachment(app: SubmissionsApp, attachment_id: str, actor: str, correlation_id: str) -> int:
    """Erase one attachment (its bytes deleted once no other attachment refers to the same
    blob) and rewrite its stored events; idempotent. Returns the events rewritten."""
    def erase() -> list[Any]:
        attachment: Attachment = app.repository.get(UUID(attachment_id))
        references: BlobReferences = app.repository.get(BlobReferences.create_id(attachment.sha256))
        attachment.erase(actor, correlation_id)
        references.release(attachment_id)
        return [attachment, references]

    attachment, references = _save_retrying(app, erase)
    if not references.attachments:
        app.blobs.delete(attachment.sha256)
    return _redact_stream(app, attachment.id)


def erase_applicant(
    app: SubmissionsApp, applicant_ref: str, actor: str, correlation_id: str, also: Iterable[str] = ()
) -> list[ErasedCase]:
    """Erase the applicant's personal data in every case of theirs: the cases their index
    holds, plus ``also`` (cases known elsewhere, e.g. stored before the index existed).
    Raises if any case could not be erased; the caller retries the whole (idempotent) run."""
    # every partition's index is closed (so none accepts the applicant again), then each case
    # is erased in the partition its id names, the files in partition 0 where they live
    case_ids = [case_id for store in app.partitions for case_id in close_applicant(store, applicant_ref, actor, correlation_id)]
    erased = [erase_case(app.of_case(case_id), case_id, actor, correlation_id) for case_id in dict.fromkeys([*case_ids, *also])]
    erase_files(app.files, applicant_ref, actor, correlation_id)
    return erased
