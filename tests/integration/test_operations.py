"""The operator CLI (python -m services.ops) against real RabbitMQ and PostgreSQL: a poison
message lands in the dead-letter queue, is listed, shown and re-driven after the fix; tenants,
positions with their lag, a rebuild and one tenant's export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from services.catalog.application import CatalogApp
from services.common.amqp import MAX_ATTEMPTS, BatchConsumer, ConfirmingPublisher
from services.common.db import ReadStore, open_application
from services.common.relay import Relay
from services.common.saga import Poison, SagaConsumer
from services.submissions.application import open_submissions
from services.submissions.commands import Offering
from services.submissions.integration import map_notification
from tests import support
from tests.integration.conftest import command

QUEUE = "payments.saga"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """``python -m services.ops …`` as the operator runs it, in this test's environment."""
    done = subprocess.run([sys.executable, "-m", "services.ops", *argv], cwd=support.ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(support.ROOT)})
    return done.returncode, done.stdout


def consume(consumer: BatchConsumer, handle) -> None:
    batch = []
    while not batch:
        batch = consumer.next_batch(max_size=10, wait=2.0)
    SagaConsumer(QUEUE, handle, "test").handle_batch(consumer, batch)


def test_a_poison_message_is_dead_lettered_listed_shown_and_redriven_after_the_fix(monkeypatch, capsys) -> None:
    monkeypatch.setenv("AMQP_URI", support.fresh_vhost("vr_ops"))
    event = {"event_id": uuid.uuid4().hex, "type": "case.submitted.v1", "tenant": "03460009",
             "data": {"service_id": "gewerbeanmeldung", "fee_cents": 2600}}
    publisher = ConfirmingPublisher()
    publisher.publish_batch([event])
    publisher.close()
    fixed, handled = False, []

    def handle(envelope: dict) -> str:
        if not fixed:  # the bug: this consumer cannot handle the event yet
            raise Poison("no fee schedule for gewerbeanmeldung")
        handled.append(envelope["event_id"])
        return "receivable_opened"

    consumer = BatchConsumer(QUEUE)
    consume(consumer, handle)
    assert handled == []

    code, out = run(capsys, "--json", "dead-letters")
    assert code == 0 and {"queue": QUEUE, "dead_letters": 1} in json.loads(out)
    code, out = run(capsys, "--json", "dead-letters", "list", QUEUE)
    [listed] = json.loads(out)
    assert listed["event_id"] == event["event_id"] and listed["type"] == "case.submitted.v1"
    assert listed["reason"] == "Poison: no fee schedule for gewerbeanmeldung" and listed["dead_at"] and listed["redriven"] == 0
    code, out = run(capsys, "dead-letters", "show", QUEUE, "1")
    assert json.loads(out)["body"] == event
    code, out = run(capsys, "dead-letters", "list", QUEUE)  # reading leaves it where it is
    assert event["event_id"] in out and "REASON" in out

    fixed = True
    assert run(capsys, "dead-letters", "redrive", QUEUE, "no-such-event")[0] == 1
    code, out = run(capsys, "dead-letters", "redrive", QUEUE, event["event_id"])
    assert code == 0 and f"re-driven to {QUEUE}: {event['event_id']}" in out
    consume(consumer, handle)
    consumer.close()
    assert handled == [event["event_id"]]
    code, out = run(capsys, "--json", "dead-letters", "list", QUEUE)
    assert json.loads(out) == []



def test_a_message_that_keeps_failing_is_parked_after_max_attempts_with_its_count(monkeypatch, capsys) -> None:
    """A transient error each time (the database away): unacked, delivered again after the
    reconnect, and after MAX_ATTEMPTS deliveries parked with ``x-dead-attempts``; re-driven and
    parked again, it keeps its redrive count."""
    monkeypatch.setenv("AMQP_URI", support.fresh_vhost("vr_ops_attempts"))
    event = {"event_id": uuid.uuid4().hex, "type": "case.submitted.v1", "tenant": "03460009", "data": {}}
    publisher = ConfirmingPublisher()
    publisher.publish_batch([event])
    publisher.close()
    tries = []

    def handle(envelope: dict) -> str:
        tries.append(envelope["event_id"])
        raise ConnectionError("database not reachable")

    for _ in range(1, MAX_ATTEMPTS):
        consumer = BatchConsumer(QUEUE)
        with pytest.raises(ConnectionError):
            consume(consumer, handle)
        consumer.close()  # as the loop does: the unacked message comes back
    consumer = BatchConsumer(QUEUE)
    consume(consumer, handle)  # the last attempt: parked, acked, no exception
    consumer.close()
    assert len(tries) == MAX_ATTEMPTS
    [listed] = json.loads(run(capsys, "--json", "dead-letters", "list", QUEUE)[1])
    assert (listed["attempts"], listed["redriven"]) == (MAX_ATTEMPTS, 0)
    assert listed["reason"].startswith(f"gave up after {MAX_ATTEMPTS} attempts: ConnectionError")

    assert run(capsys, "dead-letters", "redrive", QUEUE, "--all")[0] == 0
    consumer = BatchConsumer(QUEUE)
    consume(consumer, lambda envelope: (_ for _ in ()).throw(Poison("still broken")))
    consumer.close()
    [again] = json.loads(run(capsys, "--json", "dead-letters", "list", QUEUE)[1])
    assert (again["redriven"], again["reason"]) == (1, "Poison: still broken")

def test_tenants_positions_rebuild_and_a_tenants_export(postgres, amqp_uri, monkeypatch, capsys, tmp_path) -> None:
    catalog = open_application(CatalogApp, "catalog")
    catalog.import_all()
    app = open_submissions()
    app.submit_batch([command(key="o1"), command(key="o2"), command(portal="03460006", key="o3", service_id="meldebescheinigung")],
                     lambda portal, service_id: Offering.from_catalog(catalog.resolve(portal, service_id)))
    catalog.close()
    publisher = ConfirmingPublisher(amqp_uri)
    relay = Relay(app, ReadStore("submissions"), map_notification, source="submissions", batch_size=1)
    relay.run_once(publisher)  # one event published: the relay lags behind by the rest
    publisher.close()
    head = app.recorder.max_notification_id()

    code, out = run(capsys, "--json", "tenants")
    assert {"ags": "03460009", "name": "Vechta", "kind": "gemeinde"}.items() <= next(
        t for t in json.loads(out) if t["ags"] == "03460009").items()

    code, out = run(capsys, "--json", "positions")
    positions = {(p["kind"], p["name"]): p for p in json.loads(out)}
    assert positions[("relay", "submissions")]["position"] == 1 and positions[("relay", "submissions")]["lag"] == head - 1
    assert positions[("consumer", "notifications")]["lag"] == head

    code, out = run(capsys, "rebuild", "--tenant", "03460009")
    assert code == 0 and "rebuilt all" in out and "03460009" in out
    rows = ReadStore("submissions").query("SELECT tenant FROM worklist")  # only Vechta's were rebuilt
    assert sorted(tenant for (tenant,) in rows) == ["03460009", "03460009"]

    target = tmp_path / "vechta.jsonl"
    assert run(capsys, "export", "03460009", "--output", str(target))[0] == 0
    exported = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    submitted = [e for e in exported if e["topic"].endswith("Case.Submitted")]
    assert len(submitted) == 2 and all(e["data"]["tenant"] == "03460009" for e in submitted)
    assert all(e["data"].get("tenant", "03460009") == "03460009" for e in exported)
    assert any(e["service"] == "catalog" for e in exported)  # the tenant and its offerings
    app.close()
