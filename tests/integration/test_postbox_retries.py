"""Composing postbox items on PostgreSQL and a real RabbitMQ vhost: a payment event's item is
about the payment's case (it used to name the payment, whose case was then "not found" on
every round, ~115 times per case in the chaos run); an item whose case stays unknown is tried
with a doubling backoff, then parked in notifications.events.dead, counted, and left alone."""

from __future__ import annotations

import json
import uuid
from typing import Any

import amqp
import pytest

from services.common import metrics
from services.common.amqp import DEAD_LETTER_SUFFIX, connect, park_dead_letter
from services.common.blobs import open_blobs
from services.common.db import ReadStore
from services.notifications.application import NotificationsApp, open_notifications
from services.notifications.consumer import handler
from services.notifications.postbox.projections import Postbox
from services.notifications.postbox.retries import QUEUE, ComposeAttempts, try_compose
from services.notifications.preferences import Preferences
from tests.postbox_support import CaseSources, decided_case

BASE = "https://rathaus.example"


@pytest.fixture
def app(postgres: str) -> NotificationsApp:
    return open_notifications()


def payment_failed(submitted: dict[str, Any], position: int) -> dict[str, Any]:
    """payments' integration event for a failed attempt at the case's fee (aggregate: the payment)."""
    return {
        **{key: submitted[key] for key in ("tenant", "service_key", "correlation_id") if key in submitted},
        "event_id": str(uuid.uuid4()), "type": "payment.failed.v1", "aggregate_id": str(uuid.uuid4()),
        "aggregate_version": 2, "occurred_at": submitted["occurred_at"], "actor": "payments", "position": position,
        "data": {"case_id": submitted["aggregate_id"], "amount_cents": 2500, "kassenzeichen": "5.0001.000042.7"},
    }


def dead_letters(uri: str) -> list[amqp.Message]:
    conn = connect(uri)
    try:
        channel = conn.channel()
        found = []
        while (message := channel.basic_get(QUEUE + DEAD_LETTER_SUFFIX, no_ack=True)) is not None:
            found.append(message)
        return found
    finally:
        conn.close()


def test_a_payment_events_item_is_composed_for_the_payments_case(app: NotificationsApp) -> None:
    sources, postbox = CaseSources(), Postbox(ReadStore("notifications"))
    events = decided_case(sources, "acc-1")
    app.accept(events[0])  # case submitted: the contact
    assert app.accept(payment_failed(events[0], 9_000_001)) > 0
    postbox.catch_up(app)
    [item_id] = [i for i in postbox.to_compose() if app.postbox_item_any(i).kind == "payment_failed"]
    assert app.postbox_item_any(item_id).case_id == events[0]["aggregate_id"]
    view = app.compose_item(item_id, sources, open_blobs("notifications"), BASE)
    assert view is not None and view["case_id"] == events[0]["aggregate_id"]


def test_an_item_whose_case_stays_unknown_is_retried_with_backoff_then_dead_lettered(
    app: NotificationsApp, amqp_uri: str
) -> None:
    sources, postbox = CaseSources(), Postbox(ReadStore("notifications"))
    events = decided_case(sources, "acc-2")
    app.accept(events[0])
    postbox.catch_up(app)
    [item_id] = postbox.to_compose()
    sources.cases.clear()  # submissions answers "not found" for this case from now on
    attempts = ComposeAttempts(ReadStore("notifications"), max_attempts=4, base=1.0, cap=3.0)
    dead_before = metrics.DEAD_LETTERS.labels(QUEUE)._value.get()
    blobs, now = open_blobs("notifications"), 1_000.0

    def attempt() -> tuple[str, Any]:
        return try_compose(item_id, lambda: app.compose_item(item_id, sources, blobs, BASE), attempts,
                           app.postbox_item_any, lambda body, why: park_dead_letter(QUEUE, body, why, amqp_uri),
                           now=lambda: now)

    outcomes, waits = [], []
    while not outcomes or outcomes[-1] == "retry":
        assert item_id in postbox.to_compose(skip=attempts.waiting(now))  # due now
        outcomes.append(attempt()[0])
        if outcomes[-1] == "retry":
            waited = 0.0
            while item_id not in postbox.to_compose(skip=attempts.waiting(now)):  # backing off until then
                now += 0.5
                waited += 0.5
            waits.append(waited)
        assert len(outcomes) <= 4
    assert outcomes == ["retry", "retry", "retry", "dead"]
    assert waits == [1.0, 2.0, 3.0]  # doubling, capped
    assert attempts.attempts(item_id) == (4, True)
    assert item_id not in postbox.to_compose(skip=attempts.waiting(now + 10_000))  # never tried again

    [letter] = dead_letters(amqp_uri)
    body = json.loads(letter.body)
    assert body == {"type": "postbox.compose_abandoned", "event_id": f"{item_id}:4", "tenant": "03460009", "data": {
        "item_id": item_id, "attempts": 4, "error": body["data"]["error"], "source_event_id": events[0]["event_id"],
        "case_id": events[0]["aggregate_id"], "kind": "case_submitted"}}
    assert "case_not_found" in body["data"]["error"]
    headers = letter.properties["application_headers"]
    assert headers["x-dead-queue"] == QUEUE and "after 4 attempts" in headers["x-dead-reason"]
    assert metrics.DEAD_LETTERS.labels(QUEUE)._value.get() == dead_before + 1

    # an operator re-drives it once the cause is fixed: the consumer clears the attempts, it is due again
    preferences = Preferences(ReadStore("notifications"))
    assert handler(app, preferences)(body) == "applied"
    assert attempts.attempts(item_id) is None and item_id in postbox.to_compose(skip=attempts.waiting(now))
