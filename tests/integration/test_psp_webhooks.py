"""The simulator's webhooks over real HTTP: signed as the README says, retried until a 2xx,
and neither payments nor undelivered webhooks lost when the simulator restarts."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path

from tests.psp_support import Merchant, PspProcess, Receiver, psp_process, verify_signature
from tests.support import eventually


def test_a_webhook_is_signed_as_documented(merchant: Merchant, receiver: Receiver) -> None:
    payment = merchant.paid()
    [event] = receiver.wait_for(1, payment["id"])
    [request] = [r for r in receiver.received() if r.event["id"] == event["id"]]
    header = request.headers["psp-signature"]
    assert verify_signature(merchant.webhook_secret, header, request.body)
    assert not verify_signature(merchant.webhook_secret, header, request.body.replace(b"succeeded", b"failed"))
    assert not verify_signature("whsec_another_merchants_secret", header, request.body)
    assert not verify_signature(merchant.webhook_secret, header, request.body, now=time.time() + 301)  # stale
    assert request.headers["psp-event-id"] == event["id"] and event["id"].startswith("evt_")
    assert request.headers["psp-merchant-id"] == merchant.merchant_id == event["merchant_id"]
    assert request.headers["content-type"] == "application/json"
    assert event["type"] == "payment.succeeded" and event["created"].endswith("Z")
    assert event["data"]["payment"] == payment


def test_every_event_has_its_own_id(merchant: Merchant, receiver: Receiver) -> None:
    payments = [merchant.paid() for _ in range(3)]
    events = receiver.wait_for(3)
    assert len({e["id"] for e in events}) == 3
    assert {e["data"]["payment"]["id"] for e in events} == {p["id"] for p in payments}


def test_a_webhook_is_retried_until_a_2xx(psp: PspProcess, merchant: Merchant, receiver: Receiver) -> None:
    receiver.answer(500, 503, 404)
    payment = merchant.paid()
    receiver.wait_for(1, payment["id"])
    attempts = receiver.received()
    assert [r.answered for r in attempts] == [500, 503, 404, 200]
    assert len({r.body for r in attempts}) == 1 and len({r.headers["psp-event-id"] for r in attempts}) == 1
    assert all(verify_signature(merchant.webhook_secret, r.headers["psp-signature"], r.body) for r in attempts)
    [event] = psp.events(payment["id"])
    assert event["deliveries"] == [
        {**event["deliveries"][0], "status": "delivered", "attempts": 4, "last_status": 200, "chaos": []}
    ]


def test_a_restart_keeps_payments_keys_and_undelivered_webhooks(tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        with psp_process(tmp_path) as psp:
            merchant = psp.merchant(receiver)
            key = uuid.uuid4().hex
            created = merchant.create(key).json()
            receiver.fallback = 503  # the platform is down
            assert merchant.pay(created).status_code == 303
            eventually(lambda: len(receiver.received()) >= 2)  # tried and failed
            psp.stop(signal.SIGKILL)  # a crash, not a goodbye
            receiver.fallback = 200  # the platform is back
            psp.start()
            [event] = receiver.wait_for(1, created["id"])
            assert event["type"] == "payment.succeeded"
            assert merchant.status(created["id"])["status"] == "succeeded"
            replay = merchant.create(key)
            assert replay.status_code == 201 and replay.json()["id"] == created["id"]
            assert merchant.create(key, amount=1).status_code == 409
    finally:
        receiver.close()
