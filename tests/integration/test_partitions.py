"""The case event store in two partitions on real PostgreSQL and RabbitMQ: commands routed
to the tenant's partition (and, by the id alone, back to it), each partition relayed by its
own relay into the same worklist, and a rebuild from both giving the same read model."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from services.common.amqp import BatchConsumer, ConfirmingPublisher
from services.common.db import ReadStore
from services.common.partitions import partition_of_id, partition_of_position, schema_name
from services.common.relay import Relay
from services.ops import platform
from services.submissions.integration import map_notification
from services.submissions.partitioning import CaseStore, open_case_store
from services.submissions.projections import CaseReadModels
from services.submissions.projector import rebuild
from tests import support
from tests.examples import form
from tests.integration.conftest import command

VECHTA, LOHNE = "03460009", "03460006"


@pytest.fixture
def store(postgres, monkeypatch) -> CaseStore:
    monkeypatch.setenv("CASE_PARTITIONS", "2")
    monkeypatch.setenv("CASE_PARTITION_MAP", f"{VECHTA}:1,{LOHNE}:0")
    opened = open_case_store()
    yield opened
    opened.close()


@pytest.fixture
def resolve_pg(postgres):
    from services.catalog.application import CatalogApp
    from services.submissions.commands import Offering

    catalog = CatalogApp({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    catalog.import_definitions()
    catalog.import_tenants()
    catalog.sync_offerings()
    return lambda portal, service_id: Offering.from_catalog(catalog.resolve(portal, service_id))


def submit_both(store: CaseStore, resolve_pg) -> tuple[str, str]:
    results = store.submit_batch(
        [command(VECHTA, key="p1"), command(LOHNE, key="p2", service_id="meldebescheinigung")], resolve_pg
    )
    return results[0]["case"]["case_id"], results[1]["case"]["case_id"]


def test_commands_go_to_the_tenants_partition_and_find_it_by_the_case_id(store, resolve_pg) -> None:
    vechta, lohne = submit_both(store, resolve_pg)
    assert (partition_of_id(vechta), partition_of_id(lohne)) == (1, 0)
    assert store.apps[1].recorder.select_events(uuid.UUID(vechta)) and not store.apps[0].recorder.select_events(uuid.UUID(vechta))
    assert store.apps[0].recorder.select_events(uuid.UUID(lohne)) and not store.apps[1].recorder.select_events(uuid.UUID(lohne))

    store.act(vechta, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c-act")  # routed by the id alone
    assert store.get_case(vechta).status.value == "in_review" and store.case_version(vechta) == 2
    again = store.submit_batch([command(VECHTA, key="p1")], resolve_pg)[0]  # a retry finds the case in its partition
    assert again == {"case": {**again["case"], "case_id": vechta}, "replayed": True}
    assert sorted(store.applicant_case_ids("citizen:erika")) == sorted([vechta, lohne])

    # a draft (partition 0) submitted to Vechta: the case in partition 1, the draft marked submitted
    files = store.files
    offering = resolve_pg(VECHTA, "hundeanmeldung")
    draft = files.start_draft(offering, VECHTA, "citizen:erika", form("hundeanmeldung"), "check", "citizen:erika", "c-d")
    submitted = store.submit_batch([command(VECHTA, key="", draft_id=draft["draft_id"], form_data={})], resolve_pg)[0]
    assert partition_of_id(submitted["case"]["case_id"]) == 1
    assert files.get_draft(draft["draft_id"], "citizen:erika").case_id == submitted["case"]["case_id"]
    replay = store.submit_batch([command(VECHTA, key="", draft_id=draft["draft_id"], form_data={})], resolve_pg)[0]
    assert replay["replayed"] and replay["case"]["case_id"] == submitted["case"]["case_id"]


def test_a_tenant_moved_to_another_partition_numbers_on(store, resolve_pg, monkeypatch) -> None:
    first = store.submit_batch([command(VECHTA, key="m1")], resolve_pg)[0]["case"]
    monkeypatch.setenv("CASE_PARTITION_MAP", f"{VECHTA}:0")
    moved = open_case_store()
    try:
        second = moved.submit_batch([command(VECHTA, key="m2")], resolve_pg)[0]["case"]
        assert (partition_of_id(first["case_id"]), partition_of_id(second["case_id"])) == (1, 0)
        assert first["reference"].endswith("-000001") and second["reference"].endswith("-000002")
        assert moved.get_case(first["case_id"]).reference == first["reference"]  # old cases stay where they are
    finally:
        moved.close()


def test_both_partitions_reach_the_worklist_through_their_relays_and_rebuild_alike(store, resolve_pg, amqp_uri) -> None:
    vechta, lohne = submit_both(store, resolve_pg)
    store.act(vechta, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c-act")
    queue = f"test.partitions.{uuid.uuid4().hex[:8]}"
    publisher = ConfirmingPublisher(amqp_uri, {queue: ["case.#"]})
    consumer = BatchConsumer(queue, amqp_uri)
    models = CaseReadModels(ReadStore("submissions"))
    try:
        relays = [Relay(app, ReadStore(schema_name("submissions", app.partition)), map_notification,
                        source=schema_name("submissions", app.partition)) for app in store.apps]
        for relay in relays:
            while relay.run_once(publisher):
                pass
        assert [relay.position() for relay in relays] == [app.recorder.max_notification_id() for app in store.apps]
        events = []
        while batch := consumer.next_batch(max_size=500, wait=0.5):
            models.apply([d.body for d in batch])
            consumer.ack_through(batch[-1].delivery_tag)
            events += [d.body for d in batch]
        assert {partition_of_position(e["position"]) for e in events} == {0, 1}
        assert [i["case_id"] for i in models.worklist(VECHTA)["items"]] == [vechta]
        assert [i["case_id"] for i in models.worklist(LOHNE)["items"]] == [lohne]
        assert models.case_state(vechta)["status"] == "in_review"
        tracked = models.positions()
        assert {"worklist", "worklist_p1", "case_status", "case_status_p1"} <= set(tracked)
        assert partition_of_position(tracked["worklist_p1"]) == 1
        shown = {(p.service, p.kind, p.name): p.lag for p in platform.positions()}  # the operator's view
        assert shown[("submissions_p1", "relay", "submissions_p1")] == 0 == shown[("submissions", "projection", "worklist_p1")]

        before = snapshot(models)
        assert rebuild(progress=False) > 0
        assert snapshot(models) == before
        assert rebuild(tenant=VECHTA, progress=False) > 0 and snapshot(models) == before
    finally:
        consumer.channel.queue_delete(queue)
        consumer.close()
        publisher.close()
        models.close()


def snapshot(models: CaseReadModels) -> tuple[list, list]:
    return (
        models.store.query("SELECT case_id, tenant, status, version FROM worklist ORDER BY case_id"),
        models.store.query("SELECT case_id, tenant, version, state FROM case_status ORDER BY case_id"),
    )


def test_a_partition_on_another_server_is_written_relayed_and_rebuilt_there(postgres, pg_env, resolve_pg, amqp_uri,
                                                                             monkeypatch) -> None:
    """``CASE_PARTITION_DSN_1`` puts partition 1 in another database (here: on the same server; another host
    is the same setting): its log, sequences and relay position live only there, and every reader finds it."""
    other = f"{pg_env['POSTGRES_DBNAME']}_p1"
    support.ensure_database(other)
    monkeypatch.setenv("CASE_PARTITIONS", "2")
    monkeypatch.setenv("CASE_PARTITION_MAP", f"{VECHTA}:1,{LOHNE}:0")
    monkeypatch.setenv("CASE_PARTITION_DSN_1", support.conninfo(other))
    spread = open_case_store()
    models = CaseReadModels(ReadStore("submissions"))
    try:
        vechta, lohne = submit_both(spread, resolve_pg)
        spread.act(vechta, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c-act")
        schema = f"{postgres}submissions_p1"
        with psycopg.connect(support.conninfo(other)) as conn:
            table = spread.apps[1].recorder.events_table_name
            stored = conn.execute(f'SELECT originator_id::text FROM "{schema}"."{table}"').fetchall()
        assert {row[0] for row in stored} >= {vechta} and lohne not in {row[0] for row in stored}
        with psycopg.connect(support.conninfo()) as conn:
            assert not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()

        queue = f"test.partitions.{uuid.uuid4().hex[:8]}"
        publisher = ConfirmingPublisher(amqp_uri, {queue: ["case.#"]})
        try:
            position = ReadStore(schema_name("submissions", 1))
            relay = Relay(spread.apps[1], position, map_notification, source=schema_name("submissions", 1))
            while relay.run_once(publisher):
                pass
            assert relay.position() == spread.apps[1].recorder.max_notification_id() > 0
            assert f"dbname={other}" in position.conninfo
        finally:
            publisher.close()
            BatchConsumer(queue, amqp_uri).channel.queue_delete(queue)
        assert rebuild(progress=False) >= 3  # both partitions read, each from its own database
        assert models.case_state(vechta)["status"] == "in_review" and models.case_state(lohne)["status"] == "payment_pending"
    finally:
        models.close()
        spread.close()
        support.drop_schemas(postgres, other)
