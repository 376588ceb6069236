"""``GET /api/v1/kpis`` (every tenant's KPIs together) on the gateway over real HTTP, its
neighbours replaced: only operators get it, the insights service is asked for all tenants
(``tenant`` None) with the period and service filter, the undelivered messages of all
tenants are added; JSON or CSV; bad periods from insights come back as problem+json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from nameko.testing.services import replace_dependencies

from services.gateway.service import GatewayService
from tests.interface.conftest import VECHTA
from tests.interface.test_gateway_service import AUDIENCE, ISSUER, TENANT_ROWS, Issuer, Neighbours, is_problem, remote

REPORT = {"tenant": None, "service": None, "from": "2026-11-01", "to": "2026-11-30", "timezone": "Europe/Berlin",
          "total": {"submissions": 3}, "services": [{"tenant": VECHTA, "service_id": "hundeanmeldung", "submissions": 3}],
          "days": [{"date": "2026-11-02", "tenant": VECHTA, "service_id": "hundeanmeldung", "drafts_started": 0,
                    "drafts_submitted": 0, "submissions": 3, "decisions": 0, "payments_succeeded": 0,
                    "payments_failed": 0, "payments_refunded": 0}]}


@pytest.fixture
def gateway(container_factory, nameko_config: dict[str, Any], web_base_url: str, monkeypatch) -> Iterator[tuple[Neighbours, Any, Any]]:
    monkeypatch.setenv("IDENTITY_TOKEN_ISSUER", ISSUER)
    monkeypatch.setenv("IDENTITY_TOKEN_AUDIENCE", AUDIENCE)
    GatewayService.tenants.forget()
    issuer = Issuer()
    container = container_factory(GatewayService, nameko_config)
    *mocks, insights, notifications = replace_dependencies(
        container, "submissions", "catalog", "identity", "submit", "insights", "notifications")
    neighbours = Neighbours(container, web_base_url, issuer, mocks)
    neighbours.identity.jwks.return_value = issuer.jwks()
    neighbours.identity.recent_revocations.return_value = {"horizon": 630, "sessions": {}, "subjects": {}}
    neighbours.catalog.list_tenants.return_value = TENANT_ROWS
    insights.kpis.return_value = REPORT
    notifications.undelivered.return_value = {"pending": 1, "failed": 2}
    container.start()
    yield neighbours, insights, notifications
    container.stop()
    GatewayService.tenants.forget()


def test_operators_read_every_tenants_kpis_together(gateway) -> None:
    alone, insights, notifications = gateway
    operator = alone.issuer.token("operator")
    response = alone.get("/api/v1/kpis", operator, params={"from": "2026-11-01", "to": "2026-11-30", "service": "hundeanmeldung"})
    assert response.status_code == 200, response.text
    assert response.json() == {**REPORT, "messages_undelivered": {"pending": 1, "failed": 2}}
    assert insights.kpis.call_args.args == (None, "2026-11-01", "2026-11-30", "hundeanmeldung")
    assert notifications.undelivered.call_args.args == (None,)

    csv = alone.get("/api/v1/kpis", operator, headers={"Accept": "text/csv"})
    assert csv.status_code == 200 and csv.headers["Content-Type"].startswith("text/csv")
    assert csv.text.splitlines()[1].startswith(f"2026-11-02,{VECHTA},hundeanmeldung,0,0,3")
    assert 'filename="kennzahlen-alle-2026-11-01-2026-11-30.csv"' in csv.headers["Content-Disposition"]

    insights.kpis.side_effect = remote("invalid_parameter", name="from/to", detail="ISO")
    is_problem(alone.get("/api/v1/kpis", operator, params={"from": "gestern"}), 400, "invalid_parameter")


def test_nobody_else_reads_them(gateway) -> None:
    alone, insights, _ = gateway
    admin = alone.issuer.token("tenant_admin", [(VECHTA, "tenant_admin", ["*"])])
    is_problem(alone.get("/api/v1/kpis", admin), 403, "forbidden")
    is_problem(alone.get("/api/v1/kpis", alone.issuer.token("clerk", [(VECHTA, "team_lead", ["*"])])), 403, "forbidden")
    is_problem(alone.get("/api/v1/kpis", alone.issuer.token("citizen")), 403, "forbidden")
    is_problem(alone.get("/api/v1/kpis"), 401, "unauthenticated")
    insights.kpis.assert_not_called()
