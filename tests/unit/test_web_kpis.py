"""The KPI page's server-side charts (services/web/kpis.py): every day of the period is a
column group, bars scale to the axis, the duration chart marks the published processing time."""

from __future__ import annotations

from services.web.i18n import Texts, load_catalogs
from services.web.kpis import DAILY_SERIES, daily_chart, daily_totals, duration_chart


def texts() -> Texts:
    return Texts("de", load_catalogs()["de"])


def test_daily_totals_fill_every_day_and_sum_services() -> None:
    days = [{"date": "2026-11-02", "service_id": "a", "drafts_started": 2, "submissions": 1, "decisions": 0},
            {"date": "2026-11-02", "service_id": "b", "drafts_started": 0, "submissions": 3, "decisions": 1},
            {"date": "2026-12-01", "service_id": "b", "drafts_started": 9, "submissions": 9, "decisions": 9}]
    rows = daily_totals(days, "2026-11-01", "2026-11-03")
    assert [r["date"] for r in rows] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert rows[1] == {"date": "2026-11-02", "drafts_started": 2, "submissions": 4, "decisions": 1}

    chart = daily_chart(rows, texts())
    assert len(chart["bars"]) == 3 * len(DAILY_SERIES)
    tallest = max(chart["bars"], key=lambda bar: bar.height)
    assert tallest.y == 16 and "4 Anträge eingegangen" in tallest.label  # the axis' top is the peak (4)
    assert all(bar.height == 0 for bar in chart["bars"][:3])  # 1 November: nothing
    assert [g["value"] for g in chart["grid"]] == ["0", "1", "2", "3", "4"]


def test_duration_chart_only_for_decided_services_with_the_target_mark() -> None:
    services = [{"service_id": "a", "decision_days_median": 2.0, "decision_days_p90": 10.0, "processing_days": 14},
                {"service_id": "b", "decision_days_median": None, "decision_days_p90": None, "processing_days": 7}]
    chart = duration_chart(services, {"a": {"name": {"de": "Hund anmelden"}}}, texts())
    (item,) = chart["items"]
    assert item["name"] == "Hund anmelden"
    assert item["median"].width < item["p90"].width and item["target_x"] > item["p90"].x + item["p90"].width
    assert duration_chart(services[1:], {}, texts()) is None
