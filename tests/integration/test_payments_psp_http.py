"""The payments service's HTTP adapter against the real PSP simulator process, and the
payments application end to end through it: idempotent creates, the hosted pay page, signed
webhooks over real HTTP verified by the payments side, refunds, status 500s, the settlement
report and reconciliation. The provider is reached only over HTTP (no simulator import)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.common import db
from services.common.config import PaymentsSettings, Settings
from services.common.db import ReadStore
from services.common.secrets import secret_from
from services.payments.application import PaymentsApp
from services.payments.merchants import Merchants, development_merchant, simulator_file
from services.payments.projections import PaymentReadModels
from services.payments.psp import ProviderError, ProviderUnavailable
from services.payments.psp.http import HttpProvider
from tests.psp_support import Receiver, psp_process
from tests.support import eventually

CLOPPENBURG = "03453004"
CITIZEN = {"subject": "citizen-1", "kind": "citizen", "grants": [], "trust_level": "high"}
RETURN = "http://127.0.0.1:8000/antraege/zahlung"


@pytest.fixture
def world(backend, tmp_path: Path):
    """The simulator as a process with Cloppenburg as a development merchant (the seed file
    the platform writes for it), a real webhook receiver, the payments app on the backend."""
    receiver = Receiver()
    platform = Settings.from_env()
    seed = simulator_file(tmp_path / "merchants.json", [CLOPPENBURG], platform, receiver.url)
    with psp_process(tmp_path, PSP_SIMULATOR_MERCHANTS_FILE=str(seed)) as psp:
        provider = HttpProvider(psp.url, timeout=5)
        db.ensure_schema("payments")
        app = PaymentsApp(db.eventstore_env("payments"), provider=provider,
                          merchants=Merchants((), derive_secret=secret_from(platform)), settings=PaymentsSettings())
        try:
            yield app, provider, psp, receiver
        finally:
            app.close()
            receiver.close()


def deliver_all(app: PaymentsApp, receiver: Receiver, seen: set[int]) -> list[dict]:
    """Hand every webhook the receiver got (raw body and headers, as the gateway will) to the app."""
    results = []
    for number, request in enumerate(receiver.received()):
        if number not in seen:
            seen.add(number)
            results.append(app.receive_webhook(request.body, request.headers["psp-signature"], "c",
                                               request.headers["psp-merchant-id"]))
    return results


def test_the_adapter_speaks_the_providers_api(world) -> None:
    _, provider, psp, _ = world
    merchant = development_merchant(CLOPPENBURG, secret_from(Settings.from_env()))
    terms = {"amount_cents": 1300, "purpose": "KZ CLP-K2026-000001", "reference": "our-payment-1", "return_url": RETURN,
             "expires_in": 5400, "metadata": {"case_id": "c-1"}}
    first = provider.create_payment(merchant, idempotency_key="k-1", **terms)
    assert provider.create_payment(merchant, idempotency_key="k-1", **terms) == first  # the same payment
    with pytest.raises(ProviderError) as caught:
        provider.create_payment(merchant, idempotency_key="k-1", **{**terms, "amount_cents": 1400})
    assert (caught.value.status, caught.value.code) == (409, "idempotency_key_reused")
    assert (first.status, first.amount_cents, first.reference) == ("open", 1300, "our-payment-1")
    assert first.pay_url.startswith(psp.url) and first.expires_at.endswith("Z")
    assert [p.psp_payment_id for p in provider.payments_by_reference(merchant, "our-payment-1")] == [first.psp_payment_id]
    assert provider.payment(merchant, first.psp_payment_id).status == "open"
    with pytest.raises(ProviderError) as caught:
        provider.refund(merchant, first.psp_payment_id, idempotency_key="r-1", amount_cents=100, reason="x", reference="r")
    assert caught.value.code == "payment_not_refundable"
    stranger = development_merchant("03460009", b"s" * 32)  # not registered at the provider
    with pytest.raises(ProviderError) as caught:
        provider.payment(stranger, first.psp_payment_id)
    assert caught.value.status == 401
    psp.chaos(status_error_rate=1)
    with pytest.raises(ProviderUnavailable):
        provider.payment(merchant, first.psp_payment_id)
    psp.chaos(status_error_rate=0)
    with pytest.raises(ProviderUnavailable):
        HttpProvider("http://127.0.0.1:9", timeout=1).payment(merchant, first.psp_payment_id)


def test_a_payment_end_to_end_through_the_provider(world) -> None:
    app, provider, _, receiver = world
    seen: set[int] = set()
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=CLOPPENBURG, service_id="fuehrungszeugnis",
                               case_reference="CLP-2026-000001", amount_cents=1300, fee_version=2,
                               refund_rule={"rejected": "full"}, applicant_ref="citizen-1", correlation_id="c")
    started = app.start_payment(case["case_id"], CITIZEN, RETURN, "c")
    pay_url = started["payment"]["pay_url"]
    page = httpx.get(pay_url, timeout=10)
    assert page.status_code == 200 and "13,00" in page.text and "KZ CLP-K2026-000001" in page.text
    back = httpx.post(pay_url, data={"method": "wero", "outcome": "success"}, timeout=10)
    assert back.status_code == 303 and back.headers["location"].startswith(RETURN)
    eventually(lambda: receiver.received())
    assert [r["outcome"] for r in deliver_all(app, receiver, seen)] == ["paid"]
    paid = app.payment_for_case(case["case_id"])
    assert (paid["status"], paid["payment"]["method"]) == ("PAYED", "wero")

    app.close_case(case["case_id"], "rejected", "clerk-1", "c")  # the rule: full refund, sent to the provider
    eventually(lambda: len(receiver.received()) >= 2)
    assert [r["outcome"] for r in deliver_all(app, receiver, seen)] == ["refunded"]
    assert app.payment(paid["payment"]["payment_id"]).refunded_cents == 1300

    day = datetime.now(ZoneInfo("Europe/Berlin")).date()
    lines = provider.settlement(app.merchants.for_tenant(CLOPPENBURG), day)
    assert sorted((line.kind, line.amount_cents) for line in lines) == [("payment", 1300), ("refund", -1300)]
    read = PaymentReadModels(ReadStore("payments"))

    def ledger() -> list:
        read.catch_up(app)
        return read.ledger_lines(CLOPPENBURG, day.isoformat())

    try:
        report = app.reconcile(CLOPPENBURG, day.isoformat(), ledger, "admin", "c")
    finally:
        read.close()
    assert (report["mismatches"], report["ledger_lines"], report["settlement_lines"]) == ([], 2, 2)


def test_a_failed_payment_that_succeeds_late_is_honoured_and_refunded(world) -> None:
    app, _, psp, receiver = world
    seen: set[int] = set()
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=CLOPPENBURG, service_id="fuehrungszeugnis",
                               case_reference="CLP-2026-000002", amount_cents=1300, fee_version=2,
                               applicant_ref="citizen-1", correlation_id="c")
    first = app.start_payment(case["case_id"], CITIZEN, RETURN, "c")
    httpx.post(first["payment"]["pay_url"], data={"method": "card", "outcome": "failure"}, timeout=10)
    eventually(lambda: receiver.received())
    deliver_all(app, receiver, seen)
    second = app.start_payment(case["case_id"], CITIZEN, RETURN, "c")
    httpx.post(second["payment"]["pay_url"], data={"method": "paypal", "outcome": "success"}, timeout=10)
    eventually(lambda: len(receiver.received()) >= 2)
    deliver_all(app, receiver, seen)
    psp_first = json.loads(receiver.received()[0].body)["data"]["payment"]["id"]
    assert psp.admin.post(f"/admin/payments/{psp_first}/late-success", json={"method": "card"}).status_code == 200
    eventually(lambda: len(receiver.received()) >= 3)
    assert [r["outcome"] for r in deliver_all(app, receiver, seen)] == ["refund_raised"]
    eventually(lambda: len(receiver.received()) >= 4)  # the provider settles the automatic refund
    assert [r["outcome"] for r in deliver_all(app, receiver, seen)] == ["refunded"]
    view = app.payment_for_case(case["case_id"])
    assert view["payment"]["attempt"] == 2 and view["attempts"][0]["needs_attention"]
    assert view["attempts"][0]["refunded_cents"] == 1300
