"""The citizen portals: the platform's start page listing the municipalities, and per
tenant (``/{slug}/``) the start page with search and the 14 Themenfelder, Lebenslagen,
search results and the service pages. A municipality's portal shows its district's
services too (the catalog answers for the district; the gateway routes submissions)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from services.web.gateway import ApiError
from services.web.i18n import LANG_COOKIE, LANGUAGES
from services.web.pages import api, lang_of, not_found, render, safe_next, web_of

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


async def tenant_or_none(request: Request) -> dict[str, Any] | None:
    return await web_of(request).tenant_by_slug(request.path_params["slug"])


async def offerings(request: Request, tenant: dict[str, Any]) -> list[dict[str, Any]]:
    """The tenant's online services and its district's (each with the offering's tenant)."""
    found = (await api(request, "GET", f"/api/v1/tenants/{tenant['ags']}/services"))["items"]
    if tenant.get("district_ags"):
        own = {o["service_id"] for o in found}
        district = (await api(request, "GET", f"/api/v1/tenants/{tenant['district_ags']}/services"))["items"]
        found += [o for o in district if o["service_id"] not in own]
    return found


async def offering_for(request: Request, tenant: dict[str, Any], service_id: str) -> dict[str, Any] | None:
    """The offering in force on this portal: the tenant's own, else its district's."""
    for ags in filter(None, (tenant["ags"], tenant.get("district_ags"))):
        try:
            return await api(request, "GET", f"/api/v1/tenants/{ags}/offerings/{quote(service_id)}")
        except ApiError as error:
            if error.status != 404:
                raise
    return None


async def definitions(request: Request) -> dict[str, dict[str, Any]]:
    """Every defined service's names (for lists: the name in the page's language)."""
    items = (await api(request, "GET", "/api/v1/services"))["items"]
    return {item["service_id"]: item for item in items}


async def platform_start(request: Request) -> Response:
    tenants = await web_of(request).tenants()
    districts = [t for t in tenants if t["kind"] == "landkreis"]
    groups = [(d, [t for t in tenants if t.get("district_ags") == d["ags"]]) for d in districts]
    return render(request, "platform.html", groups=groups)


async def switch_language(request: Request) -> Response:
    lang = request.query_params.get("lang", "")
    response = RedirectResponse(safe_next(request.query_params.get("next"), "/"), status_code=303)
    if lang in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, httponly=True, samesite="lax",
                            secure=web_of(request).settings.cookie_secure, path="/")
    return response


async def tenant_styles(request: Request) -> Response:
    """Each tenant's small stylesheet: its colour on KERN's action colour and the header band."""
    tenant = await web_of(request).tenant_by_slug(request.path_params["slug"])
    colour = tenant["primary_color"] if tenant and COLOUR.match(tenant.get("primary_color") or "") else "#1b4f8a"
    css = (
        f":root{{--vr-tenant:{colour};--kern-color-action-default:{colour}}}\n"
        ".vr-header{background:var(--vr-tenant);color:#fff}\n"
        ".vr-header a,.vr-header a:visited{color:#fff}\n"
    )
    return Response(css, media_type="text/css", headers={"Cache-Control": "public, max-age=300"})


async def tenant_start(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    themen = (await api(request, "GET", "/api/v1/themenfelder"))["items"]
    services = await offerings(request, tenant)
    names = await definitions(request)
    return render(request, "tenant_start.html", tenant=tenant, themen=themen, services=services, names=names)


async def search(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    query = request.query_params.get("q", "").strip()[:200]
    results: list[dict[str, Any]] = []
    if query:
        params = {"q": query, "limit": "20", **({"lang": "en"} if lang_of(request) == "en" else {})}
        results = (await api(request, "GET", f"/api/v1/tenants/{tenant['ags']}/services", params=params))["items"]
    return render(request, "search.html", tenant=tenant, q=query, results=results)


async def themenfeld(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    number = str(request.path_params["number"])
    themen = {str(t["id"]): t for t in (await api(request, "GET", "/api/v1/themenfelder"))["items"]}
    if number not in themen:
        return not_found(request)
    lagen = (await api(request, "GET", f"/api/v1/themenfelder/{number}/lebenslagen"))["items"]
    return render(request, "themenfeld.html", tenant=tenant, thema=themen[number], lagen=lagen)


async def lebenslage(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    number = str(request.path_params["number"])
    items = (await api(request, "GET", f"/api/v1/lebenslagen/{number}/leistungen"))["items"]
    online = {o["ozg_id"]: o for o in await offerings(request, tenant)}
    names = await definitions(request)
    return render(request, "lebenslage.html", tenant=tenant, items=items, online=online, names=names, number=number)


async def service_page(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    service_id = request.path_params["service_id"]
    offering = await offering_for(request, tenant, service_id)
    if offering is None:
        return not_found(request)
    definition = await api(request, "GET", f"/api/v1/services/{quote(service_id)}")
    authority = await web_of(request).tenant_by_ags(offering["tenant"]) or tenant
    return render(request, "service.html", tenant=tenant, offering=offering, definition=definition, authority=authority)


async def leistung_page(request: Request) -> Response:
    """An OZG service not online here: what it is and whom to ask."""
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    try:
        leistung = await api(request, "GET", f"/api/v1/leistungen/{quote(request.path_params['ozg_id'])}")
    except ApiError as error:
        if error.status == 404:
            return not_found(request)
        raise
    return render(request, "leistung.html", tenant=tenant, leistung=leistung)


INFO_PAGES = ("impressum", "datenschutz", "barrierefreiheit", "leichte-sprache")


async def info_page(request: Request) -> Response:
    """Impressum, Datenschutz, Erklärung zur Barrierefreiheit, Leichte Sprache (per tenant)."""
    tenant = await tenant_or_none(request)
    kind = request.path_params["page"]
    if tenant is None or kind not in INFO_PAGES:
        return not_found(request)
    return render(request, "info.html", tenant=tenant, kind=kind)


routes = [
    Route("/", platform_start),
    Route("/sprache", switch_language),
    Route("/tenant-styles/{slug}.css", tenant_styles),
    Route("/{slug}/", tenant_start),
    Route("/{slug}/suche", search),
    Route("/{slug}/themen/{number:int}", themenfeld),
    Route("/{slug}/lebenslagen/{number:int}", lebenslage),
    Route("/{slug}/leistungen/{service_id}", service_page),
    Route("/{slug}/ozg/{ozg_id}", leistung_page),
    Route("/{slug}/info/{page}", info_page),
]
