"""Gateway routes of the council information (Ratsinformationssystem): public reads of the
mirrored OParl data and the tenant admin's source configuration."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, query_choice, query_int, read_json

WHEN = ("upcoming", "past")


def _local_id(value: str, name: str) -> str:
    """The council's ids are 20 hex digits (derived from the OParl URLs)."""
    if len(value) != 20 or any(c not in "0123456789abcdef" for c in value):
        raise DomainError("invalid_parameter", name=name, detail=text("hex_id", length=20))
    return value


class CouncilRoutes:
    """Mixed into GatewayService; uses its ``council`` RPC proxy and ``tenants`` cache."""

    council: Any
    catalog: Any
    tenants: Any

    @http("GET", "/api/v1/tenants/<ags>/council")
    @endpoint("council_overview")
    def council_overview(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        return json_response(self.council.overview(ags), lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/council/meetings")
    @endpoint("council_meetings")
    def council_meetings(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        when = query_choice(request, "when", WHEN, "upcoming")
        organization = request.args.get("organization") or None
        if organization:
            _local_id(organization, "organization")
        limit = query_int(request, "limit", 20, 1, 100)
        offset = query_int(request, "offset", 0, 0, 10_000)
        return json_response(self.council.meetings(ags, when, organization, limit, offset), lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/council/meetings/<meeting_id>")
    @endpoint("council_meeting")
    def council_meeting(self, request: Request, ags: str, meeting_id: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        return json_response(self.council.meeting(ags, _local_id(meeting_id, "meeting_id")), lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/council/papers/<paper_id>")
    @endpoint("council_paper")
    def council_paper(self, request: Request, ags: str, paper_id: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        return json_response(self.council.paper(ags, _local_id(paper_id, "paper_id")), lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/council/search")
    @endpoint("council_search")
    def council_search(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self.tenants.get(self.catalog, ags)
        query = request.args.get("q", "").strip()
        if not query:
            raise DomainError("invalid_query", detail=text("query_empty"))
        if len(query) > 200:
            raise DomainError("invalid_query", detail=text("query_too_long", limit=200))
        limit = query_int(request, "limit", 20, 1, 50)
        return json_response(self.council.search(ags, query, limit), lang=lang)

    # -- administration: the tenant's OParl source ------------------------------------------
    def _may_configure(self, principal: Principal, ags: str) -> None:
        require_login(principal)
        self.tenants.get(self.catalog, ags)
        if not authz.can_manage_staff(principal, ags):
            raise DomainError("forbidden")

    @http("GET", "/api/v1/admin/tenants/<ags>/council/source")
    @endpoint("get_council_source")
    def get_council_source(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self._may_configure(principal, ags)
        return json_response(self.council.source(ags), lang=lang)

    @http("PUT", "/api/v1/admin/tenants/<ags>/council/source")
    @endpoint("put_council_source")
    def put_council_source(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self._may_configure(principal, ags)
        body = read_json(request)
        if not isinstance(body, dict) or "url" not in body:
            raise DomainError("invalid_request", detail=text("json_object"))
        url = body["url"]
        if url is not None and not isinstance(url, str):
            raise DomainError("invalid_parameter", name="url", detail=text("http_url", limit=500))
        return json_response(self.council.configure_source(ags, url, principal.subject), lang=lang)
