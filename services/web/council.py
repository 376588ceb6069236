"""The "Politik & Rat" pages of each portal (``/{slug}/rat/``): next meetings and recent
papers, a committee's meetings, a meeting with its agenda, a paper with its consultations,
search. Data from the gateway's council API (mirrored from the municipality's OParl
system); each page shows how current it is ("Stand: …"), and says so when the last sync
failed. Texts from the source are shown as text (autoescaped), never as HTML."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.gateway import ApiError
from services.web.pages import api, not_found, render, web_of

LOCAL_ID = re.compile(r"^[0-9a-f]{20}$")


async def _tenant(request: Request) -> dict | None:
    return await web_of(request).tenant_by_slug(request.path_params["slug"])


async def overview(request: Request) -> Response:
    tenant = await _tenant(request)
    if tenant is None:
        return not_found(request)
    council = await api(request, "GET", f"/api/v1/tenants/{tenant['ags']}/council")
    return render(request, "council/index.html", tenant=tenant, council=council, sync=council["sync"])


async def committee(request: Request) -> Response:
    tenant = await _tenant(request)
    org = request.path_params["org_id"]
    if tenant is None or not LOCAL_ID.match(org):
        return not_found(request)
    base = f"/api/v1/tenants/{tenant['ags']}/council/meetings"
    upcoming = await api(request, "GET", base, params={"organization": org, "when": "upcoming", "limit": "20"})
    past = await api(request, "GET", base, params={"organization": org, "when": "past", "limit": "20"})
    return render(request, "council/committee.html", tenant=tenant, committee=upcoming["organization"],
                  upcoming=upcoming["items"], past=past["items"], sync=upcoming["sync"])


def _detail(resource: str, template: str, name: str) -> Callable[[Request], Awaitable[Response]]:
    """The page of one meeting or one paper: the same lookup of a local id, another template."""
    async def page(request: Request) -> Response:
        tenant = await _tenant(request)
        item_id = request.path_params["item_id"]
        if tenant is None or not LOCAL_ID.match(item_id):
            return not_found(request)
        found = await api(request, "GET", f"/api/v1/tenants/{tenant['ags']}/council/{resource}/{item_id}")
        return render(request, template, tenant=tenant, sync=found["sync"], **{name: found})
    return page


async def search(request: Request) -> Response:
    tenant = await _tenant(request)
    if tenant is None:
        return not_found(request)
    query = request.query_params.get("q", "").strip()[:200]
    results, sync = [], None
    if query:
        try:
            found = await api(request, "GET", f"/api/v1/tenants/{tenant['ags']}/council/search", params={"q": query})
        except ApiError as error:
            if error.status != 400:
                raise
        else:
            results, sync = found["items"], found["sync"]
    return render(request, "council/search.html", tenant=tenant, q=query, results=results, sync=sync)


routes = [
    Route("/{slug}/rat/", overview),
    Route("/{slug}/rat/suche", search),
    Route("/{slug}/rat/gremien/{org_id}", committee),
    Route("/{slug}/rat/sitzungen/{item_id}", _detail("meetings", "council/meeting.html", "meeting")),
    Route("/{slug}/rat/vorlagen/{item_id}", _detail("papers", "council/paper.html", "paper")),
]
