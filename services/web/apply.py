"""Applying for a service: the form pages rendered from the service's JSON Schema, the
check-answers page with "Ändern" links, submitting (the gateway validates; its 422 is
mapped back onto the fields) and the confirmation page with the reference and what happens
next, where a fee is due with the way to pay it. Post/Redirect/Get throughout; no JavaScript
needed.

The answers live in a server-side draft of the submissions service (``/api/v1/drafts``):
every form page's POST saves it, "Mein Rathaus" lists it to resume or discard, and
submitting turns it into the case. The session only remembers which draft this browser is
filling in for a service (``drafts``: "{portal}:{service}" → draft id)."""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web import forms, prefill, uploads
from services.web.gateway import ApiError, NotLoggedIn
from services.web.pages import api, not_found, redirect, render, session_of, web_of
from services.web.portal import offering_for, tenant_or_none
from services.web.security import read_form, read_form_with_files

TRUST_CODE = "trust_level_insufficient"


class Journey:
    """One service's application on one portal, for this session, with its draft."""

    def __init__(self, request: Request, tenant: dict[str, Any], offering: dict[str, Any], definition: dict[str, Any],
                 draft: dict[str, Any]):
        self.request = request
        self.tenant = tenant
        self.offering = offering
        self.definition = definition
        self.draft = draft
        self.data: dict[str, Any] = dict(draft["form_data"])
        self.texts = web_of(request).texts(request.state.lang)
        self.fields = forms.fields_of(definition, self.texts)
        self.pages = forms.pages_of(self.fields)
        self.base = f"/{tenant['slug']}/antrag/{offering['service_id']}"
        self.state = session_of(request).data.setdefault("draft_state", {}).setdefault(draft["draft_id"], {})

    def page_of(self, name: str) -> int:
        return next((i + 1 for i, page in enumerate(self.pages) if any(f.name == name for f in page)), 1)

    def context(self, **extra: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "offering": self.offering, "definition": self.definition, "base": self.base,
                "pages": self.pages, "draft": self.draft, **extra}

    def rows(self) -> list[tuple[forms.Field, str, int]]:
        def shown(item: forms.Field) -> str:
            value = self.data.get(item.name)
            return uploads.shown(self.request, value, self.texts) if item.kind == "file" else forms.display(item, value, self.texts)
        return [(f, shown(f), self.page_of(f.name)) for f in self.fields]

    async def save(self, page: str) -> None:
        self.draft = await api(self.request, "PUT", f"/api/v1/drafts/{quote(self.draft['draft_id'])}",
                               json={"form_data": self.data, "page": page})


def draft_key(tenant: dict[str, Any], service_id: str) -> str:
    return f"{tenant['ags']}:{service_id}"


async def open_draft(request: Request, draft_id: str | None) -> dict[str, Any] | None:
    if not draft_id:
        return None
    try:
        draft = await api(request, "GET", f"/api/v1/drafts/{quote(draft_id)}")
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return draft if draft["status"] == "open" else None


async def new_draft(request: Request, tenant: dict[str, Any], offering: dict[str, Any]) -> dict[str, Any]:
    """An open draft of this service on this portal (the newest), else a new one with the
    profile's name and address filled in."""
    for draft in (await api(request, "GET", "/api/v1/me/drafts"))["items"]:
        if draft["portal"] == tenant["ags"] and draft["service_id"] == offering["service_id"]:
            return draft
    definition = await api(request, "GET", f"/api/v1/services/{quote(offering['service_id'])}",
                           params={"version": str(offering["form_version"])})
    fields = forms.fields_of(definition, web_of(request).texts(request.state.lang))
    profile = await api(request, "GET", "/api/v1/me/profile")
    data = prefill.prefilled(fields, profile, session_of(request).account or {})
    return await api(request, "POST", f"/api/v1/tenants/{tenant['ags']}/drafts",
                     json={"service_id": offering["service_id"], "form_data": data, "page": 1})


async def journey(request: Request, create: bool = False) -> Journey | None:
    if session_of(request).account is None:
        raise NotLoggedIn()
    tenant = await tenant_or_none(request)
    if tenant is None:
        return None
    offering = await offering_for(request, tenant, request.path_params["service_id"])
    if offering is None:
        return None
    known = session_of(request).data.setdefault("drafts", {})
    key = draft_key(tenant, offering["service_id"])
    draft = await open_draft(request, known.get(key))
    if draft is None:
        if not create:
            return None
        draft = await new_draft(request, tenant, offering)
    known[key] = draft["draft_id"]
    definition = await api(request, "GET", f"/api/v1/services/{quote(offering['service_id'])}",
                           params={"version": str(draft["form_version"])})
    return Journey(request, tenant, offering, definition, draft)


async def start(request: Request) -> Response:
    found = await journey(request, create=True)
    if found is None:
        return not_found(request)
    return redirect(f"{found.base}/seite/1")


async def resume(request: Request) -> Response:
    """ "Fortsetzen" in Mein Rathaus: this browser goes on with that draft, where it was left."""
    if session_of(request).account is None:
        raise NotLoggedIn()
    tenant = await tenant_or_none(request)
    draft = await open_draft(request, request.path_params["draft_id"])
    if tenant is None or draft is None or draft["service_id"] != request.path_params["service_id"]:
        return not_found(request)
    session_of(request).data.setdefault("drafts", {})[draft_key(tenant, draft["service_id"])] = draft["draft_id"]
    page = str(draft.get("page") or "1")
    base = f"/{tenant['slug']}/antrag/{quote(draft['service_id'])}"
    return redirect(f"{base}/pruefen" if page == "pruefen" else f"{base}/seite/{int(page) if page.isdigit() else 1}")


async def missing(request: Request) -> Response:
    """No draft for this page (discarded, submitted, or from another session): start again."""
    tenant = await tenant_or_none(request)
    if tenant is None:
        return not_found(request)
    return redirect(f"/{tenant['slug']}/antrag/{quote(request.path_params['service_id'])}/start")


def render_page(found: Journey, number: int, errors: dict[str, str], raw: dict[str, dict[str, str]], status: int = 200) -> Response:
    page = found.pages[number - 1]
    shown = {f.name: raw.get(f.name) or forms.raw_of(f, found.data) for f in page}
    files = {f.name: uploads.shown(found.request, found.data.get(f.name), found.texts) for f in page if f.kind == "file"}
    summary = {f.anchor: errors[f.name] for f in page if f.name in errors}
    return render(found.request, "form_page.html", status, **found.context(
        number=number, fields=page, raw=shown, errors=summary, field_errors=errors, files=files,
        multipart=any(f.kind == "file" for f in page)))


async def journey_page(request: Request) -> tuple[Journey | None, Response | None]:
    """The journey and its form page's number from the path, or the answer where there is none."""
    found = await journey(request)
    if found is None:
        return None, await missing(request)
    if not 1 <= request.path_params["number"] <= len(found.pages):
        return None, not_found(request)
    return found, None


async def page(request: Request) -> Response:
    found, other = await journey_page(request)
    if found is None:
        return other
    number = request.path_params["number"]
    pending = found.state.pop("errors", {})
    return render_page(found, number, pending, {}, 400 if pending else 200)


async def save_page(request: Request) -> Response:
    found, other = await journey_page(request)
    if found is None:
        return other
    number = request.path_params["number"]
    posted, files = await read_form_with_files(request)
    fields = found.pages[number - 1]
    values, errors, raw = forms.parse(fields, posted, found.texts)
    for item in fields:
        if item.kind == "file":
            if item.name in files:
                value, error = await uploads.upload(request, item, files[item.name], found.texts)
                if error:
                    errors[item.name] = error
                else:
                    found.data[item.name] = value
            elif posted.get(f"{item.name}-remove") == forms.YES:
                found.data.pop(item.name, None)
            continue
        found.data.pop(item.name, None)
    found.data.update(values)
    following = "pruefen" if found.state.get("checking") or number == len(found.pages) else str(number + 1)
    await found.save(str(number) if errors else following)  # where "Fortsetzen" takes the citizen
    if errors:
        return render_page(found, number, errors, raw, 400)
    return redirect(f"{found.base}/pruefen" if following == "pruefen" else f"{found.base}/seite/{following}")


async def check_page(found: Journey, errors: dict[str, str], status: int = 200) -> Response:
    profile = await api(found.request, "GET", "/api/v1/me/profile")
    candidate = prefill.profile_from(found.fields, found.data)
    offer = candidate is not None and prefill.differs(profile, candidate)
    return render(found.request, "check.html", status, **found.context(rows=found.rows(), errors=errors, offer_profile=offer))


async def check(request: Request) -> Response:
    found = await journey(request)
    if found is None:
        return await missing(request)
    found.state["checking"] = True
    return await check_page(found, {})


async def save_profile(found: Journey) -> None:
    """"Für künftige Anträge merken": the form's name and address into the profile."""
    candidate = prefill.profile_from(found.fields, found.data)
    if candidate is None:
        return
    profile = await api(found.request, "GET", "/api/v1/me/profile")
    body = {key: profile.get(key) for key in candidate} | {k: v for k, v in candidate.items() if v is not None}
    with contextlib.suppress(ApiError):  # a value the profile does not take: the application goes on
        await api(found.request, "PUT", "/api/v1/me/profile", json=body)


async def submit(request: Request) -> Response:
    found = await journey(request)
    if found is None:
        return await missing(request)
    posted = await read_form(request)
    if posted.get("save_profile") == forms.YES:
        await save_profile(found)
    try:
        case = await api(request, "POST", f"/api/v1/drafts/{quote(found.draft['draft_id'])}/submit", json={})
    except ApiError as error:
        if error.status == 422 and error.problem.get("errors"):
            errors = forms.errors_from_problem(error.problem, found.fields, found.texts)
            if errors:
                first = min(found.page_of(name) for name in errors)
                found.state["errors"] = errors
                return redirect(f"{found.base}/seite/{first}")
        if error.code == TRUST_CODE:
            return redirect(f"/mein-rathaus/identitaet?next={quote(found.base + '/pruefen')}")
        if error.status in (401, 404) or error.status >= 500:
            raise
        return await check_page(found, {"absenden": error.detail}, 400)
    session_of(request).data["drafts"].pop(draft_key(found.tenant, found.offering["service_id"]), None)
    session_of(request).data.get("draft_state", {}).pop(found.draft["draft_id"], None)
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
    Route("/{slug}/antrag/{service_id}/fortsetzen/{draft_id}", resume, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/seite/{number:int}", page, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/seite/{number:int}", save_page, methods=["POST"]),
    Route("/{slug}/antrag/{service_id}/pruefen", check, methods=["GET"]),
    Route("/{slug}/antrag/{service_id}/absenden", submit, methods=["POST"]),
    Route("/{slug}/antrag/{service_id}/bestaetigung/{case_id}", confirmation, methods=["GET"]),
]
