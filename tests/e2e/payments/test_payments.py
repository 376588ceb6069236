"""Paying a fee end to end (the platform of tests/e2e/payments/conftest.py): happy path,
failure, cancel, expiry then a new attempt, a success after expiry, and the webhook's
refusals (forged, stale, replayed)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.config import Settings
from services.common.secrets import secret_from
from services.payments.merchants import WEBHOOK_PATH, development_merchant
from services.payments.psp.webhooks import sign
from tests.e2e.conftest import eventually
from tests.e2e.payments.conftest import CLOPPENBURG, FEE, case_of, new_case, pay, returned, start


def test_pay_on_the_simulator_then_the_clerk_works_the_case_and_a_rejection_refunds(payer, clerk) -> None:
    case_id = new_case(payer)
    started = start(payer, case_id)
    payment = started["payment"]
    assert (started["status"], started["amount_cents"], payment["state"]) == ("INITIAL", FEE, "open")
    assert started["kassenzeichen"].startswith("CLP-K")
    assert start(payer, case_id)["payment"]["pay_url"] == payment["pay_url"]  # resumed, not a second payment
    assert clerk.post(f"/api/v1/cases/{case_id}/actions/start-review", json={}).status_code == 409  # not paid yet

    done = pay(payment["pay_url"], "success")
    assert done.status_code == 303 and f"/api/v1/cases/{case_id}/payment?returned=1&" in done.headers["location"]
    back = returned(payer, case_id)
    assert (back["status"], back["status_text"], back["paid"]) == ("PAYED", "Bezahlt", True)

    paid = eventually(lambda: (c := case_of(payer, case_id))["status"] == "paid" and c, timeout=30)
    assert paid["status_text"] == "Bezahlt"
    step = next(s for s in paid["timeline"] if s["step"] == "payment_received")
    assert step["text"] == f"Zahlung eingegangen: 13,00 € (Kassenzeichen {started['kassenzeichen']})"
    worklist = eventually(lambda: case_id in {c["case_id"] for c in clerk.get(
        f"/api/v1/tenants/{CLOPPENBURG}/worklist",  # newest first: the chaos run's 1,000 cases share the tenant
        params={"limit": 500, "status": "paid", "sort": "submitted_at", "order": "desc"}).json()["items"]}, timeout=30)
    assert worklist
    assert clerk.post(f"/api/v1/cases/{case_id}/actions/start-review", json={}).status_code == 200
    assert start(payer, case_id)["status"] == "PAYED"  # never charged twice
    rejected = clerk.post(f"/api/v1/cases/{case_id}/actions/reject", json={"reason": "Angaben unvollständig"})
    assert rejected.status_code == 200, rejected.text

    def refunded() -> dict[str, Any] | None:
        view = clerk.get(f"/api/v1/cases/{case_id}/payment").json()
        refunds = view["payment"]["refunds"]
        return view if refunds and refunds[0]["status"] == "refunded" else None

    view = eventually(refunded, timeout=60)
    assert (view["payment"]["refunded_cents"], view["closed"]) == (FEE, "rejected")
    assert view["payment"]["refunds"][0]["status_text"] == "Erstattet"


@pytest.mark.parametrize(("outcome", "status"), [("failure", "FAILED"), ("cancel", "CANCELED")])
def test_after_a_failure_or_cancel_a_new_attempt_pays_the_case(payer, outcome, status) -> None:
    case_id = new_case(payer)
    first = start(payer, case_id)
    assert pay(first["payment"]["pay_url"], outcome).status_code == 303
    assert returned(payer, case_id)["status"] == status
    second = start(payer, case_id)
    assert second["payment"]["pay_url"] != first["payment"]["pay_url"] and second["payment"]["attempt"] == 2
    assert second["kassenzeichen"] == first["kassenzeichen"]
    assert pay(second["payment"]["pay_url"], "success", method="paypal").status_code == 303
    assert returned(payer, case_id)["status"] == "PAYED"
    assert eventually(lambda: case_of(payer, case_id)["status"] == "paid", timeout=30)


def test_the_payer_returns_to_the_web_portal_and_only_to_an_origin_of_the_platform(running, payer) -> None:
    case_id = new_case(payer)
    for bad in ("https://evil.example/x", f"{running.web_url}@evil.example/", "javascript:alert(1)", "/relative", 7):
        refused = payer.post(f"/api/v1/cases/{case_id}/payment", json={"return_url": bad})
        assert (refused.status_code, refused.json()["code"]) == (422, "return_url_not_allowed"), bad
    back = f"{running.web_url}/mein-rathaus/antraege/{case_id}/bezahlt"

    def attempt() -> dict[str, Any] | None:
        response = payer.post(f"/api/v1/cases/{case_id}/payment", json={"return_url": back})
        assert response.status_code in (200, 404), response.text
        return response.json() if response.status_code == 200 else None

    started = eventually(attempt, timeout=30, interval=0.3)
    done = pay(started["payment"]["pay_url"], "success")
    assert done.status_code == 303 and done.headers["location"].startswith(f"{back}?payment_id="), done.headers["location"]
    assert returned(payer, case_id)["status"] == "PAYED"


def test_an_unpaid_payment_expires_and_a_new_attempt_pays(payer) -> None:
    case_id = new_case(payer)
    first = start(payer, case_id)

    def expired() -> dict[str, Any] | None:
        view = payer.get(f"/api/v1/cases/{case_id}/payment").json()
        return view if view["attempts"][0]["state"] == "expired" else None

    view = eventually(expired, timeout=150, interval=1.0)  # 1 minute, then the next worker round
    assert view["status"] == "CANCELED" and view["attempts"][0]["status_text"] == "Abgelaufen"
    second = start(payer, case_id)
    assert second["payment"]["attempt"] == 2 and second["payment"]["pay_url"] != first["payment"]["pay_url"]
    assert pay(second["payment"]["pay_url"], "success").status_code == 303
    assert returned(payer, case_id)["status"] == "PAYED"


def test_forged_stale_and_replayed_webhooks_are_refused_logged_and_counted(running, platform_env) -> None:
    url = running.base_url + WEBHOOK_PATH
    merchant = development_merchant(CLOPPENBURG, secret_from(Settings.from_env(platform_env)))
    event = {"id": f"evt_{uuid.uuid4().hex[:24]}", "type": "payment.succeeded", "created": datetime.now(UTC).isoformat(),
             "merchant_id": merchant.merchant_id, "data": {"payment": {"id": "pay_unknown", "status": "succeeded", "amount": FEE}}}
    body = json.dumps(event, separators=(",", ":")).encode()

    def deliver(header: str) -> httpx.Response:
        return httpx.post(url, content=body, timeout=10, headers={
            "Content-Type": "application/json", "PSP-Signature": header, "PSP-Merchant-Id": merchant.merchant_id})

    now = int(time.time())
    forged = deliver(sign("not-the-merchants-secret-at-all!", now, body))
    stale = deliver(sign(merchant.webhook_secret, int((datetime.now(UTC) - timedelta(seconds=600)).timestamp()), body))
    valid_header = sign(merchant.webhook_secret, now, body)
    first, replayed = deliver(valid_header), deliver(valid_header)
    assert first.status_code == 200, first.text  # an unknown payment's notice is kept, not dropped
    for response, reason in ((forged, "signature"), (stale, "stale"), (replayed, "replayed")):
        assert (response.status_code, response.json()["code"]) == (400, "webhook_rejected"), response.text
        assert reason in response.json()["detail"], response.text
    metrics = httpx.get(f"http://127.0.0.1:{running.metrics_ports['payments']}/metrics", timeout=5).text
    rejected = [line for line in metrics.splitlines() if line.startswith("vr_payments_webhooks_total") and "rejected" in line]
    assert rejected and sum(float(line.rsplit(" ", 1)[1]) for line in rejected) >= 3, rejected
    assert "webhook_rejected" in running.tail("payments", 200_000)
