"""The clerk's case page at ``/verwaltung/faelle/{case}``: status, timeline, form data,
attachments and decision letters (downloaded through the gateway, which records each read in
the audit trail), the payment with its Kassenzeichen and refunds, the delivery state of the
messages sent to the applicant and — for the roles the gateway shows it to — the audit trail.
Actions: start review, request information, approve, reject, reassign, refund, and taking a
rule's decision back into review — only after the clerk confirms having read that the decision
has already gone to the applicant (mail, postbox, letter), who is then told it no longer holds.

Each part is its own API call; a part the gateway refuses to this role (403/404) is left out
rather than failing the page, so one template serves clerks, team leads and tenant admins."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from services.web import forms
from services.web.clerk.worklist import clerk_name
from services.web.gateway import ApiError
from services.web.i18n import N_
from services.web.pages import api, attempt, not_found, redirect, render, require_login, session_of, web_of
from services.web.security import read_form

ACTIONS = {
    "start-review": (None, N_("Die Bearbeitung wurde begonnen.")),
    "request-information": ("question", N_("Die Rückfrage wurde gesendet.")),
    "approve": ("decision", N_("Der Antrag wurde bewilligt.")),
    "reject": ("reason", N_("Der Antrag wurde abgelehnt.")),
    "reassign": ("clerk", N_("Der Fall wurde neu zugewiesen.")),
    "reverse-automatic-decision": ("reason", N_("Die automatische Entscheidung wurde aufgehoben; der Fall ist wieder in Bearbeitung.")),
}
REVERSE = "reverse-automatic-decision"
#: The messages that told the applicant of a decision.
DECISION_KINDS = ("case_approved", "case_rejected")
#: The messages' kinds as the case page names them (the notifications service's kinds).
MESSAGE_KINDS = {
    "case_submitted": N_("Eingangsbestätigung"), "case_information_requested": N_("Hinweis auf Rückfrage"),
    "case_approved": N_("Hinweis auf Entscheidung"), "case_rejected": N_("Hinweis auf Entscheidung"),
    "case_withdrawn": N_("Bestätigung der Rücknahme"), "case_reassigned": N_("Hinweis auf neue Ansprechperson"),
    "payment_requested": N_("Zahlungsaufforderung"), "payment_received": N_("Zahlungsbestätigung"),
    "payment_failed": N_("Hinweis auf fehlgeschlagene Zahlung"), "payment_refunded": N_("Erstattungsbestätigung"),
    "case_reminder": N_("Erinnerung an Rückfrage"), "case_decision_reversed": N_("Hinweis auf aufgehobene Entscheidung"),
}


async def optional(request: Request, path: str) -> Any:
    """A part of the page this role may not see (403/404) is None, not an error page."""
    try:
        return await api(request, "GET", path)
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


def attachments_of(definition: dict[str, Any], data: dict[str, Any], texts: Any) -> list[dict[str, str]]:
    """The files the form refers to (``x-vr-widget: file`` fields holding an ``attachment_id``)."""
    labels = {f.name: f.label for f in forms.fields_of(definition, texts)}
    found = []
    for name, value in data.items():
        if isinstance(value, dict) and value.get("attachment_id"):
            found.append({"label": labels.get(name, name), "attachment_id": str(value["attachment_id"]),
                          "filename": str(value.get("filename") or "")})
    return found


def decision_sent(case: dict[str, Any], messages: list[dict[str, Any]] | None,
                  documents: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """What the clerk must see before reversing a rule's decision: None unless the case's last
    decision is a rule's (and still stands); else how far it has reached the applicant — the
    decision mail's delivery state (``mail``: its status, None while not yet listed; it is
    sent for every decision) and whether a decision letter is in the postbox (``letter``)."""
    decisions = [s for s in case.get("timeline") or () if s.get("step") in ("approved", "rejected")]
    if case.get("status") not in ("approved", "rejected") or not decisions or not decisions[-1].get("automatic"):
        return None
    mails = [m for m in messages or () if m.get("kind") in DECISION_KINDS and m.get("channel", "email") == "email"]
    mail = mails[-1] if mails else None
    return {
        "delivered": bool(mail and mail.get("status") == "delivered"),
        "mail": (mail.get("status_text") or mail.get("status")) if mail else None,
        "letter": any(not d.get("erased") for d in documents or ()),
    }


def refundable(payment: dict[str, Any] | None) -> int:
    """What is left to refund of the paid attempt (0: nothing)."""
    attempt = (payment or {}).get("payment") or {}
    if not (payment or {}).get("paid"):
        return 0
    return max(int(attempt.get("paid_cents") or attempt.get("amount_cents") or 0) - int(attempt.get("refunded_cents") or 0), 0)


async def case_page(request: Request, errors: dict[str, str] | None = None, status: int = 200,
                    posted: dict[str, str] | None = None) -> Response:
    account = require_login(request)
    case_id = quote(request.path_params["case_id"])
    try:
        case = await api(request, "GET", f"/api/v1/cases/{case_id}")
    except ApiError as error:
        trail = await optional(request, f"/api/v1/cases/{case_id}/audit") if error.status == 404 else None
        if trail is None:
            raise
        # a tenant admin reads no case contents, only who read or changed the case
        return render(request, "clerk_audit.html", staff_area=True, case_id=trail["case_id"], audit=trail["items"])
    definition = await api(request, "GET", f"/api/v1/services/{quote(case['service_id'])}", params={"version": str(case["form_version"])})
    texts = web_of(request).texts(request.state.lang)
    data = (case.get("contents") or {}).get("form_data") or {}
    fields = [f for f in forms.fields_of(definition, texts) if f.name in data and not isinstance(data[f.name], dict)]
    rows = [(f.label, forms.display(f, data.get(f.name), texts)) for f in fields]
    parts = ["messages", "documents", *(["payment"] if case.get("fee_cents") else []),
             *(["audit"] if account.get("kind") != "clerk" else [])]  # the audit trail is no clerk's
    found = dict(zip(parts, await asyncio.gather(*(optional(request, f"/api/v1/cases/{case_id}/{p}") for p in parts)), strict=True))
    payment, messages, documents, audit = (found.get(p) for p in ("payment", "messages", "documents", "audit"))
    due = (date.today() + timedelta(days=14)).isoformat()
    return render(request, "clerk_case.html", status, staff_area=True, case=case, definition=definition, rows=rows,
                  attachments=attachments_of(definition, data, texts), payment=payment, refund_left=refundable(payment),
                  messages=(messages or {}).get("items"), documents=(documents or {}).get("items"),
                  audit=(audit or {}).get("items"), kinds=MESSAGE_KINDS, may_act=account.get("kind") == "clerk",
                  sent=decision_sent(case, (messages or {}).get("items"), (documents or {}).get("items")),
                  errors=errors or {}, posted=posted or {}, due=due,
                  authority=await web_of(request).tenant_by_ags(case["tenant"]))


async def act(request: Request) -> Response:
    account = require_login(request)
    form = await read_form(request)
    case_id, action = request.path_params["case_id"], request.path_params["action"]
    if action not in ACTIONS:
        return not_found(request)
    field_name, done = ACTIONS[action]
    texts = web_of(request).texts(request.state.lang)
    payload: dict[str, Any] = {}
    if action in ("start-review", REVERSE):
        payload["clerk"] = clerk_name(account)
    if action == REVERSE and form.get("confirm") != "ja":  # the hint that it was sent is read first
        return await case_page(request, {"confirm": texts.gettext(
            "Bitte bestätigen Sie, dass die Entscheidung bereits mitgeteilt wurde und aufgehoben werden soll.")}, 400, form)
    if field_name:
        value = form.get(field_name, "").strip()[:4000]
        if not value and action not in ("approve", REVERSE):
            return await case_page(request, {field_name: texts.gettext("Bitte füllen Sie dieses Feld aus.")}, 400)
        if value:
            payload[field_name] = value
    if action == "request-information" and form.get("due_date"):
        payload["due_date"] = form["due_date"][:10]
    _, refused = await attempt(request, "POST", f"/api/v1/cases/{quote(case_id)}/actions/{action}", passes=(401, 404), json=payload)
    if refused:
        return await case_page(request, {field_name or "aktionen": refused.detail}, 400, form)
    session_of(request).flash(done)
    return redirect(f"/verwaltung/faelle/{quote(case_id)}")


def cents_of(text: str) -> int | None:
    """"12,50" or "12.50" or "12" euros as cents; None if it is not an amount."""
    cleaned = text.strip().replace("€", "").replace(" ", "")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    try:
        cents = round(float(cleaned) * 100)
    except ValueError:
        return None
    return cents if cents > 0 else None


async def refund(request: Request) -> Response:
    """Refund all that is left, or the amount entered, with the reason the citizen is told."""
    require_login(request)
    form = await read_form(request)
    case_id = request.path_params["case_id"]
    texts = web_of(request).texts(request.state.lang)
    reason, amount = form.get("refund_reason", "").strip(), form.get("refund_amount", "").strip()
    errors = {}
    if not reason:
        errors["refund_reason"] = texts.gettext("Geben Sie den Grund der Erstattung an.")
    payload: dict[str, Any] = {"reason": reason[:2000]}
    if amount:
        cents = cents_of(amount)
        if cents is None:
            errors["refund_amount"] = texts.gettext("Der Betrag muss in Euro angegeben werden, z. B. 13,00.")
        else:
            payload["amount_cents"] = cents
    if errors:
        return await case_page(request, errors, 400, form)
    _, refused = await attempt(request, "POST", f"/api/v1/cases/{quote(case_id)}/payment/refund", passes=(401, 404), json=payload)
    if refused:
        return await case_page(request, {"refund_reason": refused.detail}, 400, form)
    session_of(request).flash(N_("Die Erstattung wurde veranlasst."))
    return redirect(f"/verwaltung/faelle/{quote(case_id)}#zahlung")


def media_type_of(content: bytes) -> tuple[str, str]:
    """The type and file extension of an upload or letter by its content (the gateway accepts
    only PDF, JPEG and PNG)."""
    if content.startswith(b"%PDF"):
        return "application/pdf", "pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg", "jpg"
    if content.startswith(b"\x89PNG"):
        return "image/png", "png"
    return "application/octet-stream", "bin"


async def download(request: Request) -> Response:
    """An attachment or a decision letter, as the gateway hands it out (and audits it)."""
    require_login(request)
    case_id, kind, item = (quote(request.path_params[k]) for k in ("case_id", "kind", "item_id"))
    path = {"anlagen": "attachments", "dokumente": "documents"}.get(kind)
    if path is None:
        return not_found(request)
    content = await api(request, "GET", f"/api/v1/cases/{case_id}/{path}/{item}", as_bytes=True)
    media_type, extension = media_type_of(content)
    name = f"{'bescheid' if kind == 'dokumente' else 'anlage'}-{item[:8]}.{extension}"
    return Response(content, 200, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "X-Content-Type-Options": "nosniff"})


async def case_view(request: Request) -> Response:
    return await case_page(request)
