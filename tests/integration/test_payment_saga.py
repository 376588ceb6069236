"""The saga between cases and payments, handler by handler, with the real applications on
every backend: the integration events are the ones the relays would publish (mapped from
the event stores), each delivered twice as RabbitMQ may. The dead-letter path runs on the
real broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import amqp
import pytest

from services.common.amqp import BatchConsumer, ConfirmingPublisher, connect
from services.common.config import PaymentsSettings
from services.common.saga import Poison, SagaConsumer
from services.payments.application import PaymentsApp
from services.payments.integration import map_notification as payment_envelope
from services.payments.saga import saga_handler
from services.submissions.integration import map_notification as case_envelope
from services.submissions.payment_consumer import payment_handler
from tests.integration.conftest import command
from tests.payments_support import FakeProvider, merchants
from tests.support import Clock

LOHNE = "03460006"
CITIZEN = {"subject": "citizen:erika", "kind": "citizen", "grants": [], "trust_level": "high"}


def envelopes(app, kind: str) -> list[dict]:
    notes = app.recorder.select_notifications(start=0, limit=10_000)
    mapped = [e for n in notes if (e := (case_envelope if kind.startswith("case") else payment_envelope)(app, n))]
    return [e for e in mapped if e["type"] == kind]


@pytest.fixture
def payments(store_env) -> PaymentsApp:
    clock = Clock(datetime.now(UTC))
    app = PaymentsApp(store_env("payments"), provider=FakeProvider(clock), merchants=merchants(), clock=clock,
                      settings=PaymentsSettings())
    yield app
    app.close()


def test_a_fee_case_is_paid_exactly_once_then_workable_and_its_rejection_closes_the_receivable(
    submissions, resolve, catalog, payments
) -> None:
    (result,) = submissions.submit_batch([command(portal=LOHNE, key="fee", service_id="meldebescheinigung")], resolve)
    case = result["case"]
    assert case["status"] == "payment_pending"  # opened so in the same save: no review before the fee
    (requested,) = envelopes(submissions, "case.payment_requested.v1")
    assert requested["data"] == {"amount_cents": 700}
    rules = []
    handle = saga_handler(payments, lambda sid, v: rules.append((sid, v)) or catalog.definition(sid, v)["fee"].get("refund_on", {}))
    (submitted,) = envelopes(submissions, "case.submitted.v1")
    assert [handle(submitted), handle(submitted)] == ["requested", "requested"]
    receivable = payments.payment_for_case(case["case_id"])
    assert (receivable["amount_cents"], receivable["status"]) == (700, "INITIAL") and rules[0] == ("meldebescheinigung", 1)

    started = payments.start_payment(case["case_id"], CITIZEN, "http://127.0.0.1:8000/zahlung", "c-start")
    payments.provider.complete(started["payment"]["pay_url"].rsplit("/", 1)[1], "succeeded")
    assert payments.refresh_case(case["case_id"], "c-back")["status"] == "PAYED"
    (succeeded,) = envelopes(payments, "payment.succeeded.v1")
    record = payment_handler(submissions)
    assert [record(succeeded), record(succeeded)] == ["recorded", "duplicate"]
    paid = submissions.get_case(case["case_id"])
    assert (paid.status.value, paid.paid_cents) == ("paid", 700)
    (received,) = envelopes(submissions, "case.payment_received.v1")
    assert received["data"]["payment_ref"] == receivable["kassenzeichen"]

    submissions.act(case["case_id"], "start-review", {}, "clerk:meyer", "c1")
    submissions.act(case["case_id"], "reject", {"reason": "unvollständig"}, "clerk:meyer", "c2")
    (rejected,) = envelopes(submissions, "case.rejected.v2")
    assert handle(rejected) == "closed" and handle(rejected) == "closed"
    closed = payments.payment_for_case(case["case_id"])
    assert (closed["closed"], closed["paid"], closed["status"]) == ("rejected", True, "PAYED")
    # the Meldebescheinigung's definition declares no refund rule: nothing is refunded
    assert closed["payment"].get("refunded_cents", 0) == 0 and not closed["needs_attention"]

def test_a_case_without_fee_goes_straight_on(submissions, resolve, payments) -> None:
    (result,) = submissions.submit_batch([command(key="free")], resolve)
    assert result["case"]["status"] == "submitted"
    assert envelopes(submissions, "case.payment_requested.v1") == []
    (submitted,) = envelopes(submissions, "case.submitted.v1")
    assert saga_handler(payments, lambda *_: {})(submitted) == "no_fee"
    submissions.act(result["case"]["case_id"], "withdraw", {}, "citizen:erika", "c3")
    (withdrawn,) = envelopes(submissions, "case.withdrawn.v2")
    assert saga_handler(payments, lambda *_: {})(withdrawn) == "no_fee"


def test_poison_messages_go_to_the_dead_letter_queue_and_the_rest_is_handled(amqp_uri) -> None:
    queue = "submissions.payments"
    publisher = ConfirmingPublisher(amqp_uri)
    good = {"event_id": "e-1", "type": "payment.succeeded.v1", "data": {"settles_case": False}}
    bad_type = {"event_id": "e-2", "type": "payment.failed.v1", "data": {}}
    publisher.publish_batch([{**good, "type": "payment.succeeded.v1"}])
    channel = publisher.channel
    channel.basic_publish(amqp.Message("{not json", delivery_mode=2), exchange="", routing_key=queue)
    channel.basic_publish(amqp.Message(json.dumps(bad_type), delivery_mode=2), exchange="", routing_key=queue)
    publisher.close()
    handled = []

    def handle(envelope: dict) -> str:
        if envelope["type"] != "payment.succeeded.v1":
            raise Poison("unexpected")
        handled.append(envelope["event_id"])
        return "ok"

    consumer = BatchConsumer(queue, amqp_uri)
    batch = []
    while len(batch) < 3:
        batch += consumer.next_batch(max_size=10, wait=2.0)
    SagaConsumer(queue, handle, "test").handle_batch(consumer, batch)
    consumer.close()
    assert handled == ["e-1"]
    conn = connect(amqp_uri)
    channel = conn.channel()
    dead = [channel.basic_get(queue + ".dead", no_ack=True) for _ in range(2)]
    assert channel.basic_get(queue, no_ack=True) is None  # all three acked
    conn.close()
    assert [m.headers["x-dead-reason"] for m in dead] == ["Poison: malformed message", "Poison: unexpected"]
    assert json.loads(dead[1].body)["event_id"] == "e-2"
