"""The worklist at ``/verwaltung/{ags}/``: the cases of the tenants the clerk holds a grant
for, filtered (status, service, overdue, assigned to me) and sorted by the gateway, one keyset
page at a time (its ``next_cursor``). ``/liste`` is the same list without the page around it,
which ``static/clerk.js`` fetches to refresh the list without a full reload; without
JavaScript the "Aktualisieren" link reloads the page.

Counts: the gateway's worklist has no count query, so the filter counts come from one page of
up to :data:`COUNT_LIMIT` open cases (shown as "mehr als …" when there are more).

"Nur überfällige" asks for the list by due date, earliest first, and stops at the first case
that is not overdue — so the keyset pages stay the gateway's own and no page is thinned out
after the fact."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from services.common.authz import CASE_ROLES
from services.common.cases import WORKLIST_SORTS, Status
from services.web.pages import api, not_found, redirect, render, require_login, web_of

PAGE_SIZE = 25
COUNT_LIMIT = 500
REFRESH_SECONDS = 30


def clerk_name(account: dict[str, Any]) -> str:
    """How a case names the clerk working on it (the worklist's "assigned to me" asks for it)."""
    return str(account.get("display_name") or account.get("email") or "")[:200]


async def home(request: Request) -> Response:
    account = require_login(request)
    tenants = {t["ags"]: t for t in await web_of(request).tenants()}
    grants = [g for g in account.get("grants", []) if g["tenant"] in tenants]
    mine = sorted({g["tenant"] for g in grants})
    casework = {g["tenant"] for g in grants if g["role"] in CASE_ROLES}
    admin = {g["tenant"] for g in grants if g["role"] == "tenant_admin"}
    if len(mine) == 1 and not admin:
        return redirect(f"/verwaltung/{mine[0]}/")
    # a tenant admin gets a home of links (KPIs, rules), and the worklist only with a case role
    return render(request, "clerk_home.html", staff_area=True, tenants=[tenants[a] for a in mine],
                  casework=casework, admin=admin)


def filters_of(request: Request) -> dict[str, Any]:
    args = request.query_params
    return {
        "status": args.get("status", "") if args.get("status") in {s.value for s in Status} else "",
        "service_id": args.get("service_id", "")[:64],
        "sort": args.get("sort") if args.get("sort") in WORKLIST_SORTS else WORKLIST_SORTS[0],
        "order": "desc" if args.get("order") == "desc" else "asc",
        "overdue": args.get("overdue") == "1",
        "mine": args.get("mine") == "1",
    }


def query_of(filters: dict[str, Any]) -> dict[str, str]:
    """The filters as the page's own query string (what links and the refresh keep)."""
    query = {k: v for k, v in filters.items() if v and k not in ("overdue", "mine")}
    return query | {k: "1" for k in ("overdue", "mine") if filters[k]}


async def counts(request: Request, ags: str, me: str) -> dict[str, Any]:
    """How many open cases there are per status and service, overdue and assigned to me."""
    page = await api(request, "GET", f"/api/v1/tenants/{ags}/worklist", params={"limit": str(COUNT_LIMIT)})
    items = page["items"]
    return {
        "total": len(items), "more": bool(page.get("next_cursor")),
        "status": Counter(i["status"] for i in items), "service": Counter(i["service_id"] for i in items),
        "overdue": sum(1 for i in items if i.get("overdue")), "mine": sum(1 for i in items if i.get("assignee") == me),
    }


async def list_context(request: Request) -> dict[str, Any] | None:
    """What the list shows for the page's filters and cursor (None: no such tenant)."""
    account = require_login(request)
    ags = request.path_params["ags"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return None
    filters = filters_of(request)
    params = {k: v for k, v in filters.items() if v and k not in ("overdue", "mine")}
    if filters["overdue"]:
        params |= {"sort": "due_date", "order": "asc"}
    if filters["mine"]:
        params["assignee"] = clerk_name(account)
    params["limit"] = str(PAGE_SIZE)
    cursor = request.query_params.get("cursor", "")[:500]
    if cursor:
        params["cursor"] = cursor
    page = await api(request, "GET", f"/api/v1/tenants/{ags}/worklist", params=params)
    items, next_cursor = page["items"], page.get("next_cursor")
    if filters["overdue"] and not all(i.get("overdue") for i in items):
        items, next_cursor = [i for i in items if i.get("overdue")], None
    query = query_of(filters)
    return {
        "tenant_ctx": tenant, "items": items, "filters": filters,
        "more": f"?{urlencode({**query, 'cursor': next_cursor})}" if next_cursor else None,
        "first": bool(cursor), "filter_query": urlencode(query), "cursor": cursor,
        "self_query": urlencode({**query, **({"cursor": cursor} if cursor else {})}),
    }


async def services_by_id(request: Request) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    services = (await api(request, "GET", "/api/v1/services"))["items"]
    return services, {s["service_id"]: s for s in services}


async def worklist(request: Request) -> Response:
    context = await list_context(request)
    if context is None:
        return not_found(request)
    services, names = await services_by_id(request)
    tally = await counts(request, context["tenant_ctx"]["ags"], clerk_name(require_login(request)))
    return render(request, "worklist.html", staff_area=True, services=services, names=names, counts=tally,
                  statuses=[s.value for s in Status], sorts=WORKLIST_SORTS, refresh=REFRESH_SECONDS, **context)


async def worklist_fragment(request: Request) -> Response:
    """Only the list (for the refresh script); the same filters, the same authorisation."""
    context = await list_context(request)
    if context is None:
        return not_found(request)
    _, names = await services_by_id(request)
    return render(request, "_worklist_table.html", names=names, **context)
