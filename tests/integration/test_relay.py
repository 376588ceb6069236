"""The outbox relay against real PostgreSQL and RabbitMQ: confirmed publishing from a
tracked position, nothing skipped, a restart from an old position re-publishes with the
same event ids (at-least-once)."""

from __future__ import annotations

import json

import pytest

from services.common.amqp import ConfirmingPublisher
from services.common.db import ReadStore
from services.common.relay import Relay
from services.submissions.application import SubmissionsApp
from services.submissions.integration import map_notification
from tests.integration.conftest import command


def test_relay_publishes_every_event_once_per_pass(postgres, amqp_uri, observe, resolve_pg) -> None:
    observer = observe("case.#")
    app = SubmissionsApp(_env())
    results = app.submit_batch([command(key="r1"), command(key="r2"), command(portal="03460006", key="r3", service_id="meldebescheinigung")], resolve_pg)
    case_id = results[0]["case"]["case_id"]
    app.act(case_id, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "corr-act")

    relay = Relay(app, ReadStore("submissions"), map_notification, source="submissions")
    publisher = ConfirmingPublisher(amqp_uri)
    try:
        while relay.run_once(publisher):
            pass
        first = observer()
        assert [e["type"] for e in first].count("case.submitted.v1") == 3
        assert [e["type"] for e in first].count("case.review_started.v1") == 1
        assert relay.position() == app.recorder.max_notification_id()
        assert {e["tenant"] for e in first} == {"03460009", "03460006"}
        review = next(e for e in first if e["type"] == "case.review_started.v1")
        assert review["correlation_id"] == "corr-act" and review["aggregate_version"] == 2
        assert "form_data" not in json.dumps(first)  # no form contents leave the service
        assert relay.run_once(publisher) == 0 and observer() == []

        relay.save_position(0)  # as after a crash before the position was saved
        while relay.run_once(publisher):
            pass
        again = observer()
        assert [e["event_id"] for e in again] == [e["event_id"] for e in first]
    finally:
        publisher.close()


def test_unreachable_broker_fails_fast_with_one_sentence(capsys) -> None:
    from services.common.amqp import BrokerUnavailable, check_broker

    with pytest.raises(BrokerUnavailable):
        check_broker("amqp://guest:guest@127.0.0.1:1/")
    message = capsys.readouterr().err.strip()
    assert "rabbitmq-server" in message and message.count("\n") == 0


@pytest.fixture
def resolve_pg(postgres, tmp_path):
    from services.catalog.application import CatalogApp
    from services.submissions.commands import Offering

    catalog = CatalogApp({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    catalog.import_definitions()
    catalog.import_tenants()
    catalog.sync_offerings()
    return lambda portal, service_id: Offering.from_catalog(catalog.resolve(portal, service_id))


def _env() -> dict[str, str]:
    from services.common import db
    from services.common.db import ensure_schema

    ensure_schema("submissions")
    return db.eventstore_env("submissions")


