"""The rules pages of a municipality's workspace (issue #16) at ``/verwaltung/{ags}/regeln``:
its tenant admins list the rules, read a rule with its history, try it over past cases
(shadow run: agreement with the clerks, the disagreements, CSV) and switch it on or off.

Defining and changing a rule stays with the API (``/api/v1/admin/tenants/{ags}/rules``): a
rule's condition is JSON, and an editor for it is more than these pages are for. Who may do
what the gateway decides; a refused activation (``rule_shadow_run_missing``) is shown on the
rule's page with the gateway's own words.
"""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.gateway import ApiError
from services.web.i18n import N_
from services.web.pages import api, not_found, redirect, render, require_login, session_of, web_of
from services.web.security import read_form

KIND_TEXT = {"routing": N_("Zuweisung"), "reminder": N_("Erinnerung"), "decision": N_("Automatische Entscheidung")}
EVENT_TEXT = {
    "Defined": N_("angelegt"), "Changed": N_("geändert"), "ShadowRunCompleted": N_("Probelauf"),
    "Activated": N_("eingeschaltet"), "Deactivated": N_("ausgeschaltet"),
}


def rules_path(ags: str, rule_id: str = "") -> str:
    return f"/api/v1/admin/tenants/{quote(ags)}/rules" + (f"/{quote(rule_id)}" if rule_id else "")


async def rules_page(request: Request) -> Response:
    require_login(request)
    ags = request.path_params["ags"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    body = await api(request, "GET", rules_path(ags))
    return render(request, "rules.html", staff_area=True, tenant_ctx=tenant, rules=body["items"], kinds=KIND_TEXT)


async def rule_page(request: Request, error: str = "", status: int = 200, posted: dict[str, str] | None = None) -> Response:
    require_login(request)
    ags, rule_id = request.path_params["ags"], request.path_params["rule_id"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    rule = await api(request, "GET", rules_path(ags, rule_id))
    try:
        report = await api(request, "GET", rules_path(ags, rule_id) + "/shadow-runs")
    except ApiError as exc:
        if exc.status != 409:
            raise
        report = None  # no shadow run of the current version yet
    today = date.today()
    period = posted or {"von": (today - timedelta(days=365)).isoformat(), "bis": (today + timedelta(days=1)).isoformat()}
    return render(request, "rule.html", status, staff_area=True, tenant_ctx=tenant, rule=rule, report=report,
                  kinds=KIND_TEXT, events=EVENT_TEXT, error=error, period=period,
                  csv_url=f"/verwaltung/{ags}/regeln/{rule['rule_id']}/bericht.csv")


async def shadow_run(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    ags, rule_id = request.path_params["ags"], request.path_params["rule_id"]
    posted = {"von": form.get("von", "")[:10], "bis": form.get("bis", "")[:10]}
    try:
        await api(request, "POST", rules_path(ags, rule_id) + "/shadow-runs", json={"from": posted["von"], "to": posted["bis"]})
    except ApiError as exc:
        if exc.status in (401, 403, 404) or exc.status >= 500:
            raise
        return await rule_page(request, exc.detail, 400, posted)
    session_of(request).flash(N_("Der Probelauf ist fertig; sein Bericht steht unten."))
    return redirect(f"/verwaltung/{ags}/regeln/{rule_id}#bericht")


async def switch(request: Request) -> Response:
    require_login(request)
    await read_form(request)
    ags, rule_id, action = request.path_params["ags"], request.path_params["rule_id"], request.path_params["action"]
    if action not in ("einschalten", "ausschalten"):
        return not_found(request)
    target = "activate" if action == "einschalten" else "deactivate"
    try:
        await api(request, "POST", rules_path(ags, rule_id) + f"/{target}", json={})
    except ApiError as exc:
        if exc.status != 409:
            raise
        return await rule_page(request, exc.detail, 409)
    session_of(request).flash(N_("Die Regel ist eingeschaltet.") if target == "activate" else N_("Die Regel ist ausgeschaltet."))
    return redirect(f"/verwaltung/{ags}/regeln/{rule_id}")


async def report_csv(request: Request) -> Response:
    require_login(request)
    ags, rule_id = request.path_params["ags"], request.path_params["rule_id"]
    content = await api(request, "GET", rules_path(ags, rule_id) + "/shadow-runs", params={"format": "csv"}, as_bytes=True)
    return Response(content, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="probelauf-{rule_id[:36]}.csv"'})


routes = [
    Route("/verwaltung/{ags:str}/regeln", rules_page, methods=["GET"]),
    Route("/verwaltung/{ags:str}/regeln/{rule_id:str}", rule_page, methods=["GET"]),
    Route("/verwaltung/{ags:str}/regeln/{rule_id:str}/bericht.csv", report_csv, methods=["GET"]),
    Route("/verwaltung/{ags:str}/regeln/{rule_id:str}/probelauf", shadow_run, methods=["POST"]),
    Route("/verwaltung/{ags:str}/regeln/{rule_id:str}/{action:str}", switch, methods=["POST"]),
]
