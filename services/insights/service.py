"""The insights service: a thin, read-only RPC interface over the KPI read model.

Who may read which tenant's KPIs is the gateway's decision (``authz.can_read_kpis``);
this service only answers for the tenant it is asked about.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from nameko.rpc import rpc

from services.common.config import Settings
from services.common.db import ReadStore
from services.common.nameko_deps import Config, Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError, text
from services.insights.projections import KpiReadModel
from services.insights.report import ZONE, report

#: The longest period one request may ask for.
MAX_DAYS = 366


def period(date_from: str | None, date_to: str | None, today: date | None = None) -> tuple[date, date]:
    """``from``/``to`` as dates (default: the last 30 days up to today in Berlin), checked."""
    try:
        last = date.fromisoformat(date_to) if date_to else (today or datetime.now(ZONE).date())
        first = date.fromisoformat(date_from) if date_from else last - timedelta(days=29)
    except ValueError as exc:
        raise DomainError("invalid_parameter", name="from/to", detail=text("iso_date")) from exc
    if first > last or (last - first).days >= MAX_DAYS:
        raise DomainError("invalid_parameter", name="from/to", detail=text("period_days", limit=MAX_DAYS))
    return first, last


class InsightsService:
    name = "insights"

    model: KpiReadModel = Provided(lambda: KpiReadModel(ReadStore("insights")))
    config: Settings = Config()
    observability = Observability("insights")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc(expected_exceptions=DomainError)
    def kpis(self, tenant: str | None, date_from: str | None = None, date_to: str | None = None,
             service_id: str | None = None) -> dict[str, Any]:
        first, last = period(date_from, date_to)
        body = report(self.model.facts(tenant, service_id), first, last)
        return {"tenant": tenant, "service": service_id, **body}
