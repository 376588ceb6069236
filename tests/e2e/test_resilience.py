"""Crashes and redeliveries, proven rather than hoped for.

The relay is killed (SIGKILL) after the broker confirmed a batch but before the relay
recorded its position; the projector is killed inside its batch transaction, before it
acked. Both moments are made to last by holding a lock on the table the worker writes
next (``relay_position``, ``projection_tracking``) and are seen before the kill: the
worker's session waits for that lock. A queue of the test's own on the events exchange
records every delivery, so the unrecorded batch shows up twice there (at-least-once);
the read models must still hold each event once — one timeline entry per case version, a
list a broken dedupe would grow."""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from unittest import mock

import httpx
import psycopg
import pytest

from services.common.amqp import ConfirmingPublisher, connect, declare_topology
from services.common.contracts import event_id
from services.submissions.integration import to_envelope
from services.submissions.partitioning import open_case_store
from services.submissions.projector import QUEUE as PROJECTOR_QUEUE
from tests import support
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import BAKUM, LOHNE, VECHTA, client_for, eventually
from tests.examples import form
from tests.support import Platform

TENANTS = (VECHTA, LOHNE, BAKUM)
#: the tenants whose cases the relay of case partition 0 (``relay``) publishes (tests/e2e/conftest.py
#: pins them there; Vechta's go through ``relay-p1``): the test below stops and kills that relay
RELAY_0_TENANTS = (LOHNE, BAKUM)
OBSERVER = "test.resilience.observer"


def worklist_all(client: httpx.Client, ags: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"state": "all", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/tenants/{ags}/worklist", params=params).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def submit_one(base_url: str, ags: str, headers: dict[str, str]) -> dict:
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as http:
        response = http.post(
            f"/api/v1/tenants/{ags}/cases",
            json={"service_id": "hundeanmeldung", "form_data": form()},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        return response.json()


def alive(running: Platform, *names: str) -> bool:
    """True while the workers run; one that died fails the test at once, with its log."""
    for name in names:
        if running.procs[name].poll() is not None:
            raise AssertionError(f"{name} exited: {running.tail(name)}")
    return True


class Observer:
    """A queue of the test's own bound to the events exchange: every delivery, duplicates included."""

    def __init__(self, uri: str):
        self.conn = connect(uri)
        self.channel = self.conn.channel()
        declare_topology(self.channel, {OBSERVER: ["case.#"]})
        self.deliveries: list[dict[str, Any]] = []

    def drain(self) -> Counter[str]:
        """Deliveries per event id so far."""
        while (message := self.channel.basic_get(OBSERVER, no_ack=True)) is not None:
            self.deliveries.append(json.loads(message.body))
        return Counter(e["event_id"] for e in self.deliveries)

    def positions(self, event_ids: set[str]) -> list[int]:
        return [e["position"] for e in self.deliveries if e["event_id"] in event_ids]

    def ready(self, queue: str) -> int:
        """Messages waiting in ``queue`` (delivered-but-unacked ones count once their consumer is gone)."""
        return self.channel.queue_declare(queue, passive=True).message_count

    def close(self) -> None:
        self.channel.queue_delete(OBSERVER)
        self.conn.close()


class ReadSide:
    """The submissions read store, read directly: through the service, its read-your-writes
    fallback would fold the case from the event store and hide a wrong projection."""

    def __init__(self, prefix: str):
        self.schema = f"{prefix}submissions"
        self.conn = psycopg.connect(support.conninfo(), autocommit=True)
        self.conn.execute(f'SET search_path TO "{self.schema}"')

    def relay_position(self) -> int:
        """The position the relay recorded (0 before its first batch)."""
        query = "SELECT coalesce(max(position), 0) FROM relay_position WHERE source = 'submissions'"
        return self.conn.execute(query).fetchone()[0]

    def projected(self) -> int:
        """The position both projections have applied (and committed) up to."""
        return self.conn.execute("SELECT coalesce(min(position), 0) FROM projection_tracking").fetchone()[0]

    def waiting_for(self, table: str) -> bool:
        """Whether a session (the worker's: nothing else writes ``table``) waits for its lock."""
        row = self.conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass(%s)", (f'"{self.schema}".{table}',)
        ).fetchone()
        return row[0] > 0

    @contextmanager
    def locked(self, table: str) -> Iterator[None]:
        """Hold ``table`` so that a worker about to write it waits there, inside its batch."""
        with psycopg.connect(support.conninfo()) as conn:
            conn.execute(f'LOCK TABLE "{self.schema}".{table} IN EXCLUSIVE MODE')
            try:
                yield
            finally:
                conn.rollback()

    def projected_case(self, case_id: str) -> dict[str, Any] | None:
        """The case as the projections hold it: the case_status fold state and the worklist row."""
        state = self.conn.execute("SELECT state FROM case_status WHERE case_id = %s", (case_id,)).fetchone()
        row = self.conn.execute("SELECT status, version FROM worklist WHERE case_id = %s", (case_id,)).fetchone()
        if state is None or row is None:
            return None
        folded = json.loads(state[0])
        return {
            "steps": [entry["step"] for entry in folded["timeline"]],
            "version": folded["version"],
            "worklist": {"status": row[0], "version": row[1]},
        }

    def close(self) -> None:
        self.conn.close()


@pytest.fixture(scope="module")
def applicant(accounts: Accounts) -> Account:
    return accounts.citizen()


@pytest.fixture(scope="module")
def staff(running: Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    """A clerk (team lead) of all three towns."""
    account = accounts.staff([(ags, "team_lead", ["*"]) for ags in TENANTS])
    with client_for(running, account) as http:
        yield http


@pytest.fixture
def observer(running: Platform) -> Iterator[Observer]:
    watching = Observer(running.env["AMQP_URI"])
    yield watching
    watching.close()


@pytest.fixture
def read_side(running: Platform) -> Iterator[ReadSide]:
    side = ReadSide(running.env["VR_SCHEMA_PREFIX"])
    yield side
    side.close()
    for name in Platform.PLAIN:  # whatever happened, later tests find the workers running
        if name not in running.procs or running.procs[name].poll() is not None:
            running.start(name)


def test_relay_and_projector_killed_mid_batch(
    running: Platform, applicant: Account, staff: httpx.Client, observer: Observer, read_side: ReadSide
) -> None:
    # 60 submissions wait in the event store while the relay is stopped
    running.kill("relay", signal.SIGTERM)
    with ThreadPoolExecutor(max_workers=8) as pool:
        cases = list(pool.map(lambda i: submit_one(running.base_url, RELAY_0_TENANTS[i % 2], applicant.headers), range(60)))
    ids = [case["case_id"] for case in cases]
    batch = {event_id(uuid.UUID(case_id), 1) for case_id in ids}

    # the relay publishes them as one batch, the broker confirms it, and the relay is killed
    # while it waits to record its position; the projector has applied the batch meanwhile
    recorded = read_side.relay_position()
    with read_side.locked("relay_position"):
        running.start("relay")
        eventually(
            lambda: alive(running, "relay") and read_side.waiting_for("relay_position") and batch <= set(observer.drain()),
            timeout=120,
        )
        eventually(lambda: alive(running, "projector") and read_side.projected() >= max(observer.positions(batch)), timeout=120)
        running.kill("relay")
    assert read_side.relay_position() == recorded < min(observer.positions(batch))  # published, never recorded

    # clerks decide a third of the cases while the relay is down: events behind the lost batch
    expected = {case_id: ["submitted"] for case_id in ids}
    for number, case_id in enumerate(ids[:20]):
        assert staff.post(f"/api/v1/cases/{case_id}/actions/start-review", json={"clerk": "Frau Meyer"}).status_code == 200
        action, payload = ("approve", {"decision": "ok"}) if number % 2 else ("reject", {"reason": "unvollständig"})
        assert staff.post(f"/api/v1/cases/{case_id}/actions/{action}", json=payload).status_code == 200
        expected[case_id] += ["review_started", "approved" if action == "approve" else "rejected"]
    events = {event_id(uuid.UUID(c), v) for c, steps in expected.items() for v in range(1, len(steps) + 1)}

    # the restarted relay publishes the batch again, then the decisions; the projector takes
    # them and is killed inside its transaction, before it acked anything
    applied, seen = read_side.projected(), len(observer.deliveries)
    with read_side.locked("projection_tracking"):
        running.start("relay")

        def relayed_again_and_projector_stuck() -> bool:
            counts = observer.drain()
            return alive(running, "relay", "projector") and (
                all(counts[e] >= 2 for e in batch) and events <= set(counts)
                and read_side.relay_position() >= max(observer.positions(events))
                and read_side.waiting_for("projection_tracking")
            )

        eventually(relayed_again_and_projector_stuck, timeout=120)
        running.kill("projector")
    observer.drain()
    republished = len(observer.deliveries) - seen
    eventually(lambda: observer.ready(PROJECTOR_QUEUE) == republished, timeout=60)  # none acked: all back
    assert read_side.projected() == applied  # its batch transaction died with it

    # the restarted projector gets them all back, redelivered (the batch for the third time)
    running.start("projector")
    last = max(observer.positions(events))
    eventually(
        lambda: alive(running, "projector") and read_side.projected() >= last and observer.ready(PROJECTOR_QUEUE) == 0,
        timeout=120,
    )

    # at-least-once: the raw deliveries show the unrecorded batch twice
    counts = observer.drain()
    assert sorted({counts[e] for e in batch}) == [2]
    # exactly once where it counts: one timeline entry per event, in every read model
    for case_id, steps in expected.items():
        assert read_side.projected_case(case_id) == {
            "steps": steps, "version": len(steps), "worklist": {"status": steps[-1], "version": len(steps)},
        }, case_id
    shown = {row["case_id"]: row["status"] for ags in TENANTS for row in worklist_all(staff, ags)}
    assert {case_id: shown.get(case_id) for case_id in ids} == {case_id: steps[-1] for case_id, steps in expected.items()}


def settled(case: dict) -> tuple[dict, list[str]]:
    """A case view apart from its mails, and the mails by kind: their delivery states (and the
    time of the last change) move on by themselves, but a second mail would still show."""
    steps = [step for step in case["timeline"] if step["step"] != "message"]
    mails = sorted(step["text"].split(":")[0] for step in case["timeline"] if step["step"] == "message")
    return {**case, "timeline": steps}, mails


def test_a_redelivered_event_changes_nothing(
    running: Platform, applicant: Account, staff: httpx.Client, read_side: ReadSide
) -> None:
    client = staff
    case = submit_one(running.base_url, VECHTA, applicant.headers)
    case_id = case["case_id"]
    client.post(f"/api/v1/cases/{case_id}/actions/start-review", json={"clerk": "Herr Schulz"})
    client.post(f"/api/v1/cases/{case_id}/actions/approve", json={"decision": "ok"})
    before = eventually(lambda: (s := client.get(f"/api/v1/cases/{case_id}").json())["status"] == "approved" and s)
    eventually(lambda: (read_side.projected_case(case_id) or {}).get("version") == 3)

    # deliver every event of the case again, in order and out of order
    with mock.patch.dict(os.environ, {k: v for k, v in running.env.items() if k.startswith(("POSTGRES", "VR_", "CASE_"))}):
        app = open_case_store()
        events = [to_envelope(event, None) for event in app.case_events(case_id)]
        app.close()
    publisher = ConfirmingPublisher(running.env["AMQP_URI"])
    try:
        publisher.publish_batch(events + list(reversed(events)))
    finally:
        publisher.close()

    # a later case proves the projector has consumed everything published before it
    sentinel = submit_one(running.base_url, VECHTA, applicant.headers)
    eventually(lambda: any(r["case_id"] == sentinel["case_id"] for r in worklist_all(client, VECHTA)))
    # the same case; its mails may have moved on in delivery (sent, deferred …), but none is new
    assert settled(client.get(f"/api/v1/cases/{case_id}").json()) == settled(before)
    assert read_side.projected_case(case_id) == {
        "steps": ["submitted", "review_started", "approved"], "version": 3,
        "worklist": {"status": "approved", "version": 3},
    }
