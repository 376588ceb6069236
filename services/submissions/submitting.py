"""The hot path of the submissions application: a batch of submit commands in, one result
per command out. Validate every command, allocate case numbers, and save all new cases in
one ``save(*aggregates)`` (group commit) together with the reference sequences and each
applicant's case index (:class:`ApplicantCases`, one event per applicant and batch). A
retried submission (same idempotency key) maps to the same case id; a conflict on save is
resolved by looking the existing case up and comparing the request fingerprint.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError

from services.common.partitions import mark_case_id
from services.common.problems import DomainError
from services.common.streams import select_streams
from services.submissions.commands import Offering, SubmitCommand, field_errors
from services.submissions.domain import (
    ApplicantCases,
    Case,
    ReferenceSequence,
    case_id_for,
    format_reference,
)
from services.submissions.domain.drafts import OPEN, SUBMITTED, Draft

Pending = tuple[int, UUID, SubmitCommand, Offering, str]  # (index in the batch, case id, command, offering, fingerprint)
SYSTEM_ACTOR = "system:submissions"  # the authority itself: the fee pinned at submission is due
INDEX_CACHE = 10_000  # applicants whose ApplicantCases stay loaded between batches


def case_view(case: Case) -> dict[str, Any]:
    return {
        "case_id": str(case.id),
        "reference": case.reference,
        "tenant": case.tenant,
        "portal": case.portal,
        "service_id": case.service_id,
        "form_version": case.form_version,
        "fee_cents": case.fee_cents,
        "status": case.status.value,
        "version": case.version,
        "assignee": case.assignee,
        "submitted_at": case.submitted_at,
    }


class BatchSubmission(Application[UUID]):
    """Mixed into :class:`~services.submissions.application.SubmissionsApp`, which sets up
    the clock, the secret and the caches of loaded sequences and indexes."""

    clock: Callable[[], datetime]
    secret: bytes
    _sequences: dict[tuple[str, int], ReferenceSequence]
    _indexes: OrderedDict[str, ApplicantCases | None]
    partition: int
    files: Any  # the store of drafts and attachments (partition 0's)
    find_case: Callable[..., Case]
    sequence_floor: Callable[[str, int], int]

    def _from_draft(self, cmd: SubmitCommand) -> dict[str, Any] | None:
        """Fill the command from the principal's draft; the case if it was submitted already
        (a retry). The draft's id is the idempotency key: one draft, at most one case."""
        draft = self.files.get_draft(cmd.draft_id, cmd.principal)
        if draft.status == SUBMITTED:
            return {"case": case_view(self.find_case(draft.case_id)), "replayed": True}
        cmd.portal, cmd.service_id, cmd.form_version = draft.portal, draft.service_id, draft.form_version
        cmd.form_data = draft.form_data
        cmd.idempotency_key = f"draft:{draft.id}"
        return None

    def submit_batch(
        self, commands: list[SubmitCommand], resolve: Callable[[str, str], Offering]
    ) -> list[dict[str, Any]]:
        """Validate and save many submissions at once; one result (case or error) per command."""
        results: list[dict[str, Any] | None] = [None] * len(commands)
        pending: list[Pending] = []
        seen: dict[UUID, int] = {}
        for i, cmd in enumerate(commands):
            try:
                if cmd.draft_id and (done := self._from_draft(cmd)) is not None:
                    results[i] = done
                    continue
                offering = resolve(cmd.portal, cmd.service_id)
                if cmd.form_version is not None and cmd.form_version != offering.form_version:
                    raise DomainError(
                        "unknown_form_version",
                        service_id=cmd.service_id,
                        version=cmd.form_version,
                        current=offering.form_version,
                    )
                cmd.check_trust(offering.trust_level)
                errors = field_errors(offering.validator, cmd.form_data)
                if not errors:  # the attachments the form refers to are the applicant's (or the assisting clerk's)
                    errors = self.files.attachment_errors(offering.form_schema, cmd.form_data, {cmd.principal, cmd.actor or cmd.principal})
                if errors:
                    raise DomainError("form_invalid", errors=errors)
            except DomainError as exc:
                results[i] = {"error": {"code": exc.code, "params": exc.params}}
                continue
            case_id = mark_case_id(case_id_for(cmd.portal, cmd.principal, cmd.idempotency_key), self.partition)
            if case_id in seen:  # the same key twice in one batch: resolve after saving
                results[i] = {"duplicate_of": seen[case_id]}
                continue
            seen[case_id] = i
            pending.append((i, case_id, cmd, offering, cmd.fingerprint(self.secret)))

        saved = self._save_new_cases(pending)
        for i, result in saved.items():
            results[i] = result
        for i, cmd in enumerate(commands):
            result = results[i]
            if result is not None and "duplicate_of" in result:
                first = results[result["duplicate_of"]]
                results[i] = self._same_request(first, cmd.fingerprint(self.secret), commands[result["duplicate_of"]])
        if self.files is not self:  # drafts live in partition 0: marked there once the case is saved here
            for cmd, result in zip(commands, results, strict=True):
                if cmd.draft_id and result is not None and "case" in result:
                    self.files.mark_draft_submitted(cmd.draft_id, result["case"]["case_id"], cmd.actor or cmd.principal, cmd.correlation_id)
        return results  # type: ignore[return-value]

    def _same_request(self, first: dict[str, Any] | None, fingerprint: str, first_cmd: SubmitCommand) -> dict[str, Any]:
        if first is None or "error" in first:
            return first or {"error": {"code": "internal_error", "params": {}}}
        if first_cmd.fingerprint(self.secret) != fingerprint:
            return {"error": {"code": "idempotency_key_reused", "params": {}}}
        return {"case": first["case"], "replayed": True}

    def _save_new_cases(self, pending: list[Pending]) -> dict[int, dict[str, Any]]:
        """Save the batch's cases, their reference sequences and each applicant's case index
        in one transaction; on a conflict reload and retry what is still unsaved."""
        results: dict[int, dict[str, Any]] = {}
        for _attempt in range(5):
            pending = self._refuse_erased_applicants(pending, results)
            if not pending:
                return results
            cases, aggregates = self._build(pending)
            try:
                self.save(*aggregates, *cases)
            except IntegrityError:
                # A retried idempotency key (case exists) or a sequence or index moved on elsewhere.
                self._forget_loaded()
                still: list[Pending] = []
                for item in pending:
                    i, case_id, _, _, fingerprint = item
                    existing = self._find(case_id)
                    if existing is None:
                        still.append(item)
                    elif existing.request_hash != fingerprint:
                        results[i] = {"error": {"code": "idempotency_key_reused", "params": {}}}
                    else:
                        results[i] = {"case": case_view(existing), "replayed": True}
                pending = still
                continue
            except BaseException:
                self._forget_loaded()  # their in-memory versions ran ahead of the store
                raise
            for (i, *_), case in zip(pending, cases, strict=True):
                results[i] = {"case": case_view(case)}
            return results
        raise RuntimeError("could not save submissions after 5 attempts")

    def _forget_loaded(self) -> None:
        self._sequences.clear()
        self._indexes.clear()

    def _refuse_erased_applicants(self, pending: list[Pending], results: dict[int, dict[str, Any]]) -> list[Pending]:
        """An applicant whose personal data were erased (account deleted) applies no more."""
        self._load_indexes({item[2].principal for item in pending})
        kept = []
        for item in pending:
            index = self._indexes.get(item[2].principal)
            if index is not None and index.closed:
                results[item[0]] = {"error": {"code": "account_deleted", "params": {}}}
            else:
                kept.append(item)
        return kept

    def _load_indexes(self, applicant_refs: set[str]) -> None:
        """The case indexes of the batch's applicants, read in one query for all that are
        not loaded yet and kept (least recently used out first; ``None``: no index yet).
        A kept index that another process moved on only costs a retry: its save conflicts."""
        for applicant_ref in applicant_refs & self._indexes.keys():
            self._indexes.move_to_end(applicant_ref)
        missing = {ApplicantCases.create_id(ref): ref for ref in applicant_refs - self._indexes.keys()}
        streams = select_streams(self.recorder, list(missing))
        for index_id, applicant_ref in missing.items():
            events = [self.mapper.to_domain_event(stored) for stored in streams.get(index_id, ())]
            self._indexes[applicant_ref] = project_aggregate(None, events)
        while len(self._indexes) > INDEX_CACHE:
            self._indexes.popitem(last=False)

    def _find(self, case_id: UUID) -> Case | None:
        try:
            return self.repository.get(case_id)
        except AggregateNotFoundError:
            return None

    def _sequence(self, tenant: str, year: int) -> ReferenceSequence:
        key = (tenant, year)
        sequence = self._sequences.get(key)
        if sequence is None:
            try:
                sequence = self.repository.get(ReferenceSequence.create_id(tenant, year))
            except AggregateNotFoundError:
                sequence = ReferenceSequence(tenant=tenant, year=year)
                floor = self.sequence_floor(tenant, year)  # the tenant numbered cases in another partition before
                if floor:
                    sequence.allocate(floor)
            self._sequences[key] = sequence
        return sequence

    def _build(self, pending: list[Pending]) -> tuple[list[Case], list[Any]]:
        """New cases with their numbers, plus the sequences and applicant indexes they change."""
        now = self.clock()
        year = now.year
        counts: dict[str, int] = {}
        for _, _, _, offering, _ in pending:
            counts[offering.tenant] = counts.get(offering.tenant, 0) + 1
        next_number: dict[str, int] = {}
        sequences = []
        for tenant, count in counts.items():
            sequence = self._sequence(tenant, year)
            next_number[tenant] = sequence.last + 1
            sequence.allocate(count)
            sequences.append(sequence)
        cases = []
        for _, case_id, cmd, offering, fingerprint in pending:
            number = next_number[offering.tenant]
            next_number[offering.tenant] += 1
            case = Case.submit(
                    case_id,
                    tenant=offering.tenant,
                    portal=cmd.portal,
                    service_id=offering.service_id,
                    ozg_id=offering.ozg_id,
                    leika_key=offering.leika_key,
                    form_version=offering.form_version,
                    fee_cents=offering.fee_cents,
                    processing_days=offering.processing_days,
                    reference=format_reference(offering.tenant_code, year, number),
                    applicant_ref=cmd.principal,
                    # the identity's trust level at submission (a clerk at the counter saw the ID): rules ask for it
                    applicant={**cmd.applicant, "trust_level": "high" if cmd.assisted else cmd.trust_level},
                    form_data=cmd.form_data,
                    submitted_at=now.isoformat(),
                    request_hash=fingerprint,
                    actor=cmd.actor or cmd.principal,
                    correlation_id=cmd.correlation_id,
                )
            if offering.fee_cents > 0:
                # the fee is due at once: the same save opens the case in payment_pending, so no
                # clerk can start a review before the payments service has the receivable's event
                case.request_payment(offering.fee_cents, actor=SYSTEM_ACTOR, correlation_id=cmd.correlation_id)
            cases.append(case)
        return cases, [*sequences, *self._indexed(pending), *self._drafts_submitted(pending)]

    def _drafts_submitted(self, pending: list[Pending]) -> list[Draft]:
        """``Draft.Submitted`` for the batch's drafts, saved with their cases (loaded afresh on
        every attempt, so a retry after a conflict records it once)."""
        drafts: list[Draft] = []
        if self.files is not self:
            return drafts  # partition 0 holds the drafts: marked after the save (submit_batch)
        for _, case_id, cmd, _, _ in pending:
            if cmd.draft_id:
                draft = self.repository.get(UUID(cmd.draft_id))
                if draft.status == OPEN:
                    draft.submit(str(case_id), actor=cmd.actor or cmd.principal, correlation_id=cmd.correlation_id)
                    drafts.append(draft)
        return drafts

    def _indexed(self, pending: list[Pending]) -> list[ApplicantCases]:
        """One event per applicant and batch: the new case ids in the applicant's index."""
        new_ids: dict[str, list[str]] = {}
        for _, case_id, cmd, _, _ in pending:
            new_ids.setdefault(cmd.principal, []).append(str(case_id))
        indexes = []
        for applicant_ref, case_ids in new_ids.items():
            index = self._indexes.get(applicant_ref)
            if index is None:
                index = self._indexes[applicant_ref] = ApplicantCases(applicant_ref=applicant_ref, case_ids=case_ids)
            else:
                index.add(case_ids)
            indexes.append(index)
        return indexes
