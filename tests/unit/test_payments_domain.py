"""The payments domain: the Payment state machine against duplicate, reordered and late
provider notices, the Receivable's one-open-attempt rule, Kassenzeichen, the inbox Notice and
the reconciliation comparison. Pure: no store, no provider."""

from __future__ import annotations

import pytest

from services.common.problems import DomainError, problem
from services.payments.domain import KassenzeichenSequence, Notice, Payment, PaymentClosed, Receivable, Reconciliation
from services.payments.domain.kassenzeichen import DEFAULT_PATTERN, format_kassenzeichen, pattern_fields, scope
from services.payments.domain.payment import (
    CANCELLED,
    EXPIRED,
    FAILED,
    OPEN,
    PAID,
    REFUND_FAILED,
    REFUNDED,
    XBEZAHL,
    RefundNotPossible,
    check_purpose,
    purpose_for,
)
from services.payments.domain.receivable import ALREADY_PAID, CASE_CLOSED, check_refund_rule, refund_due
from services.payments.domain.reconciliation import (
    AMOUNT_DIFFERS,
    DUPLICATE_IN_SETTLEMENT,
    MISSING_IN_LEDGER,
    MISSING_IN_SETTLEMENT,
    Line,
    compare,
)

CLOPPENBURG = "03453004"
CASE = "6f1f5b2e-8a51-4c1e-9a53-0b7d1c1f0a01"
WHO = {"actor": "psp:03453004", "correlation_id": "c-1"}


def payment(attempt: int = 1, **changes) -> Payment:
    fields = {
        "case_id": CASE, "tenant": CLOPPENBURG, "service_id": "fuehrungszeugnis", "attempt": attempt, "amount_cents": 1300,
        "fee_version": 2, "purpose": "KZ CLP-K2026-000001", "kassenzeichen": "CLP-K2026-000001",
        "case_reference": "CLP-2026-000001", "return_url": "http://127.0.0.1:8000/cases/x", "created_at": "2026-11-25T09:00:00+00:00",
        **WHO,
    }
    return Payment.create(**{**fields, **changes})


def started(attempt: int = 1) -> Payment:
    p = payment(attempt)
    assert p.start("pay_1", "http://psp/pay/tok", "2026-11-25T10:30:00Z", **WHO)
    return p


def succeed(p: Payment, event_id: str = "evt_s", settles_case: bool = True) -> bool:
    return p.succeed(method="wero", amount_cents=1300, booked_at="2026-11-25T09:10:00Z", settles_case=settles_case,
                     psp_payment_id="pay_1", provider_event_id=event_id, **WHO)


def receivable(**changes) -> Receivable:
    fields = {
        "case_id": CASE, "tenant": CLOPPENBURG, "service_id": "fuehrungszeugnis", "case_reference": "CLP-2026-000001",
        "amount_cents": 1300, "fee_version": 2, "kassenzeichen": "CLP-K2026-000001",
        "refund_rule": {"rejected": "full", "withdrawn": {"percent": 50}}, "applicant_ref": "citizen-1", **WHO,
    }
    return Receivable.open(**{**fields, **changes})


# -- Payment: the provider's word, idempotently ------------------------------------------------
def test_a_payment_goes_from_created_to_paid_and_every_event_says_who_where_and_why() -> None:
    p = started()
    assert succeed(p)
    events = p.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "Started", "Succeeded"]
    assert all(e.tenant == CLOPPENBURG and e.actor and e.correlation_id for e in events)
    assert all(e.case_id == CASE and e.service_id == "fuehrungszeugnis" for e in events)
    assert (p.status, XBEZAHL[p.status], p.method, p.paid_cents, p.late) == (PAID, "PAYED", "wero", 1300, False)
    assert p.id == Payment.create_id(CASE, 1) != Payment.create_id(CASE, 2)


@pytest.mark.parametrize(("state", "xbezahl"), [("created", "INITIAL"), (OPEN, "INITIAL"), (PAID, "PAYED"),
                                                (FAILED, "FAILED"), (CANCELLED, "CANCELED"), (EXPIRED, "CANCELED")])
def test_every_state_has_its_xbezahldienste_status(state: str, xbezahl: str) -> None:
    assert XBEZAHL[state] == xbezahl


def test_duplicate_notices_record_nothing() -> None:
    p = started()
    assert succeed(p, "evt_1") and not succeed(p, "evt_1") and not succeed(p, "evt_2")
    assert not p.start("pay_1", "http://psp/pay/tok", "2026-11-25T10:30:00Z", **WHO)
    failing = started()
    assert failing.fail("failed", "evt_f", **WHO) and not failing.fail("failed", "evt_f", **WHO)
    assert [type(e).__name__ for e in p.collect_events()].count("Succeeded") == 1
    assert [type(e).__name__ for e in failing.collect_events()].count("Failed") == 1


@pytest.mark.parametrize("unsuccessful", ["fail", "cancel", "expire"])
def test_a_success_after_failure_cancel_or_expiry_is_honoured_as_late(unsuccessful: str) -> None:
    p = started()
    {"fail": lambda: p.fail("card declined", "evt_1", **WHO), "cancel": lambda: p.cancel("evt_1", **WHO),
     "expire": lambda: p.expire("evt_1", **WHO)}[unsuccessful]()
    assert succeed(p, "evt_2")  # money received is never ignored
    assert (p.status, p.late) == (PAID, True)


def test_a_failure_that_arrives_after_the_success_changes_nothing() -> None:
    p = started()
    succeed(p)
    assert not p.fail("failed", "evt_old", **WHO) and not p.cancel("evt_old", **WHO) and not p.expire("", **WHO)
    assert p.status == PAID


def test_a_success_may_overtake_the_start() -> None:
    p = payment()
    assert succeed(p)  # the webhook came before our own record of the pay page
    assert not p.start("pay_1", "http://psp/pay/tok", "2026-11-25T10:30:00Z", **WHO)
    assert (p.status, p.psp_payment_id) == (PAID, "pay_1")


# -- refunds ---------------------------------------------------------------------------------
def test_refunds_only_of_paid_money_one_at_a_time_and_never_more_than_was_paid() -> None:
    p = started()
    with pytest.raises(RefundNotPossible) as caught:
        p.request_refund(refund_id="r1", amount_cents=1300, reason="x", automatic=False, flagged=False, **WHO)
    assert caught.value.code == "refund_not_possible" and caught.value.status == 409
    assert "nicht bezahlt" in problem(caught.value.code, "de", **caught.value.params)["detail"]
    succeed(p)
    with pytest.raises(RefundNotPossible):
        p.request_refund(refund_id="r1", amount_cents=1301, reason="x", automatic=False, flagged=False, **WHO)
    with pytest.raises(DomainError):
        p.request_refund(refund_id="r1", amount_cents=1300, reason="  ", automatic=False, flagged=False, **WHO)
    first = p.next_refund_id()
    p.request_refund(refund_id=first, amount_cents=300, reason="Teilerstattung", automatic=False, flagged=False, **WHO)
    with pytest.raises(RefundNotPossible):
        p.request_refund(refund_id=p.next_refund_id(), amount_cents=100, reason="x", automatic=False, flagged=False, **WHO)
    done = {"psp_refund_id": "re_1", "amount_cents": 300, "booked_at": "2026-11-26T08:00:00Z", "provider_event_id": "e"}
    assert p.refund_succeeded(refund_id=first, **done, **WHO)
    assert not p.refund_succeeded(refund_id=first, **done, **WHO)  # the duplicate notice
    assert (p.refunded_cents, p.refundable_cents, p.refunds[first]["status"]) == (300, 1000, REFUNDED)
    assert p.next_refund_id() != first


def test_a_failed_or_automatic_refund_needs_the_clerk() -> None:
    p = started()
    succeed(p, settles_case=False)
    assert not p.needs_attention
    p.request_refund(refund_id="r1", amount_cents=1300, reason="auto:already_paid", automatic=True, flagged=True, **WHO)
    assert p.needs_attention
    q = started()
    succeed(q)
    q.request_refund(refund_id="r1", amount_cents=1300, reason="case_rejected", automatic=True, flagged=False, **WHO)
    assert not q.needs_attention
    assert q.refund_failed(refund_id="r1", reason="insufficient_funds", provider_event_id="e", **WHO)
    assert q.needs_attention and q.refunds["r1"]["status"] == REFUND_FAILED
    assert not q.refund_failed(refund_id="r1", reason="again", provider_event_id="e", **WHO)


# -- purpose and amount ------------------------------------------------------------------------
@pytest.mark.parametrize("purpose", ["", "x" * 28, "KZ CLP€2026", "Gebühr\n"])
def test_the_purpose_is_a_sepa_remittance_line(purpose: str) -> None:
    with pytest.raises(DomainError) as caught:
        check_purpose(purpose)
    assert caught.value.params["name"] == "purpose"


def test_the_default_purpose_names_the_kassenzeichen_within_27_characters() -> None:
    assert purpose_for("CLP-K2026-000001") == "KZ CLP-K2026-000001"
    assert check_purpose("Führungszeugnis Gebühr") == "Führungszeugnis Gebühr"
    assert len(purpose_for("X" * 26)) == 26


@pytest.mark.parametrize("amount", [0, -1, 13.0, "1300", True, 100_000_000])
def test_amounts_are_positive_integer_cents(amount) -> None:
    with pytest.raises(DomainError):
        payment(amount_cents=amount)


# -- the receivable: one open attempt per case ----------------------------------------------------
def test_one_open_attempt_at_a_time_and_a_new_one_only_after_the_last_ended() -> None:
    r = receivable()
    assert r.new_attempt(**WHO) == 1
    with pytest.raises(PaymentClosed) as caught:
        r.new_attempt(**WHO)
    assert caught.value.status == 409
    first = str(Payment.create_id(CASE, 1))
    assert not r.attempt_ended(str(Payment.create_id(CASE, 2)), FAILED, **WHO)  # not the open one
    assert r.attempt_ended(first, FAILED, **WHO)
    assert r.new_attempt(**WHO) == 2
    assert r.payment_ids() == [Payment.create_id(CASE, 1), Payment.create_id(CASE, 2)]


def test_only_the_first_success_pays_the_case_and_none_after_it_closed() -> None:
    r = receivable()
    r.new_attempt(**WHO)
    first, second = str(Payment.create_id(CASE, 1)), str(Payment.create_id(CASE, 2))
    r.attempt_ended(first, EXPIRED, **WHO)
    r.new_attempt(**WHO)
    assert r.payment_received(first, **WHO) is None  # the late success of attempt 1 pays the case
    assert r.payment_received(first, **WHO) is None  # the same payment again: still the one
    assert r.payment_received(second, **WHO) == ALREADY_PAID
    with pytest.raises(PaymentClosed):
        r.new_attempt(**WHO)
    closed = receivable()
    closed.new_attempt(**WHO)
    assert closed.close("withdrawn", **WHO) and not closed.close("rejected", **WHO)
    assert closed.payment_received(first, **WHO) == CASE_CLOSED
    assert [type(e).__name__ for e in r.collect_events()].count("Paid") == 1


def test_a_receivable_needs_a_fee() -> None:
    with pytest.raises(DomainError) as caught:
        receivable(amount_cents=0)
    assert caught.value.code == "no_fee_due"


@pytest.mark.parametrize(("rule", "outcome", "cents"), [
    ({"rejected": "full"}, "rejected", 1300), ({"rejected": "none"}, "rejected", 0), ({}, "rejected", 0),
    ({"withdrawn": {"percent": 50}}, "withdrawn", 650), ({"withdrawn": {"percent": 33}}, "withdrawn", 429),
    ({"rejected": "full"}, "approved", 0),
])
def test_the_fee_rule_says_what_is_paid_back(rule, outcome, cents) -> None:
    assert refund_due(check_refund_rule(rule), outcome, 1300) == cents


@pytest.mark.parametrize("rule", [{"rejected": "half"}, {"approved ": "full"}, {"withdrawn": {"percent": 0}},
                                  {"withdrawn": {"percent": 101}}, {"withdrawn": {"percent": 50, "x": 1}}, ["full"]])
def test_a_malformed_fee_rule_is_refused(rule) -> None:
    with pytest.raises(DomainError):
        check_refund_rule(rule)


# -- Kassenzeichen --------------------------------------------------------------------------------
def test_kassenzeichen_from_the_default_and_a_configured_pattern() -> None:
    assert format_kassenzeichen(DEFAULT_PATTERN, ags=CLOPPENBURG, code="CLP", year=2026, seq=17) == "CLP-K2026-000017"
    assert format_kassenzeichen("{ags}{yy}{seq:07d}", ags=CLOPPENBURG, code="CLP", year=2026, seq=17) == "03453004260000017"
    assert scope(DEFAULT_PATTERN, 2026) == 2026 and scope("5.{ags}.{seq:08d}", 2026) == 0


@pytest.mark.parametrize("pattern", ["{code}-{year}", "{code}-{nope}-{seq}", "{code", "{seq:09d}-" + "x" * 20])
def test_a_pattern_must_number_with_known_placeholders_and_fit(pattern: str) -> None:
    with pytest.raises(DomainError):
        pattern_fields(pattern)
        format_kassenzeichen(pattern, ags=CLOPPENBURG, code="CLP", year=2026, seq=1)


def test_a_sequence_numbers_one_after_another() -> None:
    sequence = KassenzeichenSequence(tenant=CLOPPENBURG, scope=2026)
    assert [sequence.next_number() for _ in range(3)] == [1, 2, 3]
    assert sequence.id == KassenzeichenSequence.create_id(CLOPPENBURG, 2026) != KassenzeichenSequence.create_id(CLOPPENBURG, 0)


# -- the inbox ---------------------------------------------------------------------------------
def notice() -> Notice:
    return Notice(tenant=CLOPPENBURG, merchant_id=CLOPPENBURG, event_id="evt_1", kind="payment.succeeded",
                  occurred_at="2026-11-25T09:10:00Z", psp_payment_id="pay_1", payment_ref="x", details={},
                  signature="t=1,v1=aa", received_at="2026-11-25T09:10:01Z", **WHO)


def test_a_notice_tells_a_redelivery_from_a_replay_and_is_applied_once() -> None:
    n = notice()
    assert n.id == Notice.create_id(CLOPPENBURG, "evt_1")
    assert not n.delivered_again("t=1,v1=aa", **WHO)  # the very same signed message: a replay
    assert n.delivered_again("t=2,v1=bb", **WHO) and not n.delivered_again("t=2,v1=bb", **WHO)
    assert n.park("unknown_payment", **WHO) and not n.park("unknown_payment", **WHO) and n.pending
    assert n.applied("p-1", "paid", **WHO) and not n.applied("p-1", "paid", **WHO) and not n.pending
    assert [type(e).__name__ for e in n.collect_events()] == ["Received", "Redelivered", "Parked", "Applied"]


# -- reconciliation ------------------------------------------------------------------------------
def test_compare_finds_every_kind_of_mismatch() -> None:
    ledger = [Line("payment", "pay_1", 1300, "p1"), Line("payment", "pay_2", 700, "p2"),
              Line("payment", "pay_3", 2600, "p3"), Line("refund", "re_1", -1300, "r1", psp_payment_id="pay_1")]
    settlement = [Line("payment", "pay_1", 1300), Line("payment", "pay_2", 600), Line("payment", "pay_4", 500),
                  Line("payment", "pay_5", 900), Line("payment", "pay_5", 900), Line("refund", "re_1", -1300)]
    found = {m.key: m.problem for m in compare(settlement, ledger)}
    assert found == {"payment:pay_2": AMOUNT_DIFFERS, "payment:pay_3": MISSING_IN_SETTLEMENT,
                     "payment:pay_4": MISSING_IN_LEDGER, "payment:pay_5": DUPLICATE_IN_SETTLEMENT}
    assert compare(settlement[:1], ledger[:1]) == []


def test_a_reconciliation_records_each_mismatch_once_and_notes_when_it_is_gone() -> None:
    r = Reconciliation(tenant=CLOPPENBURG, day="2026-11-25")
    mismatches = compare([Line("payment", "pay_4", 500)], [])
    assert len(r.record(mismatches, {"settlement_lines": 1}, **WHO)) == 1
    assert r.record(mismatches, {"settlement_lines": 1}, **WHO) == []
    r.record([], {"settlement_lines": 0}, **WHO)
    names = [type(e).__name__ for e in r.collect_events()]
    assert names == ["Opened", "MismatchFound", "Reconciled", "Reconciled", "MismatchResolved", "Reconciled"]
    assert r.open == {} and r.last_run == {"settlement_lines": 0, "mismatches": 0}
