"""Gateway routes of the catalog: search, browse the OZG catalog, offerings, tenant admin."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, query_choice, query_int, read_json

SEARCH_LANGUAGES = ("de", "en")  # the language of the query (and of the result names)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    return body


def _ident(value: str, name: str) -> str:
    if not value.replace("-", "").isalnum() or len(value) > 64:
        raise DomainError("invalid_parameter", name=name, detail="a-z, 0-9, -")
    return value


class CatalogRoutes:
    """Mixed into GatewayService; uses its ``catalog`` RPC proxy and ``tenants`` cache."""

    catalog: Any
    tenants: Any

    # -- finding a service ------------------------------------------------------------------
    @http("GET", "/api/v1/tenants/<ags>/services")
    @endpoint("search_services")
    def search_services(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        limit = query_int(request, "limit", 10, 1, 50)
        if "q" not in request.args:
            return json_response({"tenant": ags, "items": self.catalog.list_offerings(ags)}, lang=lang)
        query_lang = query_choice(request, "lang", SEARCH_LANGUAGES, "de")
        results = self.catalog.search(ags, request.args["q"], limit, query_lang)
        return json_response({"tenant": ags, "query": request.args["q"], "lang": query_lang, "items": results}, lang=lang)

    @http("GET", "/api/v1/search")
    @endpoint("search_all")
    def search_all(self, request: Request, lang: str, principal: Principal) -> Response:
        """The whole catalog, for no municipality in particular (``lang``: the query's language)."""
        limit = query_int(request, "limit", 10, 1, 50)
        query_lang = query_choice(request, "lang", SEARCH_LANGUAGES, "de")
        if "q" not in request.args:
            raise DomainError("invalid_query", detail=text("query_empty"))
        results = self.catalog.search_all(request.args["q"], limit, query_lang)
        return json_response({"query": request.args["q"], "lang": query_lang, "items": results}, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/offerings/<service_id>")
    @endpoint("get_offering")
    def get_offering(self, request: Request, ags: str, service_id: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        offering = self.catalog.get_offering(ags, _ident(service_id, "service_id"), request.args.get("at") or None)
        return json_response(offering, lang=lang)

    # -- browsing the OZG catalog: Themenfeld → Lebenslage → Leistung ----------------------
    @http("GET", "/api/v1/themenfelder")
    @endpoint("themenfelder")
    def themenfelder(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response({"items": self.catalog.themenfelder()}, lang=lang)

    @http("GET", "/api/v1/themenfelder/<themenfeld_id>/lebenslagen")
    @endpoint("lebenslagen")
    def lebenslagen(self, request: Request, themenfeld_id: str, lang: str, principal: Principal) -> Response:
        return json_response({"items": self.catalog.lebenslagen(themenfeld_id[:10])}, lang=lang)

    @http("GET", "/api/v1/lebenslagen/<lebenslage_id>/leistungen")
    @endpoint("leistungen")
    def leistungen(self, request: Request, lebenslage_id: str, lang: str, principal: Principal) -> Response:
        return json_response({"items": self.catalog.leistungen(lebenslage_id[:10])}, lang=lang)

    @http("GET", "/api/v1/leistungen/<ozg_id>")
    @endpoint("leistung")
    def leistung(self, request: Request, ozg_id: str, lang: str, principal: Principal) -> Response:
        return json_response(self.catalog.leistung(ozg_id[:20]), lang=lang)

    # -- administration -------------------------------------------------------------------
    def _may_administer(self, principal: Principal, ags: str) -> None:
        """Tenant admins of that tenant (and platform operators) manage its profile and offerings."""
        require_login(principal)
        self.tenants.get(self.catalog, ags)
        if not authz.can_manage_staff(principal, ags):
            raise DomainError("forbidden")

    @http("POST", "/api/v1/admin/tenants")
    @endpoint("register_tenant")
    def register_tenant(self, request: Request, lang: str, principal: Principal) -> Response:
        """Platform operators add municipalities and districts."""
        if require_login(principal).kind != "operator":
            raise DomainError("forbidden")
        tenant = self.catalog.register_tenant(_object(read_json(request)))
        self.tenants.forget()
        return json_response(tenant, 201, {"Location": f"/api/v1/tenants/{tenant['ags']}"}, lang)

    @http("PATCH", "/api/v1/admin/tenants/<ags>")
    @endpoint("update_tenant")
    def update_tenant(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self._may_administer(principal, ags)
        tenant = self.catalog.update_tenant_profile(ags, _object(read_json(request)))
        self.tenants.forget()
        return json_response(tenant, lang=lang)

    @http("PUT", "/api/v1/admin/tenants/<ags>/offerings/<service_id>")
    @endpoint("put_offering")
    def put_offering(self, request: Request, ags: str, service_id: str, lang: str, principal: Principal) -> Response:
        self._may_administer(principal, ags)
        body = _object(read_json(request)) if request.content_length else {}
        fee, reason = body.get("fee_cents"), body.get("reason", "")
        if fee is not None and (not isinstance(fee, int) or isinstance(fee, bool) or not 0 <= fee <= 10_000_000):
            raise DomainError("invalid_parameter", name="fee_cents", detail="0 … 10000000")
        if not isinstance(reason, str) or len(reason) > 500:
            raise DomainError("invalid_parameter", name="reason", detail=text("text_max", limit=500))
        offering = self.catalog.offer(ags, _ident(service_id, "service_id"))  # checked first, then saved
        if fee is not None:
            offering = self.catalog.change_fee(ags, service_id, fee, reason)
        return json_response(offering, lang=lang)

    @http("PUT", "/api/v1/admin/tenants/<ags>/offerings/<service_id>/retention")
    @endpoint("put_offering_retention")
    def put_offering_retention(self, request: Request, ags: str, service_id: str, lang: str, principal: Principal) -> Response:
        """The tenant's own retention period of a service's cases (``null``: the default again);
        the retention job (``python -m services.ops retention``) erases by the period in force."""
        self._may_administer(principal, ags)
        body = _object(read_json(request))
        months, reason = body.get("retention_months"), body.get("reason", "")
        if "retention_months" not in body or (months is not None and (not isinstance(months, int) or isinstance(months, bool))):
            raise DomainError("invalid_parameter", name="retention_months", detail="1 … 1200 | null")
        if not isinstance(reason, str) or len(reason) > 500:
            raise DomainError("invalid_parameter", name="reason", detail=text("text_max", limit=500))
        return json_response(self.catalog.change_retention(ags, _ident(service_id, "service_id"), months, reason), lang=lang)

    @http("DELETE", "/api/v1/admin/tenants/<ags>/offerings/<service_id>")
    @endpoint("withdraw_offering")
    def withdraw_offering(self, request: Request, ags: str, service_id: str, lang: str, principal: Principal) -> Response:
        self._may_administer(principal, ags)
        reason = request.args.get("reason", "")[:500]
        return json_response(self.catalog.withdraw_offering(ags, _ident(service_id, "service_id"), reason), lang=lang)
