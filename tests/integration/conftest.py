"""Applications on every event-store backend: in-memory (POPO), SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.catalog.application import CatalogApp
from services.catalog.definitions import DEFINITIONS_DIR
from services.common import db
from services.common.amqp import EXCHANGE, connect
from services.submissions.application import SubmissionsApp
from services.submissions.commands import Offering, SubmitCommand
from tests import support
from tests.examples import FORMS, form
from tests.support import Clock


@pytest.fixture(params=["popo", "sqlite", "postgres"])
def store_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pg_env) -> Iterator[Callable[[str], dict[str, str]]]:
    """A factory of eventsourcing settings per service, on the parametrised backend."""
    prefix = support.isolate(monkeypatch, tmp_path, pg_env if request.param == "postgres" else None)

    def env(service: str) -> dict[str, str]:
        if request.param == "popo":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        from services.common.db import ensure_schema

        ensure_schema(service)
        return db.eventstore_env(service)

    env.backend = request.param  # type: ignore[attr-defined]
    yield env
    if request.param == "postgres":
        support.drop_schemas(prefix)


@pytest.fixture
def catalog(store_env, tmp_path: Path) -> CatalogApp:
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    for path in DEFINITIONS_DIR.glob("*.json"):
        (definitions / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    app = CatalogApp(store_env("catalog"))
    app.import_definitions(definitions)
    app.import_tenants()
    app.sync_offerings()
    app.definitions_dir = definitions  # type: ignore[attr-defined]
    return app


@pytest.fixture
def resolve(catalog: CatalogApp) -> Callable[[str, str], Offering]:
    return lambda portal, service_id: Offering.from_catalog(catalog.resolve(portal, service_id))


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))


@pytest.fixture
def submissions(store_env, clock: Clock) -> SubmissionsApp:
    return SubmissionsApp(store_env("submissions"), clock=clock)


def command(portal: str = "03460009", key: str = "k1", service_id: str = "hundeanmeldung", **changes) -> SubmitCommand:
    data = {
        "portal": portal,
        "service_id": service_id,
        "form_data": form(service_id) if service_id in FORMS else {},
        "applicant": {"name": "Erika Mustermann"},
        "principal": "citizen:erika",
        "idempotency_key": key,
        "correlation_id": "corr-" + key,
        "form_version": None,
        "trust_level": "high",
    }
    data.update(changes)
    return SubmitCommand(**data)


def publish_new_version(catalog: CatalogApp, service_id: str, adopt: bool = False, **changes) -> int:
    path = catalog.definitions_dir / f"{service_id}.json"  # type: ignore[attr-defined]
    definition = json.loads(path.read_text(encoding="utf-8"))
    definition["version"] += 1
    definition.update(changes)
    path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    assert catalog.import_definitions(path.parent) == [f"{service_id}@{definition['version']}"]
    if adopt:
        catalog.sync_offerings()
    return definition["version"]


@pytest.fixture
def observe(amqp_uri: str) -> Iterator[Callable[[str], Callable[[], list[dict]]]]:
    """``observe(routing_key)`` binds a queue of this test's own to ``vr.events`` and returns
    ``drain()``: the events published since, each checked to be persistent."""
    conn = connect(amqp_uri)
    channel = conn.channel()
    channel.exchange_declare(EXCHANGE, "topic", durable=True, auto_delete=False)
    queues: list[str] = []

    def bind(routing_key: str) -> Callable[[], list[dict]]:
        queue = f"test.observer.{uuid.uuid4().hex[:8]}"
        channel.queue_declare(queue, durable=False, auto_delete=False)
        channel.queue_bind(queue, EXCHANGE, routing_key=routing_key)
        queues.append(queue)

        def drain() -> list[dict]:
            received = []
            while (message := channel.basic_get(queue, no_ack=True)) is not None:
                assert message.properties["delivery_mode"] == 2
                received.append(json.loads(message.body))
            return received

        return drain

    yield bind
    for queue in queues:
        channel.queue_delete(queue)
    conn.close()
