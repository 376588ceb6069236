"""Accounts and "Mein Rathaus": register, log in and out (the pages that mail links open,
confirming the address and resetting the password, are mail_links.py), the
citizen's cases and drafts across all municipalities (status, timeline, answering a clerk's
question, paying a fee — the provider sends the payer back to the case page, which asks
for the payment's status once) and the account settings (language, data export, deleting
the account).

Logging in stores the gateway's tokens in the web's encrypted session cookie (sessions.py)
with a new CSRF token; logging out ends the session at the gateway too (its tokens are
revoked, so a copy of the old cookie is worth nothing)."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.gateway import ApiError, NotLoggedIn, tokens
from services.web.i18n import N_
from services.web.mail_links import password_error
from services.web.pages import api, attempt, redirect, render, require_login, safe_next, session_of, web_of
from services.web.security import read_form


def is_staff(account: dict[str, Any]) -> bool:
    return account.get("kind") not in ("citizen", "organisation")


# -- log in / out ----------------------------------------------------------------------------
async def login_form(request: Request) -> Response:
    staff = request.url.path.startswith("/verwaltung/")
    return render(request, "login.html", next=safe_next(request.query_params.get("next"), "/verwaltung/" if staff else "/mein-rathaus/"),
                  staff_area=staff, errors={}, values={})


async def login(request: Request) -> Response:
    form = await read_form(request)
    staff = request.url.path.startswith("/verwaltung/")
    target = safe_next(form.get("next"), "/verwaltung/" if staff else "/mein-rathaus/")
    values = {"email": form.get("email", "").strip()}
    texts = web_of(request).texts(request.state.lang)
    errors: dict[str, str] = {}
    if not values["email"]:
        errors["email"] = texts.gettext("Geben Sie Ihre E-Mail-Adresse ein.")
    if not form.get("password"):
        errors["password"] = texts.gettext("Geben Sie Ihr Passwort ein.")
    if not errors:
        answer, refused = await attempt(request, "POST", "/api/v1/auth/login", auth=False,
                                        json={"email": values["email"], "password": form["password"]})
        if refused:
            errors["email"] = refused.detail
        else:
            session = web_of(request).sessions.rotate(session_of(request))
            request.state.session = session
            session.log_in(tokens(answer))
            session.remember_account(await api(request, "GET", "/api/v1/me"))
            if is_staff(session.account or {}) and target == "/mein-rathaus/":
                target = "/verwaltung/"
            return redirect(target)
    return render(request, "login.html", 400, next=target, staff_area=staff, errors=errors, values=values)


async def logout(request: Request) -> Response:
    await read_form(request)
    session = session_of(request)
    if session.auth:
        with contextlib.suppress(ApiError, NotLoggedIn):  # the session is gone at the gateway already
            await api(request, "POST", "/api/v1/auth/logout", json={"refresh_token": session.auth["refresh_token"]})
    session.auth = None
    session.data.clear()
    request.state.session = web_of(request).sessions.rotate(session)
    request.state.session.flash(N_("Sie haben sich abgemeldet."))
    return redirect("/")


# -- register and confirm ------------------------------------------------------------------------
async def register_form(request: Request) -> Response:
    return render(request, "register.html", errors={}, values={})


async def register(request: Request) -> Response:
    form = await read_form(request)
    texts = web_of(request).texts(request.state.lang)
    values = {"email": form.get("email", "").strip(), "display_name": form.get("display_name", "").strip()}
    errors: dict[str, str] = {}
    if not values["display_name"]:
        errors["display_name"] = texts.gettext("Geben Sie Ihren Namen ein.")
    if not values["email"]:
        errors["email"] = texts.gettext("Geben Sie Ihre E-Mail-Adresse ein.")
    if problem := password_error(form.get("password", ""), texts):
        errors["password"] = problem
    if not errors:
        _, refused = await attempt(request, "POST", "/api/v1/auth/register", auth=False, json={
            "email": values["email"], "password": form["password"], "display_name": values["display_name"], "kind": "citizen"})
        if refused:
            errors["password" if "password" in refused.code else "email"] = refused.detail
        else:
            session_of(request).data["registered"] = values["email"]
            return redirect("/konto/registriert")
    return render(request, "register.html", 400, errors=errors, values=values)


async def registered(request: Request) -> Response:
    return render(request, "registered.html", email=session_of(request).data.get("registered", ""),
                  sink=web_of(request).settings.dev_mail_sink_url)


# -- Mein Rathaus ----------------------------------------------------------------------------------
async def my_drafts(request: Request) -> list[dict[str, Any]]:
    try:
        return (await api(request, "GET", "/api/v1/me/drafts"))["items"]
    except ApiError as error:
        if error.status == 403:  # staff keep no drafts
            return []
        raise


async def my_cases(request: Request) -> Response:
    require_login(request)
    cases = (await api(request, "GET", "/api/v1/me/cases"))["items"]
    cases.sort(key=lambda c: c.get("submitted_at") or "", reverse=True)
    names = {s["service_id"]: s for s in (await api(request, "GET", "/api/v1/services"))["items"]}
    tenants = {t["ags"]: t for t in await web_of(request).tenants()}
    return render(request, "my_cases.html", cases=cases, names=names, tenants=tenants, drafts=await my_drafts(request))


async def discard_draft(request: Request) -> Response:
    """"Verwerfen": the draft is discarded at the submissions service (its answers dropped)."""
    require_login(request)
    await read_form(request)
    try:
        await api(request, "DELETE", f"/api/v1/drafts/{quote(request.path_params['draft_id'])}", json={})
    except ApiError as error:
        if error.status != 404:  # gone already: as good as discarded
            raise
    session_of(request).flash(N_("Der Entwurf wurde verworfen."))
    return redirect("/mein-rathaus/")


async def load_case(request: Request) -> dict[str, Any]:
    return await api(request, "GET", f"/api/v1/cases/{quote(request.path_params['case_id'])}")


async def my_case(request: Request) -> Response:
    require_login(request)
    case = await load_case(request)
    definition = await api(request, "GET", f"/api/v1/services/{quote(case['service_id'])}", params={"version": str(case["form_version"])})
    payment = None
    if case.get("fee_cents"):
        try:
            payment = await api(request, "GET", f"/api/v1/cases/{case['case_id']}/payment",
                                params={"returned": "1"} if request.query_params.get("bezahlt") else None)
        except ApiError as error:
            if error.status != 404:
                raise
    tenant = await web_of(request).tenant_by_ags(case["tenant"])
    return render(request, "my_case.html", case=case, definition=definition, payment=payment, authority=tenant, errors={})


async def answer(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    case_id = request.path_params["case_id"]
    text = form.get("answer", "").strip()
    texts = web_of(request).texts(request.state.lang)
    errors: dict[str, str] = {}
    if not text:
        errors["answer"] = texts.gettext("Geben Sie Ihre Antwort ein.")
    else:
        _, refused = await attempt(request, "POST", f"/api/v1/cases/{quote(case_id)}/actions/supply-information",
                                   passes=(401, 404), json={"answer": text[:20000]})
        if refused:
            errors["answer"] = refused.detail
    if errors:
        case = await load_case(request)
        definition = await api(request, "GET", f"/api/v1/services/{quote(case['service_id'])}")
        return render(request, "my_case.html", 400, case=case, definition=definition, payment=None, errors=errors,
                      authority=await web_of(request).tenant_by_ags(case["tenant"]))
    session_of(request).flash(N_("Ihre Antwort wurde gesendet."))
    return redirect(f"/mein-rathaus/antraege/{quote(case_id)}")


def pay_url_of(view: dict[str, Any]) -> str | None:
    """The open attempt's pay page (``payment.pay_url`` of the case's payment)."""
    attempt = view.get("payment") or {}
    return attempt.get("pay_url") if attempt.get("state") in (None, "created", "open") else None


async def pay(request: Request) -> Response:
    """Start (or resume) paying: the provider's pay page is a link on the case page (a
    redirect from a form to another origin would break the form-action policy)."""
    require_login(request)
    await read_form(request)
    case_id = request.path_params["case_id"]
    back = f"{web_of(request).settings.public_url}/mein-rathaus/antraege/{quote(case_id)}?bezahlt=1"
    try:
        payment = await api(request, "POST", f"/api/v1/cases/{quote(case_id)}/payment", json={"return_url": back})
    except ApiError as error:
        if error.code != "payment_not_found":
            raise
        # the receivable comes with the case's saga, moments after submitting
        session_of(request).flash(N_("Die Zahlung wird gerade vorbereitet. Bitte versuchen Sie es in einigen Sekunden noch einmal."))
        return redirect(f"/mein-rathaus/antraege/{quote(case_id)}")
    session_of(request).data["pay_url"] = {case_id: pay_url_of(payment)}
    return redirect(f"/mein-rathaus/antraege/{quote(case_id)}/bezahlen")


async def pay_page(request: Request) -> Response:
    require_login(request)
    case = await load_case(request)
    pay_url = (session_of(request).data.get("pay_url") or {}).get(case["case_id"])
    payment = await api(request, "GET", f"/api/v1/cases/{case['case_id']}/payment")
    return render(request, "pay.html", case=case, payment=payment, pay_url=pay_url or pay_url_of(payment))


async def settings_page(request: Request) -> Response:
    require_login(request)
    me = await api(request, "GET", "/api/v1/me")
    return render(request, "settings.html", me=me, errors={})


async def export(request: Request) -> Response:
    require_login(request)
    data = await api(request, "GET", "/api/v1/me/export")
    return Response(json.dumps(data, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="meine-daten.json"'})


async def delete_account(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    try:
        await api(request, "DELETE", "/api/v1/me", json={"password": form.get("password", "")})
    except ApiError as error:
        if error.status in (401, 403, 400, 422):
            me = await api(request, "GET", "/api/v1/me")
            return render(request, "settings.html", 400, me=me, errors={"password": error.detail})
        raise
    session = session_of(request)
    session.auth = None
    request.state.session = web_of(request).sessions.rotate(session)
    request.state.session.flash(N_("Ihr Konto wird gelöscht."))
    return redirect("/")


routes = [
    Route("/konto/anmelden", login_form, methods=["GET"]),
    Route("/konto/anmelden", login, methods=["POST"]),
    Route("/verwaltung/anmelden", login_form, methods=["GET"]),
    Route("/verwaltung/anmelden", login, methods=["POST"]),
    Route("/konto/abmelden", logout, methods=["POST"]),
    Route("/konto/registrieren", register_form, methods=["GET"]),
    Route("/konto/registrieren", register, methods=["POST"]),
    Route("/konto/registriert", registered, methods=["GET"]),
    Route("/mein-rathaus/", my_cases, methods=["GET"]),
    Route("/mein-rathaus/antraege/{case_id}", my_case, methods=["GET"]),
    Route("/mein-rathaus/entwuerfe/{draft_id}/verwerfen", discard_draft, methods=["POST"]),
    Route("/mein-rathaus/antraege/{case_id}/antwort", answer, methods=["POST"]),
    Route("/mein-rathaus/antraege/{case_id}/bezahlen", pay, methods=["POST"]),
    Route("/mein-rathaus/antraege/{case_id}/bezahlen", pay_page, methods=["GET"]),
    Route("/mein-rathaus/konto", settings_page, methods=["GET"]),
    Route("/mein-rathaus/konto/export", export, methods=["GET"]),
    Route("/mein-rathaus/konto/loeschen", delete_account, methods=["POST"]),
]
