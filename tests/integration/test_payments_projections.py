"""The payments read models on SQLite and PostgreSQL: per case and per tenant, the ledger by
German booking day, what is due for expiry, polling and retries; redelivery and rebuilds
(all tenants or one) change nothing; the cash office's CSV; reconciliation against the
provider's settlement report, with injected mismatches and a lost notice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.common import db
from services.common.db import ReadStore
from services.common.problems import DomainError
from services.payments.application import PaymentsApp
from services.payments.cashoffice import export_csv
from services.payments.domain import Reconciliation
from services.payments.merchants import development_merchant
from services.payments.projections import PaymentReadModels
from tests.payments_support import CLOPPENBURG, SECRET, VECHTA, FakeProvider, merchants, signed
from tests.support import Clock

CITIZEN = {"subject": "citizen-1", "kind": "citizen", "grants": [], "trust_level": "high"}
CLERK = {"subject": "clerk-1", "kind": "clerk", "trust_level": "basic",
         "grants": [{"tenant": CLOPPENBURG, "role": "clerk", "service_keys": ["*"]}]}


@pytest.fixture
def world(backend):
    # 23:30 UTC on 25 November is already the 26th in Germany: the booking day
    clock = Clock(datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    provider = FakeProvider(clock)
    db.ensure_schema("payments")
    app = PaymentsApp(db.eventstore_env("payments"), provider=provider, merchants=merchants(), clock=clock)
    read = PaymentReadModels(ReadStore("payments"))
    yield app, read, provider, clock
    read.close()
    app.close()


def pay(app: PaymentsApp, provider: FakeProvider, clock: Clock, tenant: str = CLOPPENBURG, outcome: str = "succeeded") -> dict:
    code = {CLOPPENBURG: "CLP", VECHTA: "VEC"}[tenant]
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=tenant, service_id="fuehrungszeugnis",
                               case_reference=f"{code}-2026-000009", amount_cents=1300, fee_version=2,
                               refund_rule={"rejected": "full"}, applicant_ref="citizen-1", correlation_id="c")
    started = app.start_payment(case["case_id"], CITIZEN, "http://127.0.0.1/back", "c")
    event = provider.complete(started["payment"]["pay_url"].rsplit("/", 1)[1], outcome)
    body, header = signed(event, development_merchant(tenant, SECRET), clock())
    app.receive_webhook(body, header, "c")
    return app.payment_for_case(case["case_id"])


def test_payments_ledger_and_queues_fold_idempotently_and_rebuild(world) -> None:
    app, read, provider, clock = world
    paid = pay(app, provider, clock)
    failed = pay(app, provider, clock, outcome="failed")
    vechta = pay(app, provider, clock, tenant=VECHTA)
    app.close_case(paid["case_id"], "rejected", "clerk-1", "c")  # full refund, requested at the provider
    assert read.catch_up(app) > 0 and read.catch_up(app) == 0

    mine = read.payments_of_tenant(CLOPPENBURG)
    assert {p["case_id"]: p["state"] for p in mine} == {paid["case_id"]: "paid", failed["case_id"]: "failed"}
    assert read.payments_of_case(paid["case_id"])[0]["refund_state"] == "requested"
    assert [p["case_id"] for p in read.payments_of_tenant(CLOPPENBURG, state="failed")] == [failed["case_id"]]
    assert len(read.payments_of_tenant(CLOPPENBURG, limit=1)) == 1
    first = read.payments_of_tenant(CLOPPENBURG, limit=1)[0]
    after = read.payments_of_tenant(CLOPPENBURG, before=f"{first['created_at']}|{first['payment_id']}")
    assert [p["payment_id"] for p in after] == [p["payment_id"] for p in mine[1:]]
    paid_id = paid["payment"]["payment_id"]
    assert read.pending_refunds() == [(paid_id, next(iter(app.payment(paid_id).refunds)))]

    # 23:30 UTC on the 25th is 00:30 on the 26th in Germany: that is the booking day
    assert read.ledger(CLOPPENBURG, "2026-11-25") == []
    (entry,) = read.ledger(CLOPPENBURG, "2026-11-26")
    assert (entry["kind"], entry["amount_cents"], entry["kassenzeichen"], entry["case_reference"]) == (
        "payment", 1300, paid["kassenzeichen"], "CLP-2026-000009")
    (line,) = read.ledger_lines(VECHTA, "2026-11-26")
    assert (line.kind, line.amount_cents, line.kassenzeichen, line.reference) == (
        "payment", 1300, vechta["kassenzeichen"], vechta["payment"]["payment_id"])

    (refund,) = provider.refunds.values()
    body, header = signed(provider.settle_refund(refund["id"]), development_merchant(CLOPPENBURG, SECRET), clock())
    app.receive_webhook(body, header, "c")
    read.catch_up(app)
    assert [e["amount_cents"] for e in read.ledger(CLOPPENBURG, "2026-11-26")] == [1300, -1300]
    assert read.pending_refunds() == [] and read.pending_notices() == []

    events = [app.mapper.to_domain_event(n) for n in app.recorder.select_notifications(start=1, limit=10_000)]
    before = read.payments_of_tenant(CLOPPENBURG), read.ledger(CLOPPENBURG, "2026-11-26")
    assert read.apply(events) == 0  # redelivered: nothing changes, no booking twice
    assert (read.payments_of_tenant(CLOPPENBURG), read.ledger(CLOPPENBURG, "2026-11-26")) == before
    assert read.rebuild(app, tenant=VECHTA) > 0 and read.rebuild(app) > 0
    assert (read.payments_of_tenant(CLOPPENBURG), read.ledger(CLOPPENBURG, "2026-11-26")) == before
    assert len(read.payments_of_tenant(VECHTA)) == 1 and read.position() == app.recorder.max_notification_id()


def test_expiry_polling_and_notice_queues(world) -> None:
    app, read, provider, clock = world
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=CLOPPENBURG, service_id="fuehrungszeugnis",
                               case_reference="CLP-2026-000010", amount_cents=700, fee_version=1, applicant_ref="citizen-1", correlation_id="c")
    open_one = app.start_payment(case["case_id"], CITIZEN, "http://127.0.0.1/back", "c")["payment"]
    unknown = provider.event(CLOPPENBURG, "payment.succeeded", {"payment": {**provider._view(open_one["pay_url"].rsplit("/", 1)[1]), "merchant_reference": str(uuid.uuid4())}})
    body, header = signed(unknown, development_merchant(CLOPPENBURG, SECRET), clock())
    parked = app.receive_webhook(body, header, "c")
    read.catch_up(app)
    assert read.unfinished() == [open_one["payment_id"]]
    assert read.due_for_expiry(clock(), app.expiry) == []
    assert read.due_for_expiry(clock() + timedelta(minutes=91), app.expiry) == [open_one["payment_id"]]
    assert read.pending_notices() == [parked["notice_id"]]


def test_cash_office_csv() -> None:
    entries = [
        {"kassenzeichen": "CLP-K2026-000001", "amount_cents": 1300, "booking_date": "2026-11-26", "case_reference": "CLP-2026-000009",
         "kind": "payment", "method": "sepa_direct_debit", "psp_id": "pay_1"},
        {"kassenzeichen": "CLP-K2026-000001", "amount_cents": -5, "booking_date": "2026-11-27", "case_reference": "CLP-2026-000009",
         "kind": "refund", "method": None, "psp_id": "re_1"},
    ]
    assert export_csv(entries).splitlines() == [
        "Kassenzeichen;Betrag;Währung;Buchungsdatum;Aktenzeichen;Buchungsart;Zahlungsweg;Transaktion;Abgleich",
        "CLP-K2026-000001;13,00;EUR;26.11.2026;CLP-2026-000009;Einzahlung;SEPA-Lastschrift;pay_1;nicht abgeglichen",
        "CLP-K2026-000001;-0,05;EUR;27.11.2026;CLP-2026-000009;Erstattung;;re_1;nicht abgeglichen",
    ]
    checks = {
        "2026-11-26": {
            "payment:pay_1": {"key": "payment:pay_1", "problem": "amount_differs", "psp_id": "pay_1", "settlement_cents": 1000},
            "payment:pay_x": {"key": "payment:pay_x", "problem": "missing_in_ledger", "psp_id": "pay_x", "settlement_cents": 500},
        },
        "2026-11-27": {},
    }
    assert export_csv(entries, checks).splitlines()[1:] == [
        "CLP-K2026-000001;13,00;EUR;26.11.2026;CLP-2026-000009;Einzahlung;SEPA-Lastschrift;pay_1;"
        "Abweichung: Betrag laut Anbieter 10,00",
        "CLP-K2026-000001;-0,05;EUR;27.11.2026;CLP-2026-000009;Erstattung;;re_1;abgestimmt",
        ";5,00;EUR;26.11.2026;;Klärungsfall;;pay_x;Abweichung: nur im Abrechnungsbericht des Anbieters",
    ]


def test_reconciliation_records_injected_mismatches_and_recovers_a_lost_notice(world) -> None:
    app, read, provider, clock = world
    day = "2026-11-26"

    def ledger():
        read.catch_up(app)
        return read.ledger_lines(CLOPPENBURG, day)

    with pytest.raises(DomainError) as caught:
        app.reconciliation_report(CLOPPENBURG, day)
    assert caught.value.code == "not_found"
    first, second = pay(app, provider, clock), pay(app, provider, clock)
    clean = app.reconcile(CLOPPENBURG, day, ledger, "admin-1", "c")
    assert (clean["mismatches"], clean["settlement_cents"], clean["ledger_cents"]) == ([], 2600, 2600)

    # a lost webhook: the provider booked it, our ledger had not — asked and applied, no mismatch
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=CLOPPENBURG, service_id="fuehrungszeugnis",
                               case_reference="CLP-2026-000011", amount_cents=1300, fee_version=2, applicant_ref="citizen-1",
                               correlation_id="c")
    lost = app.start_payment(case["case_id"], CITIZEN, "http://127.0.0.1/back", "c")
    provider.complete(lost["payment"]["pay_url"].rsplit("/", 1)[1], "succeeded")
    recovered = app.reconcile(CLOPPENBURG, day, ledger, "admin-1", "c")
    assert recovered["mismatches"] == [] and recovered["ledger_cents"] == 3900
    assert app.payment_for_case(case["case_id"])["paid"]

    # injected: the provider reports another amount for one payment and a payment we never made
    provider.payments[read.ledger(CLOPPENBURG, day)[0]["psp_id"]]["amount"] = 1200
    provider.payments["pay_stranger"] = {**provider.payments[read.ledger(CLOPPENBURG, day)[1]["psp_id"]],
                                         "id": "pay_stranger", "merchant_reference": "someone-else", "refunds": []}
    report = app.reconcile(CLOPPENBURG, day, ledger, "admin-1", "c")
    assert sorted(m["problem"] for m in report["mismatches"]) == ["amount_differs", "missing_in_ledger"]
    again = app.reconcile(CLOPPENBURG, day, ledger, "admin-1", "c")
    assert again["mismatches"] == report["mismatches"]
    found = [type(e).__name__ for e in app.events.get(Reconciliation.create_id(CLOPPENBURG, day))]
    assert found.count("MismatchFound") == 2  # each once, however often it runs
    del provider.payments["pay_stranger"]
    assert len(app.reconcile(CLOPPENBURG, day, ledger, "admin-1", "c")["mismatches"]) == 1
    assert first["paid"] and second["paid"]

