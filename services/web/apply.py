"""Applying for a service: the form pages rendered from the service's JSON Schema, the
check-answers page with "Ändern" links, submitting (the gateway validates; its 422 is
mapped back onto the fields) and the confirmation page with the reference and what happens
next, where a fee is due with the way to pay it. Post/Redirect/Get throughout; no JavaScript
needed.

The answers in progress are kept in the web session until they are submitted (the
server-side drafts of the submissions service replace that when their API lands)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web import forms
from services.web.gateway import ApiError, NotLoggedIn
from services.web.pages import api, not_found, redirect, render, session_of, web_of
from services.web.portal import offering_for, tenant_or_none
from services.web.security import read_form


class Journey:
    """One service's application on one portal, for this session."""

    def __init__(self, request: Request, tenant: dict[str, Any], offering: dict[str, Any], definition: dict[str, Any]):
        self.request = request
        self.tenant = tenant
        self.offering = offering
        self.definition = definition
        self.texts = web_of(request).texts(request.state.lang)
        self.fields = forms.fields_of(definition, self.texts)
        self.pages = forms.pages_of(self.fields)
        self.base = f"/{tenant['slug']}/antrag/{offering['service_id']}"
        drafts = session_of(request).data.setdefault("drafts", {})
        self.draft = drafts.setdefault(f"{tenant['ags']}:{offering['service_id']}", {"data": {}, "key": uuid.uuid4().hex})

    def page_of(self, name: str) -> int:
        return next((i + 1 for i, page in enumerate(self.pages) if any(f.name == name for f in page)), 1)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "offering": self.offering, "definition": self.definition, "base": self.base,
                "pages": self.pages, **extra}


async def journey(request: Request) -> Journey | None:
    if session_of(request).account is None:
        raise NotLoggedIn()
    tenant = await tenant_or_none(request)
    if tenant is None:
        return None
    offering = await offering_for(request, tenant, request.path_params["service_id"])
    if offering is None:
        return None
    definition = await api(request, "GET", f"/api/v1/services/{quote(offering['service_id'])}",
                           params={"version": str(offering["form_version"])})
    return Journey(request, tenant, offering, definition)


async def start(request: Request) -> Response:
    found = await journey(request)
    if found is None:
        return not_found(request)
    account = session_of(request).account or {}
    data = found.draft["data"]
    if "email" in {f.name for f in found.fields} and "email" not in data and account.get("email"):
        data["email"] = account["email"]  # prefill, changeable in the form
    return redirect(f"{found.base}/seite/1")


def render_page(found: Journey, number: int, errors: dict[str, str], raw: dict[str, dict[str, str]], status: int = 200) -> Response:
    page = found.pages[number - 1]
    shown = {f.name: raw.get(f.name) or forms.raw_of(f, found.draft["data"]) for f in page}
    summary = {f.anchor: errors[f.name] for f in page if f.name in errors}
    return render(found.request, "form_page.html", status, **found.context(
        number=number, fields=page, raw=shown, errors=summary, field_errors=errors))


async def page(request: Request) -> Response:
    found = await journey(request)
    number = request.path_params["number"]
    if found is None or not 1 <= number <= len(found.pages):
        return not_found(request)
    pending = found.draft.pop("errors", {})
    return render_page(found, number, pending, found.draft.pop("raw", {}), 400 if pending else 200)


async def save_page(request: Request) -> Response:
    found = await journey(request)
    number = request.path_params["number"]
    if found is None or not 1 <= number <= len(found.pages):
        return not_found(request)
    posted = await read_form(request)
    fields = found.pages[number - 1]
    values, errors, raw = forms.parse(fields, posted, found.texts)
    data = found.draft["data"]
    for item in fields:
        data.pop(item.name, None)
    data.update(values)
    if errors:
        return render_page(found, number, errors, raw, 400)
    if found.draft.get("checking") or number == len(found.pages):
        return redirect(f"{found.base}/pruefen")
    return redirect(f"{found.base}/seite/{number + 1}")


async def check(request: Request) -> Response:
    found = await journey(request)
    if found is None:
        return not_found(request)
    found.draft["checking"] = True
    data = found.draft["data"]
    rows = [(f, forms.display(f, data.get(f.name), found.texts), found.page_of(f.name)) for f in found.fields]
    return render(request, "check.html", **found.context(rows=rows, errors={}))


async def submit(request: Request) -> Response:
    found = await journey(request)
    if found is None:
        return not_found(request)
    await read_form(request)
    body = {"service_id": found.offering["service_id"], "form_version": found.offering["form_version"],
            "form_data": found.draft["data"]}
    try:
        case = await api(request, "POST", f"/api/v1/tenants/{found.tenant['ags']}/cases", json=body,
                         headers={"Idempotency-Key": found.draft["key"]})
    except ApiError as error:
        if error.status == 422 and error.problem.get("errors"):
            errors = forms.errors_from_problem(error.problem, found.fields, found.texts)
            if errors:
                first = min(found.page_of(name) for name in errors)
                found.draft["errors"] = errors
                return redirect(f"{found.base}/seite/{first}")
        if error.status in (401, 404) or error.status >= 500:
            raise
        return render(request, "check.html", 400, **found.context(
            rows=[(f, forms.display(f, found.draft["data"].get(f.name), found.texts), found.page_of(f.name)) for f in found.fields],
            errors={"absenden": error.detail}))
    drafts = session_of(request).data["drafts"]
    drafts.pop(f"{found.tenant['ags']}:{found.offering['service_id']}", None)
    return redirect(f"{found.base}/bestaetigung/{quote(case['case_id'])}")


async def confirmation(request: Request) -> Response:
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    case = await api(request, "GET", f"/api/v1/cases/{quote(request.path_params['case_id'])}")
    definition = await api(request, "GET", f"/api/v1/services/{quote(case['service_id'])}", params={"version": str(case["form_version"])})
    authority = await web_of(request).tenant_by_ags(case["tenant"])
    return render(request, "confirmation.html", tenant=tenant, case=case, definition=definition, authority=authority)


routes = [
    Route("/{slug}/antrag/{service_id}/start", start, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/seite/{number:int}", page, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/seite/{number:int}", save_page, methods=["POST"]),
    Route("/{slug}/antrag/{service_id}/pruefen", check, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/absenden", submit, methods=["POST"]),
    Route("/{slug}/antrag/{service_id}/bestaetigung/{case_id}", confirmation, methods=["GET"]),
]
