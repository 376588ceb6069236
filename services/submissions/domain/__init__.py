"""The case (Antrag): an event-sourced aggregate with its whole lifecycle.

Pure domain code: eventsourcing aggregates and domain errors, no I/O. Every event carries
the responsible tenant (AGS), the service key, the acting principal and the correlation id.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.cases import FINAL, OPEN, Status
from services.common.problems import DomainError
from services.submissions.domain.drafts import DRAFT_PERSONAL_FIELDS

CASE_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/cases")
SEQUENCE_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/case-references")
APPLICANT_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/applicant-cases")


STATUS_DE = {
    Status.SUBMITTED: "Eingegangen",
    Status.PAYMENT_PENDING: "Zahlung ausstehend",
    Status.PAID: "Bezahlt",
    Status.IN_REVIEW: "In Bearbeitung",
    Status.INFORMATION_REQUESTED: "Rückfrage offen",
    Status.APPROVED: "Bewilligt",
    Status.REJECTED: "Abgelehnt",
    Status.WITHDRAWN: "Zurückgezogen",
}
ERASED_MARK = "_erased"
ERASED_TEXT = ""  # what is left of a free text once the applicant's personal data are erased


class TransitionNotAllowed(DomainError):
    code = "transition_not_allowed"


def case_id_for(portal: str, principal: str, idempotency_key: str) -> UUID:
    """The same submission retried with the same key maps to the same case id."""
    return uuid5(CASE_NAMESPACE, f"{portal}|{principal}|{idempotency_key}")


def format_reference(code: str, year: int, number: int) -> str:
    return f"{code}-{year}-{number:06d}"


class Case(Aggregate):
    """One application (Antrag) from submission to decision."""

    class Event(Aggregate.Event):
        tenant: str
        service_id: str
        actor: str
        correlation_id: str

    @event("Submitted")
    def __init__(
        self,
        *,
        tenant: str,
        portal: str,
        service_id: str,
        ozg_id: str,
        leika_key: str,
        form_version: int,
        fee_cents: int,
        processing_days: int,
        reference: str,
        applicant_ref: str,
        applicant: dict[str, Any],
        form_data: dict[str, Any],
        submitted_at: str,
        request_hash: str,
        actor: str,
        correlation_id: str,
    ) -> None:
        self.tenant = tenant
        self.portal = portal
        self.service_id = service_id
        self.ozg_id = ozg_id
        self.leika_key = leika_key
        self.form_version = form_version
        self.fee_cents = fee_cents
        self.processing_days = processing_days
        self.reference = reference
        self.applicant_ref = applicant_ref
        self.applicant = applicant
        self.form_data = form_data
        self.submitted_at = submitted_at
        self.request_hash = request_hash
        self.status = Status.SUBMITTED
        self.assignee: str | None = None
        self.amount_due_cents = 0
        self.paid_cents = 0
        self.question: str | None = None
        self.information_due: str | None = None
        self.decision: str | None = None
        self.automatic: dict[str, Any] | None = None  # the rule's decision while it may be reversed

    @classmethod
    def submit(cls, case_id: UUID, **fields: Any) -> Case:
        """Open a case under a given id (derived from the idempotency key)."""
        return cls._create(cls.Submitted, id=case_id, **fields)

    # -- rules ---------------------------------------------------------------------
    def _require(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise TransitionNotAllowed(
                action=action, status=self.status.value, status_de=STATUS_DE[self.status]
            )

    def _trigger(self, event_class: type[Case.Event], actor: str, correlation_id: str, **kw: Any) -> None:
        self.trigger_event(
            event_class,
            tenant=self.tenant,
            service_id=self.service_id,
            actor=actor,
            correlation_id=correlation_id,
            **kw,
        )

    # -- commands --------------------------------------------------------------------
    def request_payment(self, amount_cents: int, actor: str, correlation_id: str) -> None:
        self._require("request-payment", Status.SUBMITTED)
        if amount_cents <= 0:
            raise DomainError("no_fee_due")
        self._trigger(self.PaymentRequested, actor, correlation_id, amount_cents=amount_cents)

    def receive_payment(self, amount_cents: int, payment_ref: str, actor: str, correlation_id: str) -> None:
        self._require("record-payment", Status.PAYMENT_PENDING)
        if amount_cents != self.amount_due_cents:
            raise DomainError(
                "payment_amount_mismatch", paid_cents=amount_cents, due_cents=self.amount_due_cents
            )
        self._trigger(
            self.PaymentReceived, actor, correlation_id, amount_cents=amount_cents, payment_ref=payment_ref
        )

    def start_review(self, clerk: str, actor: str, correlation_id: str) -> None:
        self._require("start-review", Status.SUBMITTED, Status.PAID)
        self._trigger(self.ReviewStarted, actor, correlation_id, clerk=clerk)

    def _free_text(self, value: str) -> str:
        """Free text may name the applicant: once their data are erased, none is recorded."""
        return ERASED_TEXT if self.personal_data_erased else value

    def request_information(self, question: str, due_date: date, actor: str, correlation_id: str) -> None:
        self._require("request-information", Status.IN_REVIEW)
        if self.personal_data_erased:
            raise DomainError("personal_data_erased")  # nobody is left to answer
        self._trigger(
            self.InformationRequested, actor, correlation_id, question=question, due_date=due_date.isoformat()
        )

    def supply_information(self, answer: str, actor: str, correlation_id: str) -> None:
        self._require("supply-information", Status.INFORMATION_REQUESTED)
        self._trigger(self.InformationSupplied, actor, correlation_id, answer=self._free_text(answer))

    def _decidable(self) -> tuple[Status, ...]:
        """In review; and, once nobody is left to answer (personal data erased), also while
        a question is open — a case erased before the erasure closed such cases itself."""
        if self.personal_data_erased:
            return Status.IN_REVIEW, Status.INFORMATION_REQUESTED
        return (Status.IN_REVIEW,)

    def approve(self, decision: str, actor: str, correlation_id: str) -> None:
        self._require("approve", *self._decidable())
        self._trigger(self.Approved, actor, correlation_id, decision=self._free_text(decision))

    def reject(self, reason: str, actor: str, correlation_id: str) -> None:
        self._require("reject", *self._decidable())
        self._trigger(self.Rejected, actor, correlation_id, reason=self._free_text(reason))

    def withdraw(self, reason: str, actor: str, correlation_id: str) -> None:
        self._require("withdraw", *OPEN)
        self._trigger(self.Withdrawn, actor, correlation_id, reason=self._free_text(reason))

    def reassign(self, clerk: str, actor: str, correlation_id: str) -> None:
        self._require("reassign", *OPEN)
        self._trigger(self.Reassigned, actor, correlation_id, clerk=clerk, previous=self.assignee)

    def decide_automatically(self, outcome: str, reason: str, rule: str, decided_at: str, correlation_id: str) -> None:
        """A rule decides (actor = the rule version, ``rule:<id>@v<n>``): the ordinary events
        of a review and its decision, preceded by the marker with the rule's reason."""
        self._require("decide-automatically", Status.SUBMITTED, Status.PAID, Status.IN_REVIEW)
        if outcome not in ("approve", "reject"):
            raise DomainError("invalid_parameter", name="outcome", detail="approve, reject")
        if self.status != Status.IN_REVIEW:
            self._trigger(self.ReviewStarted, rule, correlation_id, clerk=rule)
        self._trigger(self.DecidedAutomatically, rule, correlation_id, rule=rule, outcome=outcome, reason=reason,
                      decided_at=decided_at)
        if outcome == "approve":
            self._trigger(self.Approved, rule, correlation_id, decision=self._free_text(reason))
        else:
            self._trigger(self.Rejected, rule, correlation_id, reason=self._free_text(reason))

    def reverse_automatic_decision(self, clerk: str, reason: str, seconds_since: float, window_seconds: int,
                                   actor: str, correlation_id: str) -> None:
        """A clerk takes an automatic decision back into review, within the window."""
        self._require("reverse-automatic-decision", Status.APPROVED, Status.REJECTED)
        if not self.automatic:
            raise DomainError("not_decided_automatically")
        if seconds_since > window_seconds:
            raise DomainError("reversal_window_closed", hours=window_seconds // 3600)
        self._trigger(self.AutomaticDecisionReversed, actor, correlation_id, clerk=clerk,
                      rule=self.automatic["rule"], reason=self._free_text(reason))

    def erase_personal_data(self, actor: str, correlation_id: str) -> None:
        """The applicant deleted their account: the case stays (what the law requires to
        keep: reference, authority, service, dates, fee, decision), personal data go."""
        if not self.personal_data_erased:
            self._trigger(self.PersonalDataErased, actor, correlation_id)

    def close_unanswerable_question(self, actor: str, correlation_id: str) -> None:
        """After the erasure an open question can never be answered (the account and its
        data are gone): the case is withdrawn, as the applicant ended the procedure by
        deleting the account while the authority waited; the authority keeps the case."""
        if self.personal_data_erased and self.status == Status.INFORMATION_REQUESTED:
            self._trigger(self.Withdrawn, actor, correlation_id, reason=ERASED_TEXT)

    @property
    def personal_data_erased(self) -> bool:
        return bool(self.form_data.get(ERASED_MARK)) if isinstance(self.form_data, dict) else False

    # -- events ----------------------------------------------------------------------
    class PaymentRequested(Event):
        amount_cents: int

        def apply(self, case: Case) -> None:
            case.status = Status.PAYMENT_PENDING
            case.amount_due_cents = self.amount_cents

    class PaymentReceived(Event):
        amount_cents: int
        payment_ref: str

        def apply(self, case: Case) -> None:
            case.status = Status.PAID
            case.paid_cents += self.amount_cents

    class ReviewStarted(Event):
        clerk: str

        def apply(self, case: Case) -> None:
            case.status = Status.IN_REVIEW
            case.assignee = self.clerk

    class InformationRequested(Event):
        question: str
        due_date: str

        def apply(self, case: Case) -> None:
            case.status = Status.INFORMATION_REQUESTED
            case.question = self.question
            case.information_due = self.due_date

    class InformationSupplied(Event):
        answer: str

        def apply(self, case: Case) -> None:
            case.status = Status.IN_REVIEW
            case.question = None
            case.information_due = None

    class Approved(Event):
        decision: str

        def apply(self, case: Case) -> None:
            case.status = Status.APPROVED
            case.decision = self.decision

    class Rejected(Event):
        reason: str

        def apply(self, case: Case) -> None:
            case.status = Status.REJECTED
            case.decision = self.reason

    class Withdrawn(Event):
        reason: str

        def apply(self, case: Case) -> None:
            case.status = Status.WITHDRAWN

    class DecidedAutomatically(Event):
        rule: str
        outcome: str
        reason: str
        decided_at: str  # the application's clock: the reversal window counts from here

        def apply(self, case: Case) -> None:
            case.automatic = {"rule": self.rule, "outcome": self.outcome, "at": self.decided_at}

    class AutomaticDecisionReversed(Event):
        clerk: str
        rule: str
        reason: str

        def apply(self, case: Case) -> None:
            case.status = Status.IN_REVIEW
            case.assignee = self.clerk
            case.decision = None
            case.automatic = None

    class PersonalDataErased(Event):
        def apply(self, case: Case) -> None:
            case.applicant = {}
            case.form_data = {ERASED_MARK: True}
            case.request_hash = ""
            case.question = ERASED_TEXT if case.question is not None else None
            case.decision = ERASED_TEXT if case.decision is not None else None

    class Reassigned(Event):
        clerk: str
        previous: str | None

        def apply(self, case: Case) -> None:
            case.assignee = self.clerk

    @property
    def is_final(self) -> bool:
        return self.status in FINAL


#: The fields of each case event that may hold personal data, and what erasure leaves there.
#: The authority keeps reference, authority, service, dates, fee, status and outcome.
PERSONAL_FIELDS: dict[type, dict[str, Any]] = {
    Case.Submitted: {"applicant": {}, "form_data": {ERASED_MARK: True}, "request_hash": ""},
    Case.InformationRequested: {"question": ERASED_TEXT},
    Case.InformationSupplied: {"answer": ERASED_TEXT},
    Case.Approved: {"decision": ERASED_TEXT},
    Case.Rejected: {"reason": ERASED_TEXT},
    Case.Withdrawn: {"reason": ERASED_TEXT},
    Case.AutomaticDecisionReversed: {"reason": ERASED_TEXT},
}


def redacted(domain_event: Any) -> Any | None:
    """The event with its personal fields erased, or None if it holds none (any more)."""
    erased = PERSONAL_FIELDS.get(type(domain_event)) or DRAFT_PERSONAL_FIELDS.get(type(domain_event), {})
    if all(getattr(domain_event, name) == value for name, value in erased.items()):
        return None
    return dataclasses.replace(domain_event, **erased)


class ApplicantCases(Aggregate):
    """Which cases an applicant has: saved in the same transaction as the cases, so erasing
    an applicant finds every case from the event store itself, never from a lagging read
    model. The case ids are in the events (read them with the event store); the state is
    only what the hot path decides on, so loading stays cheap for applicants with many
    cases. Closed when the applicant's personal data are erased: optimistic concurrency on
    this stream orders a submission racing the erasure — it is either saved before the
    close (and erased with the others) or refused."""

    @event("Opened")
    def __init__(self, applicant_ref: str, case_ids: list[str]) -> None:
        self.applicant_ref = applicant_ref
        self.count = len(case_ids)
        self.closed = False

    @staticmethod
    def create_id(applicant_ref: str, **_: Any) -> UUID:
        return uuid5(APPLICANT_NAMESPACE, applicant_ref)

    def add(self, case_ids: list[str]) -> None:
        if self.closed:
            raise DomainError("account_deleted")
        self._cases_added(case_ids=list(case_ids))

    def close(self, actor: str, correlation_id: str) -> None:
        if not self.closed:
            self._closed(actor=actor, correlation_id=correlation_id)

    @event("CasesAdded")
    def _cases_added(self, case_ids: list[str]) -> None:
        self.count += len(case_ids)

    @event("Closed")
    def _closed(self, actor: str, correlation_id: str) -> None:
        self.closed = True


def indexed_case_ids(index_events: Any) -> list[str]:
    """The case ids recorded in an applicant's :class:`ApplicantCases` events, in order."""
    return [case_id for e in index_events for case_id in getattr(e, "case_ids", ())]


class ReferenceSequence(Aggregate):
    """Hands out human-readable case numbers per tenant and year (VEC-2026-000123).

    Numbers are unique; a rejected batch may leave gaps, as paper registers do.
    """

    @event("Started")
    def __init__(self, tenant: str, year: int) -> None:
        self.tenant = tenant
        self.year = year
        self.last = 0

    @staticmethod
    def create_id(tenant: str, year: int) -> UUID:
        return uuid5(SEQUENCE_NAMESPACE, f"{tenant}|{year}")

    @event("NumbersAllocated")
    def allocate(self, count: int) -> None:
        self.last += count
