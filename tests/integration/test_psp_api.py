"""The PSP simulator's merchant API over real HTTP: idempotent creation, validation,
authentication, the status API per merchant, expiry, refunds and the settlement report."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from tests.psp_support import Merchant, PspProcess, Receiver


def test_same_key_and_same_body_give_the_same_payment(merchant: Merchant) -> None:
    key = uuid.uuid4().hex
    first = merchant.create(key)
    body = {"return_url": "http://127.0.0.1:8000/zahlung/zurueck", "merchant_reference": "KZ-1",
            "purpose": "Fuehrungszeugnis", "currency": "EUR", "amount": 1300}  # other key order and spacing
    again = merchant.http.post("/v1/payments", content=json.dumps(body, indent=2),
                               headers={"Idempotency-Key": key, "Content-Type": "application/json"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert merchant.http.get("/v1/payments", params={"merchant_reference": "KZ-1"}).json()["payments"] == [first.json()]


def test_same_key_with_another_body_is_a_conflict(merchant: Merchant) -> None:
    key = uuid.uuid4().hex
    assert merchant.create(key, amount=1300).status_code == 201
    conflict = merchant.create(key, amount=1400)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_key_reused"


def test_keys_belong_to_one_merchant(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    other = psp.merchant(receiver)
    key = uuid.uuid4().hex
    assert merchant.create(key).json()["id"] != other.create(key).json()["id"]


def test_creation_checks_key_credentials_and_body(merchant: Merchant) -> None:
    assert merchant.http.post("/v1/payments", json={}).json()["error"]["code"] == "idempotency_key_missing"
    anonymous = httpx.post(f"{merchant.psp_url}/v1/payments", json={}, headers={"Idempotency-Key": "k"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    wrong = httpx.post(f"{merchant.psp_url}/v1/payments", json={}, headers={"Authorization": "Bearer sk_nope_0123456789"})
    assert wrong.status_code == 401
    for changes, field in [
        ({"purpose": "x" * 28}, "purpose"),  # a SEPA remittance field holds 27 characters
        ({"purpose": "Gebühr_2030"}, "purpose"),  # not a SEPA character
        ({"amount": 13.0}, "amount"),
        ({"amount": 0}, "amount"),
        ({"return_url": "javascript:alert(1)"}, "return_url"),
        ({"colour": "blue"}, "colour"),
        ({"expires_in": 0}, "expires_in"),
    ]:
        response = merchant.create(**changes)
        assert response.status_code == 422 and response.json()["error"]["field"] == field, (changes, response.text)
    assert merchant.create(currency="USD").json()["error"]["code"] == "currency_not_supported"
    assert merchant.create(purpose="Führungszeugnis 2030-17").status_code == 201  # 23 characters with an umlaut


def test_a_payment_is_visible_to_its_merchant_only(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.payment()
    assert merchant.status(payment["id"])["status"] == "open"
    assert payment["pay_url"].startswith(f"{psp.url}/pay/") and payment["amount"] == 1300
    other = psp.merchant(receiver)
    assert other.http.get(f"/v1/payments/{payment['id']}").status_code == 404
    assert other.http.post(f"/v1/payments/{payment['id']}/refunds", json={}, headers={"Idempotency-Key": "k"}).status_code == 404


def test_an_unpaid_payment_expires_with_a_webhook(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.payment(expires_in=1)
    [event] = receiver.wait_for(1, payment["id"])
    assert event["type"] == "payment.expired" and merchant.status(payment["id"])["status"] == "expired"
    assert merchant.pay(payment).status_code == 409  # the page no longer takes it
    open_one = merchant.payment()
    assert psp.admin.post(f"/admin/payments/{open_one['id']}/expire").json()["status"] == "expired"
    assert receiver.wait_for(1, open_one["id"])[0]["type"] == "payment.expired"


def refund(merchant: Merchant, payment_id: str, **body: object) -> httpx.Response:
    return merchant.http.post(f"/v1/payments/{payment_id}/refunds", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})


def test_partial_and_full_refunds_each_with_a_webhook(merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.paid()
    partial = refund(merchant, payment["id"], amount=500, reason="Teilerstattung")
    assert partial.status_code == 201 and partial.json()["status"] == "pending" and partial.json()["amount"] == 500
    rest = refund(merchant, payment["id"])  # no amount: what is left
    assert rest.status_code == 201 and rest.json()["amount"] == 800
    too_much = refund(merchant, payment["id"], amount=1)
    assert too_much.status_code == 422 and too_much.json()["error"]["code"] == "amount_exceeds_refundable"
    events = receiver.wait_for(3, payment["id"])
    refunds = {e["data"]["refund"]["id"]: e["type"] for e in events if e["type"].startswith("refund.")}
    assert refunds == {partial.json()["id"]: "refund.succeeded", rest.json()["id"]: "refund.succeeded"}
    final = merchant.status(payment["id"])
    assert final["amount_refunded"] == 1300 and final["amount_refundable"] == 0
    assert merchant.http.get(f"/v1/refunds/{partial.json()['id']}").json()["status"] == "succeeded"
    unpaid = merchant.payment()
    assert refund(merchant, unpaid["id"]).json()["error"]["code"] == "payment_not_refundable"


def test_a_refund_can_fail_and_frees_the_amount_again(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.paid()
    psp.chaos(refund_failure_rate=1)
    failing = refund(merchant, payment["id"], amount=1300).json()
    events = receiver.wait_for(2, payment["id"])  # concurrent deliveries: in any order
    [failed] = [event for event in events if event["type"] == "refund.failed"]
    assert failed["data"]["refund"]["id"] == failing["id"] and failed["data"]["refund"]["status"] == "failed"
    assert merchant.status(payment["id"])["amount_refundable"] == 1300
    psp.chaos(refund_failure_rate=0)
    assert refund(merchant, payment["id"], amount=1300).status_code == 201


def settlement(merchant: Merchant, day: str) -> list[dict[str, str]]:
    response = merchant.http.get(f"/v1/settlements/{day}")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def booking_day(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp).astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()


def test_settlement_report_lists_payments_and_refunds_and_takes_injected_mismatches(
    psp: PspProcess, merchant: Merchant, receiver: Receiver
) -> None:
    card = merchant.paid(merchant_reference="KZ-100", amount=1300)
    second = merchant.paid(merchant_reference="KZ-101", amount=2000)
    assert refund(merchant, card["id"], amount=300).status_code == 201
    receiver.wait_for(3)  # two payments, one refund
    day = booking_day(card["succeeded_at"])
    lines = settlement(merchant, day)
    payments = {line["payment_id"]: line for line in lines if line["type"] == "payment"}
    assert payments[card["id"]] == {
        "booking_date": day, "payout_id": f"po_{merchant.merchant_id}_{day.replace('-', '')}", "type": "payment",
        "payment_id": card["id"], "refund_id": "", "merchant_reference": "KZ-100", "method": "card",
        "currency": "EUR", "amount": "1300", "fee": "43", "net": "1257",  # card: 1.4 % (18 ct) + 25 ct
    }
    [refund_line] = [line for line in lines if line["type"] == "refund"]
    assert (refund_line["payment_id"], refund_line["amount"], refund_line["net"]) == (card["id"], "-300", "-300")
    assert settlement(merchant, "2001-01-01") == []

    def adjust(**body: object) -> None:
        response = psp.admin.post(f"/admin/settlements/{merchant.merchant_id}/{day}/adjustments", json=body)
        assert response.status_code == 201, response.text

    adjust(action="omit", payment_id=second["id"])
    adjust(action="amount", payment_id=card["id"], amount=1200)
    adjust(action="extra", amount=999, merchant_reference="KZ-PHANTOM")
    adjusted = settlement(merchant, day)
    assert second["id"] not in {line["payment_id"] for line in adjusted}
    assert [line["amount"] for line in adjusted if line["payment_id"] == card["id"] and line["type"] == "payment"] == ["1200"]
    assert [line["amount"] for line in adjusted if line["merchant_reference"] == "KZ-PHANTOM"] == ["999"]
    missing = psp.admin.post(f"/admin/settlements/{merchant.merchant_id}/{day}/adjustments",
                             json={"action": "omit", "payment_id": "pay_unknown"})
    assert missing.status_code == 404
