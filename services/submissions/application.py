"""Submissions application: commands in, Case events saved, plain values out.

The batched hot path (submit) lives in :mod:`services.submissions.submitting`; here are the
lifecycle actions, the reads of one case and the factory on the configured store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from services.common.blobs import BlobStore, open_blobs
from services.common.cases import ACTIONS, Status
from services.common.config import settings
from services.common.db import open_application
from services.common.partitions import schema_name
from services.common.problems import DomainError
from services.common.secrets import secret_from
from services.submissions.automatic import AutomaticDecisions
from services.submissions.commands import date_field, int_field, text_field
from services.submissions.domain import ApplicantCases, Case, ReferenceSequence, indexed_case_ids
from services.submissions.drafting import DraftsAndAttachments
from services.submissions.submitting import BatchSubmission, case_view

PAYMENTS_ACTOR = "system:payments"

__all__ = ["SubmissionsApp", "case_uuid", "case_view", "open_submissions"]


class SubmissionsApp(AutomaticDecisions, DraftsAndAttachments, BatchSubmission):
    """Owns the case event store (cases, drafts, attachments) and the attachments' blobs."""

    name = "submissions"
    # a sequence gains an event per batch: snapshots keep loading it cheap at any age
    # (an applicant's index gains one per batch with their cases: few, read in bulk)
    snapshotting_intervals = {ReferenceSequence: 100}

    def __init__(
        self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None,
        blobs: BlobStore | None = None,
    ):
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.blobs = blobs or open_blobs("submissions")
        self.secret = secret_from(settings())  # keys the request fingerprints
        self._sequences: dict[tuple[str, int], ReferenceSequence] = {}
        self._indexes: OrderedDict[str, ApplicantCases | None] = OrderedDict()
        # case partitioning (services/submissions/partitioning.py): this store's partition, where
        # drafts and attachments live (partition 0's store), and how a case id or a tenant's
        # reference sequence is found in any partition; alone, this store is all of them
        self.partition = 0
        self.files: DraftsAndAttachments = self
        self.find_case: Callable[[UUID | str], Case] = self.get_case
        self.case_stream: Callable[[UUID], Any] = self.events.get
        self.sequence_floor: Callable[[str, int], int] = lambda tenant, year: 0

    def of_case(self, case_id: UUID | str) -> SubmissionsApp:
        """The store that holds the case (this one; the partitioned store routes by the id)."""
        return self

    @property
    def partitions(self) -> list[SubmissionsApp]:
        return [self]

    # -- lifecycle actions ------------------------------------------------------------------
    def act(self, case_id: UUID | str, action: str, payload: dict[str, Any], actor: str, correlation_id: str) -> dict[str, Any]:
        """Load the case, let it decide, save the new event(s)."""
        if action not in ACTIONS:
            raise DomainError("unknown_action", action=action, allowed=", ".join(ACTIONS))
        case = self.get_case(case_id)
        meta = {"actor": actor, "correlation_id": correlation_id}
        text = text_field(payload)
        if action == "request-payment":
            case.request_payment(int_field(payload, "amount_cents", case.fee_cents), **meta)
        elif action == "record-payment":
            case.receive_payment(
                int_field(payload, "amount_cents", case.amount_due_cents), text("payment_ref", 200, required=True), **meta
            )
        elif action == "start-review":
            case.start_review(text("clerk", 200) or actor, **meta)
        elif action == "request-information":
            due = payload.get("due_date") or (self.clock().date() + timedelta(days=14)).isoformat()
            case.request_information(text("question", 4000, required=True), date_field(due), **meta)
        elif action == "supply-information":
            case.supply_information(text("answer", 20000, required=True), **meta)
        elif action == "approve":
            case.approve(text("decision", 20000) or "Ihr Antrag wurde bewilligt.", **meta)
        elif action == "reject":
            case.reject(text("reason", 20000, required=True), **meta)
        elif action == "withdraw":
            case.withdraw(text("reason", 4000), **meta)
        elif action == "reassign":
            case.reassign(text("clerk", 200, required=True), **meta)
        elif action == "reverse-automatic-decision":
            self.reverse_automatic_decision(case, text("clerk", 200) or actor, text("reason", 4000), **meta)
        self.save(case)
        return case_view(case)

    def record_fee_paid(self, case_id: str, amount_cents: int, kassenzeichen: str, correlation_id: str) -> str:
        """The saga: the payments service booked the case's fee. Exactly once by the case's own
        state — only a case waiting for its payment records it; a repeat finds it paid."""
        case = self.get_case(case_id)
        if case.status != Status.PAYMENT_PENDING:
            return "duplicate" if case.paid_cents else "not_pending"
        case.receive_payment(amount_cents, kassenzeichen, actor=PAYMENTS_ACTOR, correlation_id=correlation_id)
        self.save(case)
        return "recorded"

    def get_case(self, case_id: UUID | str) -> Case:
        case_id = case_uuid(case_id)
        case = self._find(case_id)
        if case is None or not isinstance(case, Case):
            raise DomainError("case_not_found", case_id=str(case_id))
        return case

    def case_contents(self, case_id: UUID | str) -> dict[str, Any]:
        """What the applicant entered and what the authority answered: for the people
        allowed to read the case (the gateway decides who that is)."""
        case = self.get_case(case_id)
        return {
            "applicant": case.applicant,
            "form_data": case.form_data,
            "question": case.question,
            "decision": case.decision,
            "personal_data_erased": case.personal_data_erased,
        }

    def case_version(self, case_id: UUID | str) -> int:
        """The case's current version, from its newest stored event (one small query)."""
        newest = self.recorder.select_events(case_uuid(case_id), desc=True, limit=1)
        if not newest:
            raise DomainError("case_not_found", case_id=str(case_id))
        return newest[0].originator_version

    def case_events(self, case_id: UUID | str) -> list[Any]:
        """The case's domain events, oldest first (used when a projection lags behind)."""
        return list(self.events.get(self.get_case(case_id).id))

    def applicant_case_ids(self, applicant_ref: str) -> list[str]:
        """Every case of the applicant, from the event store (the index saved with the cases)."""
        return indexed_case_ids(self.events.get(ApplicantCases.create_id(applicant_ref)))


def case_uuid(case_id: UUID | str) -> UUID:
    """A case id from the outside; anything that is not a UUID is simply no case."""
    try:
        return case_id if isinstance(case_id, UUID) else UUID(str(case_id))
    except ValueError:
        raise DomainError("case_not_found", case_id=str(case_id)[:64]) from None


def open_submissions(partition: int = 0) -> SubmissionsApp:
    """The submissions application on the configured store (SQLite under var/ or PostgreSQL):
    partition 0 is the schema ``submissions`` as always, partition k ``submissions_p<k>``."""
    app = open_application(SubmissionsApp, schema_name("submissions", partition))
    app.partition = partition
    return app
