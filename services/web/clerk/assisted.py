"""Assisted submission at ``/verwaltung/{ags}/antrag-stellen``: a clerk fills in a form for a
citizen at the counter or on the phone. The gateway's ``POST /api/v1/tenants/{ags}/cases``
takes ``on_behalf_of`` (the citizen's or organisation's account number): the case is the
citizen's, the clerk is its actor, and it is recorded as assisted (the trust level is then the
clerk's check at the counter). Whether this clerk may submit for this service is the
gateway's decision (a grant of the responsible authority covering it).

The whole form is one page here (a clerk knows it); file fields are left out — an upload
belongs to whoever uploaded it, so the citizen adds documents themselves."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from services.web import forms
from services.web.gateway import ApiError
from services.web.i18n import N_
from services.web.pages import api, not_found, redirect, render, require_login, session_of, web_of
from services.web.security import read_form

ACCOUNT_ID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
IDEMPOTENCY_KEY = re.compile(r"^[0-9a-f]{32}$")
#: Problems about the account named in ``on_behalf_of``, shown at its field.
ACCOUNT_PROBLEMS = ("invalid_parameter", "account_not_found")


def covered(account: dict[str, Any], ags: str, service_id: str) -> bool:
    """The grants the form offers services for (the gateway checks again on submission)."""
    return any(g["tenant"] == ags and g.get("role") in ("clerk", "team_lead")
               and ("*" in g.get("service_keys", []) or service_id in g.get("service_keys", []))
               for g in account.get("grants", []))


async def start(request: Request) -> Response:
    """Step 1: which service, for whom (a GET form: no state, works without JavaScript)."""
    account = require_login(request)
    ags = request.path_params["ags"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    services = [s for s in (await api(request, "GET", "/api/v1/services"))["items"] if covered(account, ags, s["service_id"])]
    chosen = request.query_params.get("service_id", "")
    if chosen in {s["service_id"] for s in services}:
        return redirect(f"/verwaltung/{ags}/antrag-stellen/{quote(chosen)}?{urlencode({'fuer': request.query_params.get('fuer', '')[:64]})}")
    return render(request, "clerk_assisted_start.html", staff_area=True, tenant_ctx=tenant, services=services,
                  errors={}, for_account=request.query_params.get("fuer", "")[:64])


def writable(definition: dict[str, Any], texts: Any) -> list[forms.Field]:
    """The form's fields without file uploads (objects)."""
    properties = definition["form"]["properties"]
    return [f for f in forms.fields_of(definition, texts) if properties[f.name].get("type") != "object"]


async def form_page(request: Request, errors: dict[str, str] | None = None, raw: dict[str, dict[str, str]] | None = None,
                    for_account: str | None = None, key: str | None = None, status: int = 200) -> Response:
    require_login(request)
    ags, service_id = request.path_params["ags"], request.path_params["service_id"]
    tenant = await web_of(request).tenant_by_ags(ags)
    if tenant is None:
        return not_found(request)
    definition = await api(request, "GET", f"/api/v1/services/{quote(service_id)}")
    texts = web_of(request).texts(request.state.lang)
    fields = writable(definition, texts)
    return render(request, "clerk_assisted_form.html", status, staff_area=True, tenant_ctx=tenant, definition=definition,
                  fields=fields, raw=raw or {f.name: {} for f in fields}, field_errors=errors or {}, errors=errors or {},
                  for_account=for_account if for_account is not None else request.query_params.get("fuer", "")[:64],
                  key=key or uuid.uuid4().hex)


async def form_view(request: Request) -> Response:
    return await form_page(request)


async def submit(request: Request) -> Response:
    require_login(request)
    posted = await read_form(request)
    ags, service_id = request.path_params["ags"], request.path_params["service_id"]
    definition = await api(request, "GET", f"/api/v1/services/{quote(service_id)}")
    texts = web_of(request).texts(request.state.lang)
    fields = writable(definition, texts)
    values, errors, raw = forms.parse(fields, posted, texts)
    for_account = posted.get("on_behalf_of", "").strip()
    key = posted.get("idempotency_key", "") if IDEMPOTENCY_KEY.match(posted.get("idempotency_key", "")) else uuid.uuid4().hex
    if not ACCOUNT_ID.match(for_account):
        errors = {"on_behalf_of": texts.gettext("Geben Sie die Kundennummer der antragstellenden Person an (36 Zeichen).")} | errors
    if errors:
        return await form_page(request, errors, raw, for_account, key, 400)
    body = {"service_id": service_id, "form_data": values, "on_behalf_of": for_account.lower()}  # the form in force
    try:
        case = await api(request, "POST", f"/api/v1/tenants/{quote(ags)}/cases", json=body, headers={"Idempotency-Key": key})
    except ApiError as error:
        if error.status == 401 or error.status >= 500:
            raise
        if error.code == "form_invalid":
            errors = forms.errors_from_problem(error.problem, fields, texts) or {"on_behalf_of": error.detail}
        elif error.code in ACCOUNT_PROBLEMS:
            errors = {"on_behalf_of": texts.gettext("Unter dieser Kundennummer gibt es kein Konto einer Bürgerin, eines Bürgers oder einer Organisation.")}
        else:
            errors = {"on_behalf_of": error.detail}
        return await form_page(request, errors, raw, for_account, key, 400)
    session_of(request).flash(N_("Der Antrag wurde für die antragstellende Person eingereicht."))
    return redirect(f"/verwaltung/faelle/{quote(case['case_id'])}")
