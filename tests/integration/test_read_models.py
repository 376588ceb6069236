"""Worklist and case-status read models on SQLite and PostgreSQL: folding, idempotency,
filters, keyset pagination and rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest

from services.common.db import ReadStore
from services.common.problems import DomainError
from services.submissions import rebuilding
from services.submissions.domain import Case
from services.submissions.integration import to_envelope
from services.submissions.projections import CaseReadModels

META = {"actor": "clerk", "correlation_id": "c"}
position = iter(range(1, 1_000_000))


def make_case(tenant: str = "03460009", service_id: str = "hundeanmeldung", number: int = 1, day: int = 1) -> Case:
    return Case.submit(
        uuid4(), tenant=tenant, portal=tenant, service_id=service_id, ozg_id="1", leika_key="2", form_version=1,
        fee_cents=0, processing_days=14, reference=f"T{tenant[-2:]}-2026-{number:06d}", applicant_ref="citizen:1",
        applicant={}, form_data={}, submitted_at=datetime(2026, 11, day, 8, 0, tzinfo=UTC).isoformat(),
        request_hash="h", **META,
    )


def envelopes(case: Case) -> list[dict]:
    return [to_envelope(event, next(position)) for event in case.collect_events()]


@pytest.fixture
def models(backend: str) -> CaseReadModels:
    return CaseReadModels(ReadStore("submissions"))


def rows(models: CaseReadModels) -> list[tuple]:
    return sorted(models.store.query("SELECT * FROM worklist")) + sorted(models.store.query("SELECT * FROM case_status"))


def test_events_fold_into_worklist_and_status(models: CaseReadModels) -> None:
    case = make_case()
    first = envelopes(case)
    case.start_review("Frau Meyer", **META)
    case.request_information("Impfpass?", date(2026, 12, 31), **META)
    later = envelopes(case)
    assert models.apply(first + later) == 3
    state = models.case_state(str(case.id))
    assert state["status"] == "information_requested" and state["assignee"] == "Frau Meyer"
    assert [step["step"] for step in state["timeline"]] == ["submitted", "review_started", "information_requested"]
    (item,) = models.worklist("03460009", now=datetime(2026, 11, 25, tzinfo=UTC))["items"]
    assert item["due_date"] == "2026-12-31" and item["status_text"] == "Rückfrage offen" and item["age_days"] == 23
    assert models.positions() == {"worklist": later[-1]["position"], "case_status": later[-1]["position"]}


def test_redelivered_and_stale_events_change_nothing(models: CaseReadModels) -> None:
    case = make_case()
    submitted = envelopes(case)
    case.start_review("Frau Meyer", **META)
    case.approve("ok", **META)
    decided = envelopes(case)
    models.apply(submitted + decided)
    before = rows(models)
    assert models.apply(decided) == 0  # the same batch again
    assert models.apply(submitted) == 0  # an old event arriving late
    assert models.apply(list(reversed(submitted + decided))) == 0
    assert rows(models) == before


def test_an_event_without_its_case_is_never_invented(models: CaseReadModels) -> None:
    case = make_case()
    case.collect_events()
    case.withdraw("weg", **META)
    assert models.apply(envelopes(case)) == 0
    assert models.case_state(str(case.id)) is None


def test_worklist_filters_sorts_and_pages_inside_the_query(models: CaseReadModels) -> None:
    batch = []
    cases = []
    for number in range(1, 13):
        case = make_case(service_id="gewerbeanmeldung" if number % 3 == 0 else "hundeanmeldung", number=number, day=number)
        if number % 4 == 0:
            case.start_review("Herr Schulz", **META)
        if number == 12:
            case.approve("ok", **META)
        cases.append(case)
        batch.extend(envelopes(case))
    other = make_case(tenant="03460006", number=1)
    batch.extend(envelopes(other))
    models.apply(batch)

    open_items = models.worklist("03460009", limit=100)["items"]
    assert len(open_items) == 11 and all(i["case_id"] != str(other.id) for i in open_items)
    assert [i["submitted_at"] for i in open_items] == sorted(i["submitted_at"] for i in open_items)
    assert len(models.worklist("03460009", state="closed")["items"]) == 1
    assert len(models.worklist("03460009", state="all", limit=100)["items"]) == 12
    assert {i["service_id"] for i in models.worklist("03460009", service_ids=["gewerbeanmeldung"])["items"]} == {"gewerbeanmeldung"}
    assert models.worklist("03460009", service_ids=[])["items"] == []
    assert {i["assignee"] for i in models.worklist("03460009", assignee="Herr Schulz")["items"]} == {"Herr Schulz"}
    assert all(i["assignee"] is None for i in models.worklist("03460009", assignee="none")["items"])
    assert {i["status"] for i in models.worklist("03460009", status="in_review")["items"]} == {"in_review"}

    for sort in ("submitted_at", "due_date", "reference"):
        for order in ("asc", "desc"):
            seen, cursor = [], None
            while True:
                page = models.worklist("03460009", sort=sort, order=order, limit=4, cursor=cursor)
                seen.extend(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    break
            keys = [(i[sort], i["case_id"]) for i in seen]
            assert keys == sorted(keys, reverse=order == "desc")
            assert len({i["case_id"] for i in seen}) == len(seen) == 11
    with pytest.raises(DomainError):
        models.worklist("03460009", sort="due_date", cursor=models.worklist("03460009", limit=1)["next_cursor"])


def test_rebuild_gives_the_same_rows_for_all_or_one_tenant(models: CaseReadModels) -> None:
    history = []
    for tenant in ("03460009", "03460006"):
        for number in range(1, 4):
            case = make_case(tenant=tenant, number=number, day=number)
            history.extend(envelopes(case))
            case.start_review("X", **META)
            history.extend(envelopes(case))
    models.apply(history)
    live = rows(models)
    assert models.rebuild(history, head=history[-1]["position"]) == len(history)
    assert rows(models) == live
    models.store.query("UPDATE worklist SET status = 'broken' WHERE tenant = '03460006'")
    models.rebuild(history, tenant="03460006")
    assert rows(models) == live
    models.rebuild(history, projections=("worklist",))
    assert rows(models) == live


def test_a_rebuild_bounded_in_memory_gives_the_same_rows(models: CaseReadModels, monkeypatch) -> None:
    """With room for two cases only (and three events per look), states are written out and read back mid-rebuild: the
    rows are the same as the live fold's, also when a case's events lie far apart."""
    cases = [make_case(number=n, day=n) for n in range(1, 8)]
    history = [e for case in cases for e in envelopes(case)]
    for k, case in enumerate(cases):  # later events of the first cases come after all submissions
        case.start_review("Frau Meyer", **META)
        if k % 2:
            case.approve("Bewilligt.", **META)
        history.extend(envelopes(case))
    models.apply(history)
    live = rows(models)
    monkeypatch.setattr(rebuilding, "REBUILD_CHUNK", 3)
    assert models.rebuild(history, head=history[-1]["position"], max_states=2) == len(history)
    assert rows(models) == live


def test_a_whole_rebuild_on_postgresql_swaps_in_tables_with_the_same_indexes(postgres: str) -> None:
    """A full rebuild (PostgreSQL; SQLite rebuilds in place) fills new tables and swaps them in: afterwards the
    tables have the same indexes under the same names (a second rebuild, and the live projector's DDL, find what
    they expect)."""
    models = CaseReadModels(ReadStore("submissions"))
    history = [e for n in range(1, 4) for e in envelopes(make_case(number=n, day=n))]
    models.apply(history)
    live = rows(models)
    indexes = "SELECT tablename, indexname, regexp_replace(indexdef, '\\S+\\.', '') FROM pg_indexes " \
              "WHERE schemaname = current_schema() AND tablename IN ('worklist', 'case_status') ORDER BY 2"
    before = models.store.query(indexes)
    for _ in range(2):
        assert models.rebuild(history, head=history[-1]["position"]) == len(history)
        assert rows(models) == live
        assert models.store.query(indexes) == before
    assert not models.store.query("SELECT tablename FROM pg_tables WHERE right(tablename, 8) = '_rebuilt'")
    assert [i["reference"] for i in models.worklist("03460009")["items"]] == ["T09-2026-000001", "T09-2026-000002", "T09-2026-000003"]
    models.close()
