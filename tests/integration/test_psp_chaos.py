"""The simulator's chaos switches over real HTTP: duplicated, late, reordered and dropped
webhooks, a failing status API, and payments that succeed after they were reported failed."""

from __future__ import annotations

from tests.psp_support import Merchant, PspProcess, Receiver

HOUR = 3600


def types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def test_duplicates_deliver_the_same_event_twice(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    psp.chaos(duplicate_rate=1)
    payment = merchant.paid()
    first, second = receiver.wait_for(2, payment["id"])
    assert first == second and first["id"] == second["id"]
    [event] = psp.events(payment["id"])
    assert [d["chaos"] for d in event["deliveries"]] == [[], ["duplicate"]]


def test_late_webhooks_wait_until_due(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    psp.chaos(delay=HOUR)
    held = merchant.paid()
    [event] = psp.events(held["id"])
    assert event["deliveries"][0]["status"] == "pending" and event["deliveries"][0]["chaos"] == ["delayed"]
    psp.chaos(delay=0)
    on_time = merchant.paid()
    receiver.wait_for(1, on_time["id"])
    assert receiver.accepted(held["id"]) == []  # the late one has not come yet
    assert psp.admin.post("/admin/webhooks/flush", json={"merchant_id": merchant.merchant_id}).json()["made_due"] >= 1
    assert types(receiver.wait_for(1, held["id"])) == ["payment.succeeded"]


def test_out_of_order_lets_a_later_event_overtake(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    psp.chaos(out_of_order_rate=1, out_of_order_delay=HOUR)
    payment = merchant.payment()
    assert merchant.pay(payment, "failure").status_code == 303
    psp.chaos(out_of_order_rate=0)
    assert psp.admin.post(f"/admin/payments/{payment['id']}/late-success", json={"method": "paypal"}).status_code == 200
    assert types(receiver.wait_for(1, payment["id"])) == ["payment.succeeded"]
    psp.admin.post("/admin/webhooks/flush")
    assert types(receiver.wait_for(2, payment["id"])) == ["payment.succeeded", "payment.failed"]
    assert merchant.status(payment["id"])["status"] == "succeeded"


def test_dropped_webhooks_never_arrive_but_the_status_api_knows(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    psp.chaos(drop_rate=1)
    lost = merchant.paid()
    assert psp.events(lost["id"])[0]["deliveries"][0]["status"] == "dropped"
    psp.chaos(drop_rate=0)
    psp.admin.post("/admin/webhooks/flush")
    after = merchant.paid()
    receiver.wait_for(1, after["id"])
    assert receiver.accepted(lost["id"]) == [] and len(receiver.received()) == 1
    assert merchant.status(lost["id"])["status"] == "succeeded"


def test_the_status_api_answers_500_while_switched_on(psp: PspProcess, merchant: Merchant) -> None:
    payment = merchant.payment()
    before = psp.admin.get("/admin/stats").json()["chaos_injected"].get("status_error", 0)
    psp.chaos(status_error_rate=1)
    failing = merchant.http.get(f"/v1/payments/{payment['id']}")
    assert failing.status_code == 500 and failing.json()["error"]["code"] == "internal_error"
    listing = merchant.http.get("/v1/payments", params={"merchant_reference": "KZ-1"})
    assert listing.status_code == 500
    assert psp.admin.get("/admin/stats").json()["chaos_injected"]["status_error"] == before + 2
    psp.chaos(status_error_rate=0)
    assert merchant.status(payment["id"])["status"] == "open"


def test_a_failed_payment_succeeds_later(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    psp.chaos(late_success_rate=1, late_success_delay=0)
    payment = merchant.payment()
    assert merchant.pay(payment, "failure", method="sepa_direct_debit").status_code == 303
    events = {event["type"]: event for event in receiver.wait_for(2, payment["id"])}  # concurrent: any order
    assert set(events) == {"payment.failed", "payment.succeeded"}
    assert events["payment.succeeded"]["data"]["payment"]["method"] == "sepa_direct_debit"
    assert merchant.status(payment["id"])["status"] == "succeeded"
    assert psp.admin.get("/admin/stats").json()["chaos_injected"]["late_success"] >= 1


def test_the_admin_turns_a_cancelled_payment_into_a_success(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.payment()
    refused = psp.admin.post(f"/admin/payments/{payment['id']}/late-success")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "payment_not_unsuccessful"
    assert merchant.pay(payment, "cancel").status_code == 303
    late = psp.admin.post(f"/admin/payments/{payment['id']}/late-success")
    assert late.status_code == 200 and late.json()["status"] == "succeeded" and late.json()["method"] == "card"
    assert sorted(types(receiver.wait_for(2, payment["id"]))) == ["payment.cancelled", "payment.succeeded"]


def test_switches_are_checked_and_need_the_admin_token(psp: PspProcess, merchant: Merchant) -> None:
    assert psp.admin.put("/admin/chaos", json={"drop_rate": 1.5}).status_code == 422
    assert psp.admin.put("/admin/chaos", json={"teleport_rate": 0.5}).json()["error"]["field"] == "teleport_rate"
    assert merchant.http.put("/admin/chaos", json={"drop_rate": 1}).status_code == 401  # a merchant key is no admin token
    assert psp.admin.get("/admin/chaos").json()["drop_rate"] == 0
