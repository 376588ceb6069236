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
from services.payments.integration import to_envelope
from tests.examples import PAYMENT_CASE, PAYMENT_WHO, payment_lifecycles

CASE, WHO = PAYMENT_CASE, PAYMENT_WHO


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    events = [e for p in payment_lifecycles() for e in p.collect_events()]
    mapped = [to_envelope(e, position) for position, e in enumerate(events, start=1)]
    return [json.loads(json.dumps(m)) for m in mapped if m is not None]


def test_the_one_success_that_pays_the_case_says_so(envelopes) -> None:
    """(Schema and envelope of every type: tests/unit/test_event_contracts.py, both families.)"""
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
