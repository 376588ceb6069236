"""Every allowed and forbidden transition of a case, and a property test over sequences."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.problems import DomainError
from services.submissions.domain import (
    FINAL,
    Case,
    ReferenceSequence,
    Status,
    TransitionNotAllowed,
    case_id_for,
    format_reference,
)
from tests.examples import submitted_case

META = {"actor": "clerk:meyer", "correlation_id": "c-1"}

COMMANDS = {
    "request-payment": lambda c: c.request_payment(2600, **META),
    "record-payment": lambda c: c.receive_payment(c.amount_due_cents, "psp-1", **META),
    "start-review": lambda c: c.start_review("Frau Meyer", **META),
    "request-information": lambda c: c.request_information("Impfpass?", date(2026, 12, 31), **META),
    "supply-information": lambda c: c.supply_information("anbei", **META),
    "approve": lambda c: c.approve("bewilligt", **META),
    "reject": lambda c: c.reject("unvollständig", **META),
    "withdraw": lambda c: c.withdraw("Umzug", **META),
    "reassign": lambda c: c.reassign("Herr Schulz", **META),
}

# (status before, command) -> status after; every pair not listed must be refused.
ALLOWED = {
    (Status.SUBMITTED, "request-payment"): Status.PAYMENT_PENDING,
    (Status.SUBMITTED, "start-review"): Status.IN_REVIEW,
    (Status.PAID, "start-review"): Status.IN_REVIEW,
    (Status.PAYMENT_PENDING, "record-payment"): Status.PAID,
    (Status.IN_REVIEW, "request-information"): Status.INFORMATION_REQUESTED,
    (Status.INFORMATION_REQUESTED, "supply-information"): Status.IN_REVIEW,
    (Status.IN_REVIEW, "approve"): Status.APPROVED,
    (Status.IN_REVIEW, "reject"): Status.REJECTED,
    **{(s, "withdraw"): Status.WITHDRAWN for s in Status if s not in FINAL},
    **{(s, "reassign"): s for s in Status if s not in FINAL},
}

# the shortest way to bring a new case into each status
PATHS = {
    Status.SUBMITTED: [],
    Status.PAYMENT_PENDING: ["request-payment"],
    Status.PAID: ["request-payment", "record-payment"],
    Status.IN_REVIEW: ["start-review"],
    Status.INFORMATION_REQUESTED: ["start-review", "request-information"],
    Status.APPROVED: ["start-review", "approve"],
    Status.REJECTED: ["start-review", "reject"],
    Status.WITHDRAWN: ["withdraw"],
}


def new_case(fee_cents: int = 2600) -> Case:
    return submitted_case(fee_cents=fee_cents, **META)


def case_in(status: Status) -> Case:
    case = new_case()
    for command in PATHS[status]:
        COMMANDS[command](case)
    assert case.status == status
    return case


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_transition_table(status: Status, command: str) -> None:
    case = case_in(status)
    version = case.version
    if (status, command) in ALLOWED:
        COMMANDS[command](case)
        assert case.status == ALLOWED[(status, command)]
        assert case.version == version + 1
    else:
        with pytest.raises(TransitionNotAllowed) as refused:
            COMMANDS[command](case)
        assert refused.value.code == "transition_not_allowed" and refused.value.status == 409
        assert refused.value.params["status"] == status.value
        assert case.status == status and case.version == version


def test_every_event_carries_tenant_service_actor_and_correlation() -> None:
    case = case_in(Status.INFORMATION_REQUESTED)
    for event in case.collect_events():
        assert event.tenant == "03460009"
        assert event.service_id == "gewerbeanmeldung"
        assert event.actor == "clerk:meyer" and event.correlation_id == "c-1"


def test_submitted_pins_form_version_and_fee() -> None:
    submitted = new_case().collect_events()[0]
    assert type(submitted).__name__ == "Submitted"
    assert (submitted.form_version, submitted.fee_cents) == (1, 2600)


def test_payment_rules() -> None:
    free = new_case(fee_cents=0)
    with pytest.raises(DomainError) as no_fee:
        free.request_payment(0, **META)
    assert no_fee.value.code == "no_fee_due"
    case = case_in(Status.PAYMENT_PENDING)
    with pytest.raises(DomainError) as mismatch:
        case.receive_payment(100, "psp", **META)
    assert mismatch.value.code == "payment_amount_mismatch"


def test_identity_helpers() -> None:
    assert case_id_for("03460009", "anonymous", "k") == case_id_for("03460009", "anonymous", "k")
    assert case_id_for("03460009", "anonymous", "k") != case_id_for("03460006", "anonymous", "k")
    assert format_reference("VEC", 2026, 123) == "VEC-2026-000123"
    sequence = ReferenceSequence(tenant="03460009", year=2026)
    sequence.allocate(3)
    sequence.allocate(2)
    assert sequence.last == 5 and sequence.id == ReferenceSequence.create_id("03460009", 2026)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(sorted(COMMANDS)), max_size=25))
def test_any_command_sequence_leaves_a_consistent_case(commands: list[str]) -> None:
    case = new_case()
    accepted = 0
    for command in commands:
        before = case.status
        try:
            COMMANDS[command](case)
        except TransitionNotAllowed:
            assert case.status == before  # a refusal changes nothing
            assert (before, command) not in ALLOWED
            continue
        accepted += 1
        assert ALLOWED[(before, command)] == case.status
        assert before not in FINAL  # nothing happens after a decision
    assert case.version == 1 + accepted
    events = case.collect_events()
    assert len(events) == case.version
    # replaying the recorded events rebuilds exactly the same state
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert (replayed.status, replayed.assignee, replayed.version) == (case.status, case.assignee, case.version)
    assert replayed.paid_cents in (0, 2600)
    if case.status in (Status.APPROVED, Status.REJECTED):
        assert any(type(e).__name__ == "ReviewStarted" for e in events)


def test_request_fingerprint_is_keyed_so_it_cannot_confirm_a_guessed_form(monkeypatch, tmp_path) -> None:
    """A plain hash of the request would let anyone holding the stored event test guesses
    (``sha256(name + form) == request_hash?``); keyed by the deployment secret it cannot."""
    import hashlib
    import json

    from services.submissions.commands import SubmitCommand

    monkeypatch.setenv("VR_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("VR_SECRET_KEY", "s" * 40)
    command = SubmitCommand(
        portal="03460009", service_id="hundeanmeldung", form_data={"holder_last_name": "Mustermann"},
        applicant={"name": "Erika Mustermann"}, principal="citizen:1", idempotency_key="k", correlation_id="c",
    )
    guess = {"portal": "03460009", "service_id": "hundeanmeldung", "form_data": {"holder_last_name": "Mustermann"},
             "applicant": {"name": "Erika Mustermann"}, "form_version": None}
    canonical = json.dumps(guess, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fingerprint = command.fingerprint()
    assert fingerprint == command.fingerprint()  # stable: a retry is recognised
    assert fingerprint != hashlib.sha256(canonical.encode()).hexdigest()
    monkeypatch.setenv("VR_SECRET_KEY", "t" * 40)
    assert command.fingerprint() != fingerprint  # depends on the secret


def test_no_personal_free_text_is_recorded_once_personal_data_are_erased() -> None:
    """After erasure nobody can answer a question, and a decision's text could name the
    person again: the case still moves on, its events carry no text."""
    case = case_in(Status.IN_REVIEW)
    case.erase_personal_data(**META)
    with pytest.raises(DomainError) as refused:
        case.request_information("Frau Mustermann, bitte …", date(2026, 12, 31), **META)
    assert refused.value.code == "personal_data_erased"
    case.reject("Frau Mustermann hat bereits einen Hund.", **META)
    assert case.status == Status.REJECTED and case.decision == ""
    events = case.collect_events()
    assert "Mustermann" not in repr(events[-1])
    withdrawn = case_in(Status.SUBMITTED)
    withdrawn.erase_personal_data(**META)
    withdrawn.withdraw("Umzug zu Erika", **META)
    assert "Erika" not in repr(withdrawn.collect_events()[-1])


def test_an_open_question_ends_with_the_erasure() -> None:
    """Nobody can answer once the applicant's data are erased: the case is withdrawn by the
    erasure, or — erased before that rule — a clerk decides it while the question is open."""
    waiting = case_in(Status.INFORMATION_REQUESTED)
    waiting.close_unanswerable_question(**META)
    assert waiting.status == Status.INFORMATION_REQUESTED  # not erased: the applicant may still answer
    with pytest.raises(DomainError):
        waiting.approve("ok", **META)
    waiting.erase_personal_data(**META)
    waiting.approve("Bewilligt nach Aktenlage", **META)
    assert waiting.status == Status.APPROVED and waiting.decision == ""
    closing = case_in(Status.INFORMATION_REQUESTED)
    closing.erase_personal_data(**META)
    closing.close_unanswerable_question(**META)
    assert closing.status == Status.WITHDRAWN
    in_review = case_in(Status.IN_REVIEW)
    in_review.erase_personal_data(**META)
    in_review.close_unanswerable_question(**META)
    assert in_review.status == Status.IN_REVIEW  # the clerk decides it as before
