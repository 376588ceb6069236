"""Submissions application: commands in, Case events saved, plain values out.

Submitting is the hot path, so it takes a batch: validate every command, allocate case
numbers, and save all new cases in one ``save(*aggregates)`` (group commit). A retried
submission (same idempotency key) maps to the same case id; a conflict on save is resolved
by looking the existing case up and comparing the request fingerprint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from services.common.cases import ACTIONS
from services.common.db import open_application
from services.common.problems import DomainError
from services.submissions.commands import (
    Offering,
    SubmitCommand,
    date_field,
    field_errors,
    int_field,
    text_field,
)
from services.submissions.domain import (
    Case,
    ReferenceSequence,
    case_id_for,
    format_reference,
)


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


class SubmissionsApp(Application[UUID]):
    """Owns the case event store."""

    name = "submissions"
    # a sequence gains an event per batch: snapshots keep loading it cheap at any age
    snapshotting_intervals = {ReferenceSequence: 100}

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None):
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._sequences: dict[tuple[str, int], ReferenceSequence] = {}

    # -- the hot path -------------------------------------------------------------------
    def submit_batch(
        self, commands: list[SubmitCommand], resolve: Callable[[str, str], Offering]
    ) -> list[dict[str, Any]]:
        """Validate and save many submissions at once; one result (case or error) per command."""
        results: list[dict[str, Any] | None] = [None] * len(commands)
        pending: list[tuple[int, UUID, SubmitCommand, Offering, str]] = []
        seen: dict[UUID, int] = {}
        for i, cmd in enumerate(commands):
            try:
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
                if errors:
                    raise DomainError("form_invalid", errors=errors)
            except DomainError as exc:
                results[i] = {"error": {"code": exc.code, "params": exc.params}}
                continue
            case_id = case_id_for(cmd.portal, cmd.principal, cmd.idempotency_key)
            if case_id in seen:  # the same key twice in one batch: resolve after saving
                results[i] = {"duplicate_of": seen[case_id]}
                continue
            seen[case_id] = i
            pending.append((i, case_id, cmd, offering, cmd.fingerprint()))

        saved = self._save_new_cases(pending)
        for i, result in saved.items():
            results[i] = result
        for i, cmd in enumerate(commands):
            result = results[i]
            if result is not None and "duplicate_of" in result:
                first = results[result["duplicate_of"]]
                results[i] = self._same_request(first, cmd.fingerprint(), commands[result["duplicate_of"]])
        return results  # type: ignore[return-value]

    @staticmethod
    def _same_request(first: dict[str, Any] | None, fingerprint: str, first_cmd: SubmitCommand) -> dict[str, Any]:
        if first is None or "error" in first:
            return first or {"error": {"code": "internal_error", "params": {}}}
        if first_cmd.fingerprint() != fingerprint:
            return {"error": {"code": "idempotency_key_reused", "params": {}}}
        return {"case": first["case"], "replayed": True}

    def _save_new_cases(self, pending: list[tuple[int, UUID, SubmitCommand, Offering, str]]) -> dict[int, dict[str, Any]]:
        results: dict[int, dict[str, Any]] = {}
        for _attempt in range(5):
            if not pending:
                return results
            cases, sequences = self._build(pending)
            try:
                self.save(*sequences, *cases)
            except IntegrityError:
                # A retried idempotency key (case exists) or a sequence moved on elsewhere.
                self._sequences.clear()
                still: list[tuple[int, UUID, SubmitCommand, Offering, str]] = []
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
            for (i, *_), case in zip(pending, cases, strict=True):
                results[i] = {"case": case_view(case)}
            return results
        raise RuntimeError("could not save submissions after 5 attempts")

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
            self._sequences[key] = sequence
        return sequence

    def _build(self, pending: list[tuple[int, UUID, SubmitCommand, Offering, str]]) -> tuple[list[Case], list[ReferenceSequence]]:
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
            cases.append(
                Case.submit(
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
                    applicant=cmd.applicant,
                    form_data=cmd.form_data,
                    submitted_at=now.isoformat(),
                    request_hash=fingerprint,
                    actor=cmd.actor or cmd.principal,
                    correlation_id=cmd.correlation_id,
                )
            )
        return cases, sequences

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
        self.save(case)
        return case_view(case)

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


def case_uuid(case_id: UUID | str) -> UUID:
    """A case id from the outside; anything that is not a UUID is simply no case."""
    try:
        return case_id if isinstance(case_id, UUID) else UUID(str(case_id))
    except ValueError:
        raise DomainError("case_not_found", case_id=str(case_id)[:64]) from None


def open_submissions() -> SubmissionsApp:
    """The submissions application on the configured store (SQLite under var/ or PostgreSQL)."""
    return open_application(SubmissionsApp, "submissions")
