"""Raising the account's trust level with the online ID (eID), which some services need
(the Führungszeugnis: "hoch"); the password reset is in mail_links.py.

eID: the web asks the gateway to start (``/api/v1/me/eid/start``); with the development
simulator (provider ``simulated-eid``) the web shows the simulator's form itself — it
holds the gateway's tokens, the gateway's own simulator page would need login cookies —
and posts the claimed identity to ``/api/v1/me/eid/complete``. A real provider's page is a
link (a form may not redirect to another origin under the CSP's form-action). The tokens
are refreshed afterwards so that they carry the new level."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.i18n import N_
from services.web.pages import api, attempt, redirect, render, require_login, safe_next, session_of, web_of
from services.web.security import read_form

SIMULATOR = "simulated-eid"
LEVELS = ("substantial", "high")
LEVEL_NAMES = {"basic": N_("einfach (E-Mail-Adresse bestätigt)"), "substantial": N_("substanziell"), "high": N_("hoch")}


# -- eID -------------------------------------------------------------------------------------------
async def identity_page(request: Request) -> Response:
    require_login(request)
    me = await api(request, "GET", "/api/v1/me")
    return render(request, "identity.html", me=me, next=safe_next(request.query_params.get("next"), "/mein-rathaus/"), errors={},
                  level=LEVEL_NAMES.get(me.get("trust_level"), ""))


async def identity_start(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    target = safe_next(form.get("next"), "/mein-rathaus/")
    started = await api(request, "POST", "/api/v1/me/eid/start", json={})
    if started["provider"] != SIMULATOR:
        me = await api(request, "GET", "/api/v1/me")
        return render(request, "identity.html", me=me, next=target, errors={}, provider_url=started["redirect_url"],
                      level=LEVEL_NAMES.get(me.get("trust_level"), ""))
    state = (parse_qs(urlsplit(started["redirect_url"]).query).get("state") or [""])[0]
    session_of(request).data["eid"] = {"state": state, "next": target}
    return redirect("/mein-rathaus/identitaet/simulator")


async def simulator_page(request: Request) -> Response:
    require_login(request)
    if "eid" not in session_of(request).data:
        return redirect("/mein-rathaus/identitaet")
    return render(request, "eid_simulator.html", errors={}, values={})


async def simulator_done(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    pending = session_of(request).data.get("eid")
    if pending is None:
        return redirect("/mein-rathaus/identitaet")
    texts = web_of(request).texts(request.state.lang)
    values = {k: form.get(k, "").strip()[:200] for k in ("given_name", "family_name", "birth_date", "level")}
    errors = {k: texts.gettext("Bitte ausfüllen.") for k in ("given_name", "family_name", "birth_date") if not values[k]}
    if values["level"] not in LEVELS:
        errors["level"] = texts.gettext("Bitte ausfüllen.")
    if not errors:
        _, refused = await attempt(request, "POST", "/api/v1/me/eid/complete", passes=(401,), json={"state": pending["state"], **values})
        if refused:
            errors["given_name"] = refused.detail
    if errors:
        return render(request, "eid_simulator.html", 400, errors=errors, values=values)
    session = session_of(request)
    session.data.pop("eid", None)
    await web_of(request).gateway.refresh(session, request.state.lang)  # the tokens carry the new level
    session.remember_account(await api(request, "GET", "/api/v1/me"))
    session.flash(N_("Ihre Identität ist nachgewiesen."))
    return redirect(pending["next"])


routes = [
    Route("/mein-rathaus/identitaet", identity_page, methods=["GET"]),
    Route("/mein-rathaus/identitaet", identity_start, methods=["POST"]),
    Route("/mein-rathaus/identitaet/simulator", simulator_page, methods=["GET"]),
    Route("/mein-rathaus/identitaet/simulator", simulator_done, methods=["POST"]),
]
