"""The KPI page of a municipality at ``/verwaltung/{ags}/kennzahlen`` (issue #15): usage and
acceptance numbers of a period as charts and as tables, for its tenant admins (and
operators); who may see them the gateway decides (``GET /api/v1/tenants/{ags}/kpis``).

The charts are SVG drawn here on the server — readable without JavaScript, no inline
style (the CSP forbids it), each with a title and description; every number they show is
also in a table next to them, for screen readers and for copying.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.i18n import N_
from services.web.pages import api, not_found, render, require_login, web_of

#: The series of the daily chart: (field of a day row, label, colour).
DAILY_SERIES = (
    ("drafts_started", N_("Entwürfe begonnen"), "#8aa9c9"),
    ("submissions", N_("Anträge eingegangen"), "#1d4f91"),
    ("decisions", N_("Entschieden"), "#2e7d32"),
)
CSV_COLUMNS = (
    "date", "tenant", "service_id", "drafts_started", "drafts_submitted", "submissions", "decisions",
    "payments_succeeded", "payments_failed", "payments_refunded",
)
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 260, 40, 40, 16


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str  # the bar's tooltip (<title>), e.g. "3. Dez.: 4 Anträge eingegangen"


def period_of(request: Request, today: date | None = None) -> tuple[str, str]:
    """``von``/``bis`` from the query (ISO dates), else the last 30 days."""
    last = today or date.today()
    first = last - timedelta(days=29)
    args = request.query_params

    def day(name: str, default: date) -> str:
        try:
            return date.fromisoformat(args.get(name, "")[:10]).isoformat()
        except ValueError:
            return default.isoformat()

    return day("von", first), day("bis", last)


def daily_totals(days: list[dict[str, Any]], first: str, last: str) -> list[dict[str, Any]]:
    """One row per day of the period (days without events too), summed over services."""
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    totals = {(start + timedelta(days=n)).isoformat(): dict.fromkeys((s for s, _, _ in DAILY_SERIES), 0)
              for n in range((end - start).days + 1)}
    for row in days:
        if row["date"] in totals:
            for series in totals[row["date"]]:
                totals[row["date"]][series] += int(row.get(series) or 0)
    return [{"date": day, **counts} for day, counts in totals.items()]


def daily_chart(rows: list[dict[str, Any]], texts: Any) -> dict[str, Any]:
    """Grouped bars per day; the y axis from 0 to a round maximum with four grid lines."""
    peak = max([row[s] for row in rows for s, _, _ in DAILY_SERIES] + [1])
    top = peak if peak <= 4 else ((peak + 3) // 4) * 4
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(rows), 1)
    bar_w = max(slot * 0.8 / len(DAILY_SERIES), 1.0)
    bars, ticks = [], []
    for i, row in enumerate(rows):
        for j, (series, label, colour) in enumerate(DAILY_SERIES):
            height = plot_h * row[series] / top
            bars.append(Bar(round(LEFT + i * slot + slot * 0.1 + j * bar_w, 1), round(TOP + plot_h - height, 1),
                            round(bar_w, 1), round(height, 1), colour,
                            f"{texts.date(row['date'], 'medium')}: {row[series]} {texts.gettext(label)}"))
        if len(rows) <= 10 or i % max(len(rows) // 6, 1) == 0:
            ticks.append({"x": round(LEFT + i * slot + slot / 2, 1), "label": texts.date(row["date"], "short")})
    grid = [{"y": round(TOP + plot_h - plot_h * k / 4, 1), "value": texts.number(round(top * k / 4, 1))} for k in range(5)]
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "ticks": ticks, "grid": grid, "left": LEFT,
            "right": WIDTH - 8, "baseline": TOP + plot_h,
            "legend": [{"label": label, "colour": colour} for _, label, colour in DAILY_SERIES]}


def duration_chart(services: list[dict[str, Any]], names: dict[str, Any], texts: Any) -> dict[str, Any] | None:
    """Horizontal bars per service: median and 90th percentile of the days to a decision,
    with the published processing time as a mark."""
    rows = [s for s in services if s.get("decision_days_median") is not None]
    if not rows:
        return None
    peak = max([max(s["decision_days_p90"] or 0, s.get("processing_days") or 0) for s in rows] + [1])
    label_w, row_h, plot_w = 220, 34, WIDTH - 220 - 16
    items = []
    for i, s in enumerate(rows):
        y = TOP + i * row_h
        name = texts.pick(names.get(s["service_id"], {}).get("name")) or s["service_id"]
        items.append({
            "name": name, "y": y, "text_y": y + 14,
            "median": Bar(label_w, y, round(plot_w * s["decision_days_median"] / peak, 1), 10, "#1d4f91",
                          texts.gettext("%(name)s: Median %(days)s Tage", name=name, days=texts.number(s["decision_days_median"]))),
            "p90": Bar(label_w, y + 12, round(plot_w * s["decision_days_p90"] / peak, 1), 10, "#8aa9c9",
                       texts.gettext("%(name)s: 90 %% innerhalb von %(days)s Tagen", name=name, days=texts.number(s["decision_days_p90"]))),
            "target_x": round(label_w + plot_w * s["processing_days"] / peak, 1) if s.get("processing_days") else None,
        })
    return {"width": WIDTH, "height": TOP + len(rows) * row_h + 8, "items": items, "label_w": label_w}


async def kpi_page(request: Request) -> Response:
    require_login(request)
    ags = request.path_params["ags"]
    web = web_of(request)
    tenant = await web.tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    first, last = period_of(request)
    service = request.query_params.get("leistung", "")[:64]
    params = {"from": first, "to": last, **({"service": service} if service else {})}
    body = await api(request, "GET", f"/api/v1/tenants/{ags}/kpis", params=params)
    catalog = (await api(request, "GET", "/api/v1/services"))["items"]
    names = {s["service_id"]: s for s in catalog}
    texts = web.texts(request.state.lang)
    daily = daily_totals(body["days"], body["from"], body["to"])
    query = urlencode({"von": body["from"], "bis": body["to"], **({"leistung": service} if service else {})})
    return render(request, "kpis.html", staff_area=True, tenant_ctx=tenant, kpis=body, daily=daily,
                  chart=daily_chart(daily, texts), durations=duration_chart(body["services"], names, texts),
                  names=names, services=catalog, service=service, first=body["from"], last=body["to"],
                  csv_url=f"/verwaltung/{ags}/kennzahlen.csv?{query}")


async def kpi_csv(request: Request) -> Response:
    """The ``days`` rows of the period as a CSV download (the same columns as the API's CSV)."""
    require_login(request)
    ags = request.path_params["ags"]
    if await web_of(request).tenant_by_ags(ags) is None:
        return not_found(request)
    first, last = period_of(request)
    service = request.query_params.get("leistung", "")[:64]
    body = await api(request, "GET", f"/api/v1/tenants/{ags}/kpis",
                     params={"from": first, "to": last, **({"service": service} if service else {})})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([row.get(c, "") for c in CSV_COLUMNS] for row in body["days"])
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="kennzahlen-{ags}-{body["from"]}-{body["to"]}.csv"'})


routes = [
    Route("/verwaltung/{ags:str}/kennzahlen", kpi_page, methods=["GET"]),
    Route("/verwaltung/{ags:str}/kennzahlen.csv", kpi_csv, methods=["GET"]),
]
