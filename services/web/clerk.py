"""The clerk workspace at ``/verwaltung/``: the worklist of the tenants the clerk holds a
grant for (filters: status, service, overdue; sorting; keyset pagination through the
gateway's cursor), the case page (timeline, form data, payment status) and the actions
start review, request information, approve, reject and reassign. What a clerk may see and
do is decided by the gateway; a case outside the grants is its 404."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.common.cases import WORKLIST_SORTS, Status
from services.web import forms
from services.web.gateway import ApiError
from services.web.i18n import N_
from services.web.pages import api, not_found, redirect, render, require_login, session_of, web_of
from services.web.security import read_form

ACTIONS = {
    "start-review": (None, N_("Die Bearbeitung wurde begonnen.")),
    "request-information": ("question", N_("Die Rückfrage wurde gesendet.")),
    "approve": ("decision", N_("Der Antrag wurde bewilligt.")),
    "reject": ("reason", N_("Der Antrag wurde abgelehnt.")),
    "reassign": ("clerk", N_("Der Fall wurde neu zugewiesen.")),
}



def clerk_name(account: dict[str, Any]) -> str:
    """How a case names the clerk working on it (the worklist's "assigned to me" asks for it)."""
    return str(account.get("display_name") or account.get("email") or "")[:200]


async def home(request: Request) -> Response:
    account = require_login(request)
    tenants = {t["ags"]: t for t in await web_of(request).tenants()}
    mine = sorted({g["tenant"] for g in account.get("grants", []) if g["tenant"] in tenants})
    if len(mine) == 1:
        return redirect(f"/verwaltung/{mine[0]}/")
    return render(request, "clerk_home.html", staff_area=True, tenants=[tenants[a] for a in mine])


async def worklist(request: Request) -> Response:
    account = require_login(request)
    ags = request.path_params["ags"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    args = request.query_params
    filters = {
        "status": args.get("status", "") if args.get("status") in {s.value for s in Status} else "",
        "service_id": args.get("service_id", "")[:64],
        "sort": args.get("sort") if args.get("sort") in WORKLIST_SORTS else WORKLIST_SORTS[0],
        "order": "desc" if args.get("order") == "desc" else "asc",
        "overdue": args.get("overdue") == "1",
        "mine": args.get("mine") == "1",
    }
    params = {k: v for k, v in filters.items() if v and k not in ("overdue", "mine")}
    if filters["mine"]:
        params["assignee"] = clerk_name(account)
    params["limit"] = "25"
    if args.get("cursor"):
        params["cursor"] = args["cursor"][:500]
    page = await api(request, "GET", f"/api/v1/tenants/{ags}/worklist", params=params)
    items = [i for i in page["items"] if i.get("overdue")] if filters["overdue"] else page["items"]
    services = (await api(request, "GET", "/api/v1/services"))["items"]
    query = {k: v for k, v in filters.items() if v and k not in ("overdue", "mine")}
    query |= {k: "1" for k in ("overdue", "mine") if filters[k]}
    more = f"?{urlencode({**query, 'cursor': page['next_cursor']})}" if page.get("next_cursor") else None
    return render(request, "worklist.html", staff_area=True, tenant_ctx=tenant, items=items, filters=filters,
                  services=services, names={s["service_id"]: s for s in services}, statuses=[s.value for s in Status], sorts=WORKLIST_SORTS, more=more,
                  first=bool(args.get("cursor")), filter_query=urlencode(query))


async def case_page(request: Request, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    require_login(request)
    case_id = request.path_params["case_id"]
    case = await api(request, "GET", f"/api/v1/cases/{quote(case_id)}")
    definition = await api(request, "GET", f"/api/v1/services/{quote(case['service_id'])}", params={"version": str(case["form_version"])})
    texts = web_of(request).texts(request.state.lang)
    data = (case.get("contents") or {}).get("form_data") or {}
    rows = [(f.label, forms.display(f, data.get(f.name), texts)) for f in forms.fields_of(definition, texts) if f.name in data]
    payment = None
    if case.get("fee_cents"):
        try:
            payment = await api(request, "GET", f"/api/v1/cases/{quote(case_id)}/payment")
        except ApiError as error:
            if error.status != 404:
                raise
    due = (date.today() + timedelta(days=14)).isoformat()
    return render(request, "clerk_case.html", status, staff_area=True, case=case, definition=definition, rows=rows,
                  payment=payment, errors=errors or {}, due=due, authority=await web_of(request).tenant_by_ags(case["tenant"]))


async def act(request: Request) -> Response:
    account = require_login(request)
    form = await read_form(request)
    case_id, action = request.path_params["case_id"], request.path_params["action"]
    if action not in ACTIONS:
        return not_found(request)
    field_name, done = ACTIONS[action]
    texts = web_of(request).texts(request.state.lang)
    payload: dict[str, Any] = {}
    if action == "start-review":
        payload["clerk"] = clerk_name(account)
    if field_name:
        value = form.get(field_name, "").strip()
        if not value and action != "approve":
            return await case_page(request, {field_name: texts.gettext("Bitte füllen Sie dieses Feld aus.")}, 400)
        if value:
            payload[field_name] = value
    if action == "request-information" and form.get("due_date"):
        payload["due_date"] = form["due_date"][:10]
    try:
        await api(request, "POST", f"/api/v1/cases/{quote(case_id)}/actions/{action}", json=payload)
    except ApiError as error:
        if error.status in (401, 404) or error.status >= 500:
            raise
        return await case_page(request, {field_name or "aktionen": error.detail}, 400)
    session_of(request).flash(done)
    return redirect(f"/verwaltung/faelle/{quote(case_id)}")


async def case_view(request: Request) -> Response:
    return await case_page(request)


routes = [
    Route("/verwaltung/", home, methods=["GET"]),
    Route("/verwaltung/faelle/{case_id}", case_view, methods=["GET"]),
    Route("/verwaltung/faelle/{case_id}/{action}", act, methods=["POST"]),
    Route("/verwaltung/{ags:str}/", worklist, methods=["GET"]),
]
