"""Gateway routes of the usage and acceptance KPIs (issue #15): JSON, or CSV for a
spreadsheet — one line per day, tenant and service.

Tenant admins read their tenant's KPIs, operators every tenant's (``authz.can_read_kpis``)
and all tenants' together (``GET /api/v1/kpis``, ``authz.can_read_all_kpis``); the numbers
hold no case contents. The insights service counts them from its read model;
the messages not delivered now come from the notifications service's outbox.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response

#: The CSV's columns, in order (the JSON's ``days`` rows).
CSV_COLUMNS = (
    "date", "tenant", "service_id", "drafts_started", "drafts_submitted", "submissions", "decisions",
    "payments_succeeded", "payments_failed", "payments_refunded",
)


def kpi_csv(body: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in body.get("days", []):
        writer.writerow([row.get(column, "") for column in CSV_COLUMNS])
    return out.getvalue()


def wants_csv(request: Request) -> bool:
    accepted = request.accept_mimetypes
    return accepted.best_match(["application/json", "text/csv"]) == "text/csv" and accepted["text/csv"] > accepted["application/json"]


class KpiRoutes:
    """Mixed into GatewayService (uses its insights proxy and tenant cache)."""

    insights: Any
    notifications: Any
    catalog: Any
    tenants: Any

    def _kpis(self, request: Request, ags: str, principal: Principal) -> dict[str, Any]:
        require_login(principal)
        self.tenants.get(self.catalog, ags)
        if not authz.can_read_kpis(principal, ags):
            raise DomainError("forbidden")
        return self._report(request, ags)

    def _report(self, request: Request, tenant: str | None) -> dict[str, Any]:
        args = request.args
        service = (args.get("service") or "")[:64] or None
        body = self.insights.kpis(tenant, args.get("from") or None, args.get("to") or None, service)
        return {**body, "messages_undelivered": self.notifications.undelivered(tenant)}

    @http("GET", "/api/v1/kpis")
    @endpoint("kpis_all")
    def kpis_all(self, request: Request, lang: str, principal: Principal) -> Response:
        """Every tenant's KPIs in one report (operators): ``days`` and ``services`` rows carry
        their tenant, ``total`` is the whole deployment's; CSV on ``Accept: text/csv``."""
        require_login(principal)
        if not authz.can_read_all_kpis(principal):
            raise DomainError("forbidden")
        body = self._report(request, None)
        if wants_csv(request):
            return self._csv(body, "alle", lang)
        return json_response(body, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/kpis")
    @endpoint("kpis")
    def kpis(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """Counts per day and service, and per service over the period; CSV on ``Accept: text/csv``."""
        body = self._kpis(request, ags, principal)
        if wants_csv(request):
            return self._csv(body, ags, lang)
        return json_response(body, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/kpis.csv")
    @endpoint("kpis_csv")
    def kpis_csv(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        return self._csv(self._kpis(request, ags, principal), ags, lang)

    @staticmethod
    def _csv(body: dict[str, Any], ags: str, lang: str) -> Response:
        response = Response(kpi_csv(body), mimetype="text/csv")
        response.headers["Content-Disposition"] = f'attachment; filename="kennzahlen-{ags}-{body["from"]}-{body["to"]}.csv"'
        response.headers["Content-Language"] = lang
        return response
