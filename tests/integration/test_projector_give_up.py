"""The submissions projector's give-up rule on real RabbitMQ and PostgreSQL: an event whose
fold keeps failing transiently is delivered again after each reconnect and, after
``amqp.MAX_ATTEMPTS`` deliveries, parked in ``submissions.projections.dead`` with its
attempts — the other events of its batch are folded, the queue moves on."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from typing import Any

import psycopg
import pytest

from services.common.amqp import MAX_ATTEMPTS, BatchConsumer, ConfirmingPublisher
from services.common.db import ReadStore
from services.submissions.projections import CaseReadModels
from services.submissions.projector import QUEUE, Projector
from tests import support
from tests.integration.test_operations import run
from tests.integration.test_read_models import envelopes, make_case


class FlakyModels(CaseReadModels):
    """The real read models, but folding one case fails as if the database dropped the
    connection every time (a transient error, not poison)."""

    broken: str = ""

    def apply(self, envelopes: Iterable[dict[str, Any]], projections: tuple[str, ...] = ("worklist", "case_status")) -> int:
        envelopes = list(envelopes)
        if any(e["aggregate_id"] == self.broken for e in envelopes):
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return super().apply(envelopes, projections)


def deliver(projector: Projector) -> None:
    consumer = BatchConsumer(QUEUE)
    try:
        batch: list = []
        while len(batch) < 2:
            batch += consumer.next_batch(max_size=10, wait=2.0)
        projector.handle(consumer, batch)
    finally:
        consumer.close()  # as the loop does after an error: the unacked events come back


def test_an_event_that_keeps_failing_is_parked_after_max_attempts(postgres, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AMQP_URI", support.fresh_vhost("vr_projector"))
    BatchConsumer(QUEUE).close()  # the queue exists before anything is published
    good, bad = make_case(number=1), make_case(number=2)
    events = envelopes(good) + envelopes(bad)
    for event in events:
        event["event_id"] = uuid.uuid4().hex
    publisher = ConfirmingPublisher()
    publisher.publish_batch(events)
    publisher.close()
    models = FlakyModels(ReadStore("submissions"))
    models.broken = str(bad.id)
    projector = Projector(cases=object(), models=models)  # type: ignore[arg-type]  # no event store needed

    for _ in range(1, MAX_ATTEMPTS):
        with pytest.raises(psycopg.OperationalError):
            deliver(projector)
        assert models.case_state(str(good.id)) is None  # the batch is one transaction: nothing folded
    deliver(projector)  # the last attempt: the good case folded, the broken one parked, both acked

    assert models.case_state(str(good.id))["status"] == "submitted"
    assert models.case_state(str(bad.id)) is None
    [listed] = json.loads(run(capsys, "--json", "dead-letters", "list", QUEUE)[1])
    assert listed["event_id"] == events[1]["event_id"] and listed["attempts"] == MAX_ATTEMPTS
    assert listed["reason"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: OperationalError")
    consumer = BatchConsumer(QUEUE)
    assert consumer.next_batch(max_size=10, wait=0.5) == []  # nothing left in the queue
    consumer.close()
