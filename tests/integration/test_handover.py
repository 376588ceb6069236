"""The hand-over application on SQLite and PostgreSQL: leases, redelivery after a crashed
back-office client, acknowledgements, isolation between tenants, four-eyes credentials."""

from __future__ import annotations

from uuid import uuid4

import pytest

from services.common import db
from services.common.problems import DomainError
from services.handover.application import HandoverApp
from services.handover.consumer import decision_handler
from tests.support import Clock

VECHTA, LOHNE = "03460009", "03460006"


@pytest.fixture
def handover(backend: str, clock: Clock) -> HandoverApp:
    db.ensure_schema("handover")
    app = HandoverApp(db.eventstore_env("handover"), clock=clock)
    yield app
    app.close()


def decided(tenant: str = VECHTA, service_id: str = "hundeanmeldung", kind: str = "approved") -> dict:
    """A decision as the consumer receives it from ``vr.events``."""
    return {"type": f"case.{kind}.v2", "aggregate_id": str(uuid4()), "tenant": tenant, "service_id": service_id,
            "occurred_at": "2026-11-25T09:00:00+00:00", "correlation_id": "c", "data": {}}


def active_client(app: HandoverApp, tenant: str = VECHTA, keys: tuple[str, ...] = ("*",)):
    issued = app.register_client(tenant, "Fachverfahren", list(keys), "admin-a", "c")
    app.approve_client(issued["client_id"], tenant, "admin-b", "c")
    return app.authenticate(issued["client_id"], issued["client_secret"])


def test_a_crashed_client_gets_its_submissions_again_never_as_new_twice(handover: HandoverApp, clock: Clock) -> None:
    consume = decision_handler(handover)
    events = [decided() for _ in range(3)]
    assert [consume(e) for e in events] == ["offered"] * 3
    assert consume(events[0]) == "duplicate"  # a redelivered decision offers nothing new
    client = active_client(handover)
    first = handover.fetch(client, 2, "c")
    assert [s["case_id"] for s in first] == [e["aggregate_id"] for e in events[:2]]  # in order
    assert [(s["delivery"], s["redelivered"]) for s in first] == [(1, False)] * 2
    # the client crashes before acknowledging: the leased ones are not offered meanwhile
    assert [s["case_id"] for s in handover.fetch(client, 10, "c")] == [events[2]["aggregate_id"]]
    assert handover.fetch(client, 10, "c") == []
    clock.advance(handover.lease_seconds + 1)
    again = handover.fetch(client, 10, "c")
    assert sorted(s["case_id"] for s in again) == sorted(e["aggregate_id"] for e in events)
    assert all(s["redelivered"] and s["delivery"] == 2 for s in again)
    for event in events:
        handover.acknowledge(client, event["aggregate_id"], "c")
    handover.acknowledge(client, events[0]["aggregate_id"], "c")  # idempotent
    clock.advance(handover.lease_seconds + 1)
    assert handover.fetch(client, 10, "c") == []
    steps = [e["action"] for e in handover.case_log(events[0]["aggregate_id"])]
    assert steps == ["HandoverOffered", "HandoverFetched", "HandoverFetched", "HandoverAcknowledged"]
    assert handover.status(VECHTA) == {"waiting": 0, "fetched_unacknowledged": 0, "acknowledged": 3}


def test_a_client_sees_only_its_tenant_and_services(handover: HandoverApp) -> None:
    consume = decision_handler(handover)
    vechta, lohne, other = decided(VECHTA), decided(LOHNE), decided(VECHTA, "meldebescheinigung")
    for event in (vechta, lohne, other):
        consume(event)
    dogs = active_client(handover, VECHTA, ("hundeanmeldung",))
    assert [s["case_id"] for s in handover.fetch(dogs, 10, "c")] == [vechta["aggregate_id"]]
    for case_id in (lohne["aggregate_id"], other["aggregate_id"], str(uuid4())):
        with pytest.raises(DomainError) as refused:
            handover.acknowledge(dogs, case_id, "c")
        assert refused.value.code == "submission_not_found"
    lohne_client = active_client(handover, LOHNE)
    assert [s["case_id"] for s in handover.fetch(lohne_client, 10, "c")] == [lohne["aggregate_id"]]


def test_credentials_need_a_second_person_and_end_when_revoked(handover: HandoverApp) -> None:
    issued = handover.register_client(VECHTA, "Gewerberegister", ["*"], "admin-a", "c")
    assert issued["status"] == "pending" and len(issued["client_secret"]) >= 40
    with pytest.raises(DomainError, match="invalid_client"):
        handover.authenticate(issued["client_id"], issued["client_secret"])  # not approved yet
    with pytest.raises(DomainError, match="four_eyes_required"):
        handover.approve_client(issued["client_id"], VECHTA, "admin-a", "c")
    with pytest.raises(DomainError, match="handover_client_not_found"):
        handover.approve_client(issued["client_id"], LOHNE, "admin-b", "c")  # another tenant's admin
    handover.approve_client(issued["client_id"], VECHTA, "admin-b", "c")
    assert handover.authenticate(issued["client_id"], issued["client_secret"]).tenant == VECHTA
    with pytest.raises(DomainError, match="invalid_client"):
        handover.authenticate(issued["client_id"], issued["client_secret"] + "x")
    assert [c["status"] for c in handover.clients(VECHTA)] == ["active"] and handover.clients(LOHNE) == []
    handover.revoke_client(issued["client_id"], VECHTA, "admin-a", "c")
    with pytest.raises(DomainError, match="invalid_client"):
        handover.authenticate(issued["client_id"], issued["client_secret"])
