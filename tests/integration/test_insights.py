"""The KPI read model (services/insights) on SQLite and PostgreSQL: counts by hand, a
redelivered batch and v1+v2 of a decision change nothing, a rebuild gives the same."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from services.common.db import ReadStore
from services.insights.projections import KpiReadModel
from services.insights.report import percentile, report
from services.insights.service import period

AGS, OTHER = "03460027", "03460009"


def envelope(kind: str, aggregate: str, at: str, version: int = 1, tenant: str = AGS, service: str = "hundesteuer",
             position: int = 1, **data) -> dict:
    return {"event_id": str(uuid.uuid4()), "type": kind, "occurred_at": at, "tenant": tenant, "service_id": service,
            "aggregate_id": aggregate, "aggregate_version": version, "position": position, "actor": "x",
            "correlation_id": "c", "data": data}


def history() -> list[dict]:
    case1, case2, case3, draft1, draft2, pay = (str(uuid.uuid4()) for _ in range(6))
    return [
        envelope("draft.started.v1", draft1, "2026-11-02T08:00:00+00:00", page="antrag"),
        envelope("draft.saved.v1", draft1, "2026-11-02T08:05:00+00:00", version=2, page="anlagen"),
        envelope("draft.submitted.v1", draft1, "2026-11-02T08:10:00+00:00", version=3, case_id=case1),
        envelope("draft.started.v1", draft2, "2026-11-02T09:00:00+00:00", page="antrag"),
        envelope("draft.saved.v1", draft2, "2026-11-02T09:01:00+00:00", version=2, page="halter"),
        envelope("case.submitted.v1", case1, "2026-11-02T08:10:00+00:00", submitted_at="2026-11-02T08:10:00+00:00", processing_days=14),
        envelope("case.submitted.v1", case2, "2026-11-02T10:00:00+00:00", submitted_at="2026-11-02T10:00:00+00:00", processing_days=14),
        envelope("case.submitted.v1", case3, "2026-10-01T10:00:00+00:00", submitted_at="2026-10-01T10:00:00+00:00", processing_days=14),
        envelope("case.information_requested.v2", case2, "2026-11-03T10:00:00+00:00", version=3, due_date="2026-11-20"),
        envelope("case.approved.v1", case1, "2026-11-04T08:10:00+00:00", version=3),
        envelope("case.approved.v2", case1, "2026-11-04T08:10:00+00:00", version=3),
        envelope("case.rejected.v2", case2, "2026-11-12T10:00:00+00:00", version=5),
        envelope("payment.failed.v1", pay, "2026-11-02T23:30:00+00:00", version=3, position=7, case_id=case1, reason="x"),
        envelope("payment.succeeded.v1", pay, "2026-11-03T09:00:00+00:00", version=4, position=8, case_id=case1),
        envelope("draft.started.v1", str(uuid.uuid4()), "2026-11-02T09:00:00+00:00", tenant=OTHER),
    ]


def check(body: dict) -> None:
    (row,) = body["services"]
    assert row["tenant"] == AGS and row["service_id"] == "hundesteuer"
    assert (row["drafts_started"], row["drafts_submitted"], row["draft_completion_rate"]) == (2, 1, 0.5)
    assert row["drop_off_pages"] == {"halter": 1}
    assert (row["submissions"], row["decisions"], row["approved"], row["rejected"]) == (2, 2, 1, 1)
    assert row["decided_without_information_request"] == 1 and row["share_without_information_request"] == 0.5
    assert (row["decision_days_median"], row["decision_days_p90"], row["processing_days"]) == (2.0, 10.0, 14)
    assert row["decided_within_processing_time"] == 2
    # case3 (1 October) is still open at the end of November and past its 14 days
    assert (row["backlog"], row["overdue"]) == (1, 1)
    # 23:30 UTC on 2 November is 3 November in Berlin
    assert (row["payments_failed"], row["payments_succeeded"], row["payments_refunded"]) == (1, 1, 0)
    days = {d["date"]: d for d in body["days"]}
    assert days["2026-11-02"]["submissions"] == 2 and days["2026-11-02"]["drafts_started"] == 2
    assert days["2026-11-03"]["payments_failed"] == 1 and days["2026-11-03"]["payments_succeeded"] == 1
    assert days["2026-11-04"]["decisions"] == 1 and days["2026-11-12"]["decisions"] == 1


def test_kpis_by_hand_idempotent_and_rebuilt(backend) -> None:
    model = KpiReadModel(ReadStore("insights"))
    events = history()
    model.apply(events[:7])
    model.apply(events)  # a redelivered batch (and v1 + v2 of the approval)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    body = report(model.facts(AGS, None), date(2026, 11, 1), date(2026, 11, 30), now=now)
    check(body)
    assert model.positions() == {"submissions": 1, "payments": 8}
    assert report(model.facts(AGS, "other-service"), date(2026, 11, 1), date(2026, 11, 30), now=now)["services"] == []
    model.rebuild(reversed(events), tenant=AGS)  # another order, one tenant
    check(report(model.facts(AGS, None), date(2026, 11, 1), date(2026, 11, 30), now=now))
    assert report(model.facts(OTHER, None), date(2026, 11, 1), date(2026, 11, 30), now=now)["total"]["drafts_started"] == 1
    model.close()


def test_percentile_and_period() -> None:
    assert percentile([], 0.5) is None
    assert percentile([3, 1, 2], 0.5) == 2 and percentile(list(range(1, 11)), 0.9) == 9
    assert period("2026-11-01", "2026-11-30") == (date(2026, 11, 1), date(2026, 11, 30))
    assert period(None, "2026-11-30")[0] == date(2026, 11, 1)
    for bad in (("2026-11-30", "2026-11-01"), ("2025-01-01", "2026-11-30"), ("gestern", None)):
        with pytest.raises(Exception) as caught:
            period(*bad)
        assert getattr(caught.value, "code", None) == "invalid_parameter"
