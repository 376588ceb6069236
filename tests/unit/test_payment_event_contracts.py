"""Payment integration events against their published JSON Schemas: real Payment aggregates
through every transition, mapped as the payments relay maps them; the internals (receivable,
sequence, inbox, reconciliation) are not published; no pay page, provider event id or
clerk's words leave the service; broken envelopes fail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import ValidationError

from services.common import contracts
from services.payments.domain import KassenzeichenSequence, Notice, Payment, Receivable, Reconciliation
from services.payments.integration import event_type, to_envelope

CASE = "6f1f5b2e-8a51-4c1e-9a53-0b7d1c1f0a01"
WHO = {"actor": "psp:03453004", "correlation_id": "c0ffee"}


def attempt(number: int) -> Payment:
    p = Payment.create(case_id=CASE, tenant="03453004", service_id="fuehrungszeugnis", attempt=number, amount_cents=1300,
                       fee_version=2, purpose="KZ CLP-K2026-000001", kassenzeichen="CLP-K2026-000001",
                       case_reference="CLP-2026-000001", return_url="http://127.0.0.1/secret-return",
                       created_at="2026-11-25T09:00:00+00:00", **WHO)
    p.start("pay_1", "http://psp/pay/secret-token", "2026-11-25T10:30:00Z", **WHO)
    return p


def lifecycles() -> list[Payment]:
    """Payments that together emit every event type."""
    failed, cancelled, expired, paid = attempt(1), attempt(2), attempt(3), attempt(4)
    failed.fail("card_declined", "evt_f", **WHO)
    cancelled.cancel("evt_c", **WHO)
    expired.expire("", **WHO)
    paid.succeed(method="wero", amount_cents=1300, booked_at="2026-11-25T09:10:00Z", settles_case=True,
                 psp_payment_id="pay_1", provider_event_id="evt_s", **WHO)
    paid.request_refund(refund_id="r1", amount_cents=1300, reason="Frau Meyer hat doppelt gezahlt", automatic=False,
                        flagged=False, **WHO)
    paid.refund_failed(refund_id="r1", reason="insufficient_funds", provider_event_id="evt_rf", **WHO)
    paid.request_refund(refund_id="r2", amount_cents=1300, reason="zweiter Versuch", automatic=False, flagged=False, **WHO)
    paid.refund_succeeded(refund_id="r2", psp_refund_id="re_1", amount_cents=1300, booked_at="2026-11-26T08:00:00Z",
                          provider_event_id="evt_r", **WHO)
    return [failed, cancelled, expired, paid]


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    events = [e for p in lifecycles() for e in p.collect_events()]
    mapped = [to_envelope(e, position) for position, e in enumerate(events, start=1)]
    return [json.loads(json.dumps(m)) for m in mapped if m is not None]


def payment_types() -> set[str]:
    return {t for t in contracts.event_types() if t.startswith("payment.")}


def test_every_payment_event_has_a_schema_and_every_schema_an_event() -> None:
    classes = [c for c in vars(Payment).values() if isinstance(c, type) and issubclass(c, Payment.Event) and c is not Payment.Event]
    assert {event_type(object.__new__(c)) for c in classes} == payment_types()
    assert len(payment_types()) == 9


def test_every_transition_emits_an_envelope_that_matches_its_schema(envelopes) -> None:
    assert {e["type"] for e in envelopes} == payment_types()
    for envelope in envelopes:
        contracts.validate_event(envelope)
    succeeded = next(e for e in envelopes if e["type"] == "payment.succeeded.v1")
    assert succeeded["data"]["settles_case"] is True and succeeded["data"]["kassenzeichen"] == "CLP-K2026-000001"
    assert succeeded["aggregate_id"] == str(Payment.create_id(CASE, 4)) and succeeded["data"]["case_id"] == CASE


def test_what_stays_inside(envelopes) -> None:
    text = json.dumps(envelopes, ensure_ascii=False)
    for private in ("secret-token", "secret-return", "evt_s", "evt_rf", "Frau Meyer", "zweiter Versuch"):
        assert private not in text


def test_internal_aggregates_are_not_published() -> None:
    receivable = Receivable.open(case_id=CASE, tenant="03453004", service_id="x", case_reference="CLP-2026-000001",
                                 amount_cents=1300, fee_version=1, kassenzeichen="K-1", refund_rule={}, applicant_ref="", **WHO)
    sequence = KassenzeichenSequence(tenant="03453004", scope=2026)
    sequence.next_number()
    notice = Notice(tenant="03453004", merchant_id="m", event_id="e", kind="payment.failed", occurred_at="", psp_payment_id="p",
                    payment_ref="r", details={}, signature="s", received_at="", **WHO)
    reconciliation = Reconciliation(tenant="03453004", day="2026-11-25")
    internals = [receivable, sequence, notice, reconciliation]
    assert [to_envelope(e) for a in internals for e in a.collect_events()] == [None] * 5


@pytest.mark.parametrize(("event_type_", "path", "value"), [
    ("payment.created.v1", ("data", "purpose"), "x" * 28),
    ("payment.created.v1", ("data", "currency"), "USD"),
    ("payment.created.v1", ("data", "return_url"), "http://127.0.0.1/"),
    ("payment.succeeded.v1", ("data", "amount_cents"), 0),
    ("payment.succeeded.v1", ("data", "settles_case"), "yes"),
    ("payment.started.v1", ("data", "pay_url"), "http://psp/pay/x"),
    ("payment.refund_requested.v1", ("data", "reason"), "Frau Meyer"),
    ("payment.refunded.v1", ("data", "case_reference"), "42"),
    ("payment.expired.v1", ("aggregate_id",), "not-a-uuid"),
])
def test_a_broken_or_too_talkative_envelope_fails(envelopes, event_type_, path, value) -> None:
    envelope = json.loads(json.dumps(next(e for e in envelopes if e["type"] == event_type_)))
    target = envelope
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        contracts.validate_event(envelope)
