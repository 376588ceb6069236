"""Mein Rathaus: the postbox (every message to the citizen, newest first, its full text,
the decision letters as PDF downloads through the web) and the notification preferences
(per message kind whether it also comes by e-mail, and the mails' language)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.web.i18n import N_
from services.web.pages import api, redirect, render, require_login, session_of, web_of
from services.web.security import read_form

#: the message kinds of the preferences, in the order the page lists them, with their labels
KINDS = (
    ("case_submitted", N_("Antrag eingegangen")),
    ("case_information_requested", N_("Rückfrage der Behörde")),
    ("case_approved", N_("Antrag bewilligt")),
    ("case_rejected", N_("Antrag abgelehnt")),
    ("case_withdrawn", N_("Antrag zurückgezogen")),
    ("case_reassigned", N_("Antrag an eine andere Stelle abgegeben")),
    ("case_decision_reversed", N_("Automatische Entscheidung aufgehoben")),
    ("payment_requested", N_("Gebühr zu zahlen")),
    ("payment_received", N_("Zahlung eingegangen")),
    ("payment_failed", N_("Zahlung fehlgeschlagen")),
    ("payment_refunded", N_("Zahlung erstattet")),
)
LANGS = (("de", N_("Deutsch")), ("en", N_("Englisch")))


async def postbox(request: Request) -> Response:
    require_login(request)
    items = (await api(request, "GET", "/api/v1/me/postbox"))["items"]
    tenants = {t["ags"]: t for t in await web_of(request).tenants()}
    return render(request, "postbox.html", items=items, tenants=tenants)


async def message(request: Request) -> Response:
    """One message; opening it marks it read."""
    require_login(request)
    item_id = quote(request.path_params["item_id"])
    item = await api(request, "GET", f"/api/v1/me/postbox/{item_id}")
    if not item["read"]:
        await api(request, "POST", f"/api/v1/me/postbox/{item_id}/read", json={"read": True})
    authority = await web_of(request).tenant_by_ags(item["tenant"])
    return render(request, "postbox_item.html", item=item, authority=authority)


async def attachment(request: Request) -> Response:
    """A decision letter (PDF), fetched from the gateway with the session's token."""
    require_login(request)
    item_id, attachment_id = quote(request.path_params["item_id"]), quote(request.path_params["attachment_id"])
    item = await api(request, "GET", f"/api/v1/me/postbox/{item_id}")
    found = next((a for a in item["attachments"] if a["attachment_id"] == request.path_params["attachment_id"]), None)
    if found is None:
        return render(request, "error.html", 404, title_key="not_found")
    content = await web_of(request).gateway.raw(
        f"/api/v1/me/postbox/{item_id}/attachments/{attachment_id}", session=session_of(request), lang=request.state.lang)
    filename = quote(found["filename"])
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"})


async def preferences_page(request: Request) -> Response:
    require_login(request)
    preferences = await api(request, "GET", "/api/v1/me/preferences")
    return render(request, "preferences.html", preferences=preferences, kinds=KINDS, langs=LANGS)


async def save_preferences(request: Request) -> Response:
    require_login(request)
    form = await read_form(request)
    body = {"email": {kind: form.get(kind) == "ja" for kind, _label in KINDS}}
    if form.get("language") in dict(LANGS):
        body["language"] = form["language"]
    await api(request, "PUT", "/api/v1/me/preferences", json=body)
    session_of(request).flash(N_("Ihre Einstellungen wurden gespeichert."))
    return redirect("/mein-rathaus/benachrichtigungen")


routes = [
    Route("/mein-rathaus/postfach", postbox, methods=["GET"]),
    Route("/mein-rathaus/postfach/{item_id}", message, methods=["GET"]),
    Route("/mein-rathaus/postfach/{item_id}/anhaenge/{attachment_id}", attachment, methods=["GET"]),
    Route("/mein-rathaus/benachrichtigungen", preferences_page, methods=["GET"]),
    Route("/mein-rathaus/benachrichtigungen", save_preferences, methods=["POST"]),
]
