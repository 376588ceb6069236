"""Applications on every event-store backend: in-memory (POPO), SQLite and PostgreSQL."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.catalog.application import CatalogApp
from services.catalog.definitions import DEFINITIONS_DIR
from services.common import db
from services.common.amqp import EXCHANGE, connect
from services.submissions.application import SubmissionsApp
from services.submissions.commands import Offering, SubmitCommand
from tests import support
from tests.examples import FORMS, form
from tests.identity_support import AppFactory, new_keyset, open_factory
from tests.psp_support import Merchant, PspProcess, Receiver, psp_process
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


@pytest.fixture(scope="module")
def keyset():
    """Token keys for identity applications."""
    return new_keyset("k-2030-a")


@pytest.fixture(params=["popo", "sqlite", "postgres"])
def apps(request: pytest.FixtureRequest, clock: Clock, keyset) -> Iterator[AppFactory]:
    """A factory of identity applications on one backend; they share its storage."""
    yield from open_factory(request, request.param, clock, keyset)


@pytest.fixture
def app(apps: AppFactory):
    """An identity application."""
    return apps()


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


# -- the PSP simulator (a real process) and a real receiver of its webhooks --------------------
@pytest.fixture(scope="module")
def psp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PspProcess]:
    with psp_process(tmp_path_factory.mktemp("psp")) as process:
        yield process


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def merchant(psp: PspProcess, receiver: Receiver) -> Iterator[Merchant]:
    """A merchant of its own (so no other test's webhooks reach ``receiver``); the chaos
    switches are back at zero afterwards."""
    created = psp.merchant(receiver)
    yield created
    created.http.close()
    psp.chaos(**dict.fromkeys(("duplicate_rate", "delay", "out_of_order_rate", "drop_rate", "status_error_rate",
                               "late_success_rate", "refund_failure_rate"), 0))


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


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch, backend: str) -> Iterator[dict]:
    """A real SMTP server (the development sink's handler) on a free port, set as SMTP_*;
    ``controller`` may be stopped and set to None by a test that takes the server away."""
    from services.notifications.sink import Mailbox, start_smtp

    port = support.free_port()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    mailbox = Mailbox()
    server = {"mailbox": mailbox, "port": port, "controller": start_smtp(mailbox, "127.0.0.1", port)}
    yield server
    if server["controller"] is not None:
        server["controller"].stop()


@pytest.fixture
def notifications_app(backend: str) -> Any:
    """The notifications application on the backend's store."""
    from services.notifications.application import open_notifications

    return open_notifications()


@pytest.fixture(autouse=True)
def _release_connections() -> Iterator[None]:
    """Collect each test's unreachable applications at once: their pools' PostgreSQL
    connections otherwise lingered until a later garbage collection, and the run held ~40 of
    CI's 100 beside the shared e2e platform's ~55."""
    yield
    gc.collect()
