"""Gateway service (nameko ``@http``): the HTTP API for citizens and clerks.

A thin interface: parse and check the request, call the owning service, map errors once.
Submissions go through the :class:`SubmitBatcher` (group commit); everything else is one
RPC. The OpenAPI description is ``contracts/openapi.yaml``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import eventlet
from jsonschema import Draft202012Validator
from nameko.rpc import RpcProxy
from nameko.web.handlers import http
from werkzeug.wrappers import Request, Response

from services.common import logs
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability
from services.common.problems import DomainError
from services.gateway.batching import SubmitBatcher
from services.gateway.catalog_routes import CatalogRoutes
from services.gateway.http import (
    Principal,
    endpoint,
    json_response,
    problem_response,
    query_choice,
    query_int,
    read_json,
)
from services.submissions.domain import Status

SUBMIT_SCHEMA = Draft202012Validator(
    {
        "type": "object",
        "required": ["service_id", "form_data"],
        "additionalProperties": False,
        "properties": {
            "service_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
            "form_version": {"type": "integer", "minimum": 1},
            "form_data": {"type": "object"},
            "applicant": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "email": {"type": "string", "maxLength": 254},
                    "phone": {"type": "string", "maxLength": 50},
                },
            },
        },
    }
)
AGS = re.compile(r"^\d{8}$")
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
ROUTES = (
    ("GET", re.compile(r"^/api/v1/tenants/[^/]+/services$")),
    ("GET", re.compile(r"^/api/v1/tenants/[^/]+/offerings/[^/]+$")),
    ("GET", re.compile(r"^/api/v1/(themenfelder|themenfelder/[^/]+/lebenslagen|lebenslagen/[^/]+/leistungen|leistungen/[^/]+)$")),
    ("POST", re.compile(r"^/api/v1/admin/tenants$")),
    ("PATCH", re.compile(r"^/api/v1/admin/tenants/[^/]+$")),
    ("PUT", re.compile(r"^/api/v1/admin/tenants/[^/]+/offerings/[^/]+$")),
    ("DELETE", re.compile(r"^/api/v1/admin/tenants/[^/]+/offerings/[^/]+$")),
    ("POST", re.compile(r"^/api/v1/tenants/[^/]+/cases$")),
    ("GET", re.compile(r"^/api/v1/tenants/[^/]+/worklist$")),
    ("GET", re.compile(r"^/api/v1/tenants(/[^/]+)?$")),
    ("GET", re.compile(r"^/api/v1/services(/[^/]+)?$")),
    ("GET", re.compile(r"^/api/v1/cases/[^/]+$")),
    ("POST", re.compile(r"^/api/v1/cases/[^/]+/actions/[^/]+$")),
    ("GET", re.compile(r"^/health/(live|ready)$")),
)

logs.configure("gateway")


def _check_ags(ags: str) -> str:
    if not AGS.match(ags):
        raise DomainError("unknown_tenant", ags=ags[:20])
    return ags


class TenantCache:
    """Which tenants exist, refreshed from the catalog every 30 seconds."""

    def __init__(self) -> None:
        self.loaded_at = 0.0
        self.tenants: dict[str, dict[str, Any]] = {}

    def get(self, catalog: Any, ags: str) -> dict[str, Any]:
        _check_ags(ags)
        if ags not in self.tenants or time.monotonic() - self.loaded_at > 30:
            self.tenants = {t["ags"]: t for t in catalog.list_tenants()}
            self.loaded_at = time.monotonic()
        if ags not in self.tenants:
            raise DomainError("unknown_tenant", ags=ags)
        return self.tenants[ags]

    def forget(self) -> None:
        self.loaded_at = 0.0


class GatewayService(CatalogRoutes):
    name = "gateway"

    submissions = RpcProxy("submissions")
    catalog = RpcProxy("catalog")
    submit = SubmitBatcher()
    observability = Observability("gateway", 9100)
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()
    tenants = TenantCache()

    # -- citizens ----------------------------------------------------------------------------
    @http("POST", "/api/v1/tenants/<ags>/cases")
    @endpoint("submit_case")
    def submit_case(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        _check_ags(ags)
        body = read_json(request)
        errors = sorted(SUBMIT_SCHEMA.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            raise DomainError("invalid_request", detail="; ".join(_describe(e) for e in errors[:5]))
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise DomainError("invalid_idempotency_key")
        command = {
            "portal": ags,
            "service_id": body["service_id"],
            "form_version": body.get("form_version"),
            "form_data": body["form_data"],
            "applicant": body.get("applicant", {}),
            "principal": principal.subject,
            "idempotency_key": key or uuid.uuid4().hex,
            "correlation_id": logs.current_correlation_id(),
        }
        result = self.submit(command)
        if "error" in result:
            error = result["error"]
            return problem_response(error["code"], lang, request.path, **error["params"])
        case = result["case"]
        headers = {"Location": f"/api/v1/cases/{case['case_id']}"}
        if result.get("replayed"):
            headers["Idempotent-Replayed"] = "true"
        return json_response(_case_links(case), 201, headers, lang)

    @http("GET", "/api/v1/cases/<case_id>")
    @endpoint("get_case")
    def get_case(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        return json_response(_case_links(self.submissions.case_status(case_id)), lang=lang)

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

    # -- clerks -----------------------------------------------------------------------------
    @http("GET", "/api/v1/tenants/<ags>/worklist")
    @endpoint("worklist")
    def worklist(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        service = request.args.get("service_id")
        query = {
            "state": query_choice(request, "state", ("open", "closed", "all"), "open"),
            "status": query_choice(request, "status", tuple(s.value for s in Status), None),
            "service_ids": [service[:64]] if service else None,
            "assignee": (request.args.get("assignee") or None),
            "sort": query_choice(request, "sort", ("submitted_at", "due_date", "reference"), "submitted_at"),
            "order": query_choice(request, "order", ("asc", "desc"), "asc"),
            "limit": query_int(request, "limit", 50, 1, 500),
            "cursor": request.args.get("cursor") or None,
        }
        page = self.submissions.worklist(ags, query)
        return json_response({"tenant": ags, **page}, lang=lang)

    @http("POST", "/api/v1/cases/<case_id>/actions/<action>")
    @endpoint("case_action")
    def case_action(self, request: Request, case_id: str, action: str, lang: str, principal: Principal) -> Response:
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        payload = read_json(request) if has_body else {}
        if not isinstance(payload, dict):
            raise DomainError("invalid_request", detail="JSON-Objekt erwartet / JSON object expected")
        case = self.submissions.act(case_id, action[:64], payload, principal.subject)
        return json_response(_case_links(case), lang=lang)

    # -- operations ---------------------------------------------------------------------------
    @http("GET", "/health/live")
    @endpoint("health_live")
    def health_live(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response({"status": "ok"})

    @http("GET", "/health/ready")
    @endpoint("health_ready")
    def health_ready(self, request: Request, lang: str, principal: Principal) -> Response:
        checks = {}
        for name, proxy in (("catalog", self.catalog), ("submissions", self.submissions)):
            try:
                with eventlet.Timeout(2):
                    checks[name] = "ok" if proxy.ping() == name else "unexpected"
            except (Exception, eventlet.Timeout):  # noqa: BLE001 - any failure means not ready
                checks[name] = "unavailable"
        ready = all(v == "ok" for v in checks.values())
        return json_response({"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503)

    @http("GET,POST,PUT,PATCH,DELETE", "/<path:path>")
    @endpoint("not_found")
    def not_found(self, request: Request, path: str, lang: str, principal: Principal) -> Response:
        known = [method for method, pattern in ROUTES if pattern.match(request.path)]
        if known:
            response = problem_response("method_not_allowed", lang, request.path)
            response.headers["Allow"] = ", ".join(sorted(set(known)))
            return response
        return problem_response("not_found", lang, request.path)


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "body"
    return f"{where}: {error.message}"[:300]


def _case_links(case: dict[str, Any]) -> dict[str, Any]:
    return {**case, "links": {"self": f"/api/v1/cases/{case['case_id']}"}}
