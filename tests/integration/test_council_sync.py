"""The OParl sync against the real development OParl server (its own process): a full and
an incremental sync on SQLite and PostgreSQL, German search, a source answering 500s and
broken JSON, invalid objects skipped and counted, and a slow source that does not hold up
another tenant's sync."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from services.common.config import CouncilSettings
from services.common.db import ReadStore
from services.council import metrics
from services.council.application import CouncilApp
from services.council.projections import CouncilStore
from services.council.sync import SourceError, Worker, sync_tenant
from tests.support import OparlServer, eventually, isolate, oparl_server

CLOPPENBURG, VECHTA = "03453004", "03460009"
FAST = CouncilSettings(request_interval=0, backoff=0.05, attempts=2, request_timeout=5, page_size=7)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OparlServer]:
    with oparl_server(tmp_path_factory.mktemp("oparl")) as running:
        yield running


@pytest.fixture
def store(backend: str) -> Iterator[CouncilStore]:
    found = CouncilStore(ReadStore("council"))
    yield found
    found.close()


@pytest.fixture
def sqlite_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[CouncilStore]:
    """The failure cases do not depend on the database: SQLite only, to keep the suite short."""
    isolate(monkeypatch, tmp_path, None)
    found = CouncilStore(ReadStore("council"))
    yield found
    found.close()


def now() -> str:
    return datetime.now(UTC).isoformat()


def test_a_full_then_an_incremental_sync(server: OparlServer, store: CouncilStore, backend: str) -> None:
    with httpx.Client() as client:
        full = sync_tenant(store, client, FAST, CLOPPENBURG, server.system_url)
        assert (full["incremental"], full["organizations"], full["meetings"], full["papers"], full["skipped"]) == (
            False, 3, 20, 40, 0)
        assert full["requests"] >= 2 + 1 + 3 + 6  # system, bodies, organizations (1 page), meetings (3), papers (6)
        assert store.counts(CLOPPENBURG) == {"organizations": 3, "meetings": 20, "papers": 40, "consultations": 40}
        upcoming = store.meetings(CLOPPENBURG, now(), upcoming=True, limit=50)
        past = store.meetings(CLOPPENBURG, now(), upcoming=False, limit=50)
        assert len(upcoming) + len(past) == 20 and upcoming and past
        assert upcoming == sorted(upcoming, key=lambda m: m["start"])
        committee = upcoming[0]["organizations"][0]["id"]
        assert all(committee in [o["id"] for o in m["organizations"]]
                   for m in store.meetings(CLOPPENBURG, now(), True, organization=committee))
        meeting = store.meeting(CLOPPENBURG, upcoming[0]["id"])
        assert meeting["agenda"][0]["number"] == "1" and meeting["agenda"][1]["papers"]
        assert meeting["files"][0]["access_url"].startswith(server.url)
        paper = store.paper(CLOPPENBURG, meeting["agenda"][1]["papers"][0]["id"])
        assert paper["consultations"][0]["meeting"]["id"] == meeting["id"] and paper["files"]

        server.touch("paper", 3, "Sanierung der Grundschule Galgenmoor – geänderte Vorlage")
        server.touch("meeting", 2, "2. Sitzung – verlegt")
        again = sync_tenant(store, client, FAST, CLOPPENBURG, server.system_url)
        assert (again["incremental"], again["organizations"], again["meetings"], again["papers"]) == (True, 0, 1, 1)
        assert store.counts(CLOPPENBURG)["papers"] == 40
        found = store.search(CLOPPENBURG, "geänderte VORLAGE")
        assert [(f["kind"], f["name"]) for f in found] == [("paper", "Sanierung der Grundschule Galgenmoor – geänderte Vorlage")]
        assert any(f["name"] == "2. Sitzung – verlegt" for f in store.search(CLOPPENBURG, "verlegt"))
        assert store.search(CLOPPENBURG, "Haushalt")  # part of a compound word: Haushaltssatzung
        if backend == "postgres":  # German word forms: Sitzungen → Sitzung
            assert {f["kind"] for f in store.search(CLOPPENBURG, "Sitzungen")} == {"meeting"}
        state = store.status(CLOPPENBURG)
        assert state["configured"] and not state["stale"] and state["body_name"] == "Stadt Cloppenburg"


def test_500s_and_broken_json_fail_the_run_but_keep_the_data(tmp_path: Path, sqlite_store: CouncilStore) -> None:
    with oparl_server(tmp_path) as server, httpx.Client() as client:
        sync_tenant(sqlite_store, client, FAST, CLOPPENBURG, server.system_url)
        good = sqlite_store.status(CLOPPENBURG)["last_success_at"]
        server.chaos(fail_rate=1)
        with pytest.raises(SourceError, match="HTTP 500"):
            sync_tenant(sqlite_store, client, FAST, CLOPPENBURG, server.system_url)
        assert sqlite_store.status(CLOPPENBURG) | {"last_attempt_at": None} == {
            "configured": True, "body_name": "Stadt Cloppenburg", "last_success_at": good, "last_attempt_at": None,
            "stale": True}
        assert sqlite_store.counts(CLOPPENBURG)["meetings"] == 20  # the last good data stays
        server.chaos(fail_rate=0, malformed_rate=1)
        with pytest.raises(SourceError, match="malformed JSON"):
            sync_tenant(sqlite_store, client, FAST, CLOPPENBURG, server.system_url)
        assert sqlite_store.sync_state(CLOPPENBURG)["last_error"].endswith("malformed JSON")
        server.chaos(malformed_rate=0)
        sync_tenant(sqlite_store, client, FAST, CLOPPENBURG, server.system_url)
        assert not sqlite_store.status(CLOPPENBURG)["stale"]


def test_invalid_objects_are_skipped_counted_and_logged(tmp_path: Path, sqlite_store: CouncilStore,
                                                        capfd: pytest.CaptureFixture[str]) -> None:
    before = {kind: metrics.SKIPPED.labels(kind)._value.get() for kind in ("Meeting", "Paper")}
    with oparl_server(tmp_path, bad_objects="1") as server, httpx.Client() as client:
        figures = sync_tenant(sqlite_store, client, FAST, CLOPPENBURG, server.system_url)
    assert (figures["meetings"], figures["papers"], figures["skipped"]) == (20, 40, 4)
    assert {kind: metrics.SKIPPED.labels(kind)._value.get() - before[kind] for kind in before} == {"Meeting": 2, "Paper": 2}
    assert sqlite_store.sync_state(CLOPPENBURG)["skipped"] == 4
    logged = capfd.readouterr()
    assert f"{server.url}/oparl/v1/paper/998" in logged.err + logged.out and "council_object_skipped" in logged.err + logged.out


def test_a_slow_source_does_not_hold_up_another_tenants_sync(tmp_path: Path, sqlite_store: CouncilStore) -> None:
    settings = CouncilSettings(request_interval=0, attempts=2, backoff=0.1, request_timeout=1, run_deadline=30,
                               sync_interval=60)
    app = CouncilApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    with oparl_server(tmp_path / "slow", delay="4") as slow, oparl_server(tmp_path / "fast") as fast:
        app.configure_source(VECHTA, slow.system_url, "admin", "c-1")
        app.configure_source(CLOPPENBURG, fast.system_url, "admin", "c-2")
        worker = Worker(app, sqlite_store, settings)
        try:
            worker.reconcile()
            eventually(lambda: sqlite_store.status(CLOPPENBURG)["last_success_at"], timeout=30)
            assert sqlite_store.counts(CLOPPENBURG)["meetings"] == 20
            assert sqlite_store.status(VECHTA)["last_success_at"] is None  # still waiting for its first answer
            eventually(lambda: sqlite_store.sync_state(VECHTA)["last_error"], timeout=30)
            assert "timed out" in sqlite_store.sync_state(VECHTA)["last_error"] and sqlite_store.counts(VECHTA)["meetings"] == 0
            app.configure_source(VECHTA, None, "admin", "c-3")  # no source any more: its loop ends, its data goes
            worker.reconcile()
            assert set(worker.loops) == {CLOPPENBURG}
        finally:
            worker.stop()
