"""The payments relay against real PostgreSQL and RabbitMQ: payment.* events published with
confirms from the payments event store, internals not published, a restart from an old
position re-publishes with the same event ids (at-least-once)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from services.common import contracts, db
from services.common.amqp import ConfirmingPublisher
from services.common.db import ReadStore
from services.common.relay import Relay
from services.payments.application import PaymentsApp
from services.payments.integration import map_notification
from services.payments.merchants import development_merchant
from tests.payments_support import CLOPPENBURG, SECRET, FakeProvider, merchants, signed
from tests.support import Clock


def test_payment_events_are_published_once_per_pass_and_again_after_a_restart(postgres, amqp_uri, observe) -> None:
    observer = observe("payment.#")
    clock = Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    provider = FakeProvider(clock)
    db.ensure_schema("payments")
    app = PaymentsApp(db.eventstore_env("payments"), provider=provider, merchants=merchants(), clock=clock)
    case = app.request_payment(case_id=str(uuid.uuid4()), tenant=CLOPPENBURG, service_id="fuehrungszeugnis",
                               case_reference="CLP-2026-000001", amount_cents=1300, fee_version=2,
                               applicant_ref="citizen-1", correlation_id="corr-pay")
    citizen = {"subject": "citizen-1", "kind": "citizen", "grants": [], "trust_level": "high"}
    started = app.start_payment(case["case_id"], citizen, "http://127.0.0.1/back", "corr-pay")
    body, header = signed(provider.complete(started["payment"]["pay_url"].rsplit("/", 1)[1], "succeeded"),
                          development_merchant(CLOPPENBURG, SECRET), clock())
    app.receive_webhook(body, header, "corr-hook")

    relay = Relay(app, ReadStore("payments"), map_notification, source="payments")
    publisher = ConfirmingPublisher(amqp_uri)
    try:
        while relay.run_once(publisher):
            pass
        first = observer()
        assert [e["type"] for e in first] == ["payment.created.v1", "payment.started.v1", "payment.succeeded.v1"]
        for envelope in first:
            contracts.validate_event(envelope)
        assert first[2]["data"]["settles_case"] is True and first[2]["correlation_id"] == "corr-hook"
        assert {e["data"]["case_id"] for e in first} == {case["case_id"]}
        assert relay.position() == app.recorder.max_notification_id()
        assert relay.run_once(publisher) == 0 and observer() == []

        relay.save_position(0)  # as after a crash before the position was saved
        while relay.run_once(publisher):
            pass
        assert [e["event_id"] for e in observer()] == [e["event_id"] for e in first]
    finally:
        publisher.close()
        app.close()
