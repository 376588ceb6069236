"""Gateway service (nameko ``@http``): the HTTP API for citizens and clerks.

A thin interface: parse and check the request, call the owning service, map errors once.
Submissions go through the :class:`SubmitBatcher` (group commit); everything else is one
RPC. The OpenAPI description is ``contracts/openapi.yaml``.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import eventlet
from nameko.events import BROADCAST, event_handler
from nameko.rpc import RpcProxy
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from services.common import logs
from services.common.authz import Principal
from services.common.nameko_deps import Config, Correlation, EntrypointMetrics, Observability
from services.common.problems import DomainError
from services.gateway.auth import Authenticator, every_refresh_interval
from services.gateway.auth_routes import AuthRoutes
from services.gateway.batching import SubmitBatcher
from services.gateway.case_routes import CaseRoutes, check_ags
from services.gateway.catalog_routes import CatalogRoutes
from services.gateway.council_routes import CouncilRoutes
from services.gateway.draft_routes import DraftRoutes
from services.gateway.handover_routes import HandoverRoutes
from services.gateway.http import endpoint, http, json_response, problem_response, query_int
from services.gateway.kpi_routes import KpiRoutes
from services.gateway.message_routes import MessageRoutes
from services.gateway.pages import PageRoutes
from services.gateway.payment_routes import PaymentRoutes
from services.gateway.postbox_routes import PostboxRoutes
from services.gateway.rule_routes import RuleRoutes
from services.gateway.staff_routes import StaffRoutes

CATCH_ALL = "/<path:path>"
log = logs.get_logger("gateway")


def route_map(service_cls: type) -> Map:
    """Every HTTP route of the service (but the catch-all), to tell 404 from 405."""
    rules = []
    for _, method in inspect.getmembers(service_cls, inspect.isfunction):
        for entrypoint in getattr(method, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler) and entrypoint.url != CATCH_ALL:
                rules.append(Rule(entrypoint.url, methods=entrypoint.method.split(",")))
    return Map(rules)


class TenantCache:
    """Which tenants exist, refreshed from the catalog every 30 seconds."""

    def __init__(self) -> None:
        self.loaded_at = 0.0
        self.tenants: dict[str, dict[str, Any]] = {}

    def get(self, catalog: Any, ags: str) -> dict[str, Any]:
        check_ags(ags)
        if ags not in self.tenants or time.monotonic() - self.loaded_at > 30:
            self.tenants = {t["ags"]: t for t in catalog.list_tenants()}
            self.loaded_at = time.monotonic()
        if ags not in self.tenants:
            raise DomainError("unknown_tenant", ags=ags)
        return self.tenants[ags]

    def forget(self) -> None:
        self.loaded_at = 0.0


class GatewayConfig(Config):
    """The settings; at start (logging is set up by then) a loud warning when no reverse
    proxy is trusted, because the per-address limits of login and registration then see
    every caller behind a proxy as the proxy."""

    def start(self) -> None:
        if not self.settings.trusted_proxies:
            log.warning(
                "trusted_proxies_unset",
                detail="TRUSTED_PROXIES is empty: each caller counts as the address it connects from. Behind a "
                "reverse proxy every caller shares the proxy's address, so the per-address limits of login "
                "and registration throttle all users together. Set TRUSTED_PROXIES to the proxy's addresses.",
            )


class GatewayService(
    CaseRoutes, DraftRoutes, PaymentRoutes, MessageRoutes, PostboxRoutes, CatalogRoutes, AuthRoutes, StaffRoutes,
    PageRoutes, CouncilRoutes, RuleRoutes, KpiRoutes, HandoverRoutes,
):
    name = "gateway"

    submissions = RpcProxy("submissions")
    catalog = RpcProxy("catalog")
    identity = RpcProxy("identity")
    payments = RpcProxy("payments")
    notifications = RpcProxy("notifications")
    council = RpcProxy("council")
    rules = RpcProxy("rules")
    insights = RpcProxy("insights")
    handover = RpcProxy("handover")
    submit = SubmitBatcher()
    auth = Authenticator()
    config = GatewayConfig()
    observability = Observability("gateway")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()
    tenants = TenantCache()

    @event_handler("identity", "sessions_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_sessions_revoked(self, payload: dict[str, Any]) -> None:
        """Logout, a replayed refresh token, lock, deletion, a revoked grant or a new
        password void tokens before they expire (a missed one comes with the next refresh)."""
        until = float(payload.get("until") or time.time() + 3600)
        if payload.get("session_id"):
            self.auth.revoke_session(payload["session_id"], until)
        if payload.get("account_id"):
            self.auth.revoke_subject(payload["account_id"], float(payload["at"]), until)

    @every_refresh_interval
    def refresh_keys_and_revocations(self) -> None:
        """Identity's public keys and the revocations from its event store: at start and
        every GATEWAY_REFRESH_INTERVAL seconds."""
        try:
            with eventlet.Timeout(10):
                self.auth.refresh(self.identity)
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - keep what is known, try again next time
            log.warning("identity_refresh_failed", error=repr(exc)[:300])

    @http("GET", "/api/v1/tenants")
    @endpoint("list_tenants")
    def list_tenants(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response({"items": self.catalog.list_tenants()}, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>")
    @endpoint("get_tenant")
    def get_tenant(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        return json_response(self.tenants.get(self.catalog, ags), lang=lang)

    @http("GET", "/api/v1/services")
    @endpoint("list_services")
    def list_services(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response({"items": self.catalog.list_services()}, lang=lang)

    @http("GET", "/api/v1/services/<service_id>")
    @endpoint("get_service")
    def get_service(self, request: Request, service_id: str, lang: str, principal: Principal) -> Response:
        version = query_int(request, "version", 0, 0, 10_000) or None
        return json_response(self.catalog.get_definition(service_id[:64], version), lang=lang)

    # -- operations ---------------------------------------------------------------------------
    @http("GET", "/health/live")
    @endpoint("health_live")
    def health_live(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response({"status": "ok"})

    @http("GET", "/health/ready")
    @endpoint("health_ready")
    def health_ready(self, request: Request, lang: str, principal: Principal) -> Response:
        checks = {}
        for name, proxy in (("catalog", self.catalog), ("identity", self.identity), ("submissions", self.submissions)):
            try:
                with eventlet.Timeout(2):
                    checks[name] = "ok" if proxy.ping() == name else "unexpected"
            except (Exception, eventlet.Timeout):  # noqa: BLE001 - any failure means not ready
                checks[name] = "unavailable"
        ready = all(v == "ok" for v in checks.values())
        return json_response({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)

    @http("GET,POST,PUT,PATCH,DELETE", CATCH_ALL)
    @endpoint("not_found")
    def not_found(self, request: Request, path: str, lang: str, principal: Principal) -> Response:
        try:
            ROUTE_MAP.bind("gateway").match(request.path, method=request.method)
        except MethodNotAllowed as exc:
            response = problem_response("method_not_allowed", lang, request.path)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
            return response
        except NotFound:
            pass
        return problem_response("not_found", lang, request.path)


ROUTE_MAP = route_map(GatewayService)

