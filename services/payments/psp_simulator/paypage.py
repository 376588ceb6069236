"""The hosted pay page (German, for citizens): ``GET /pay/{token}`` shows amount, purpose
and the payment methods; ``POST`` with ``method`` and ``outcome`` completes the payment and
sends the payer back to the merchant's return URL (303). The token in the URL is the only
key to the page, so it is never logged."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from services.payments.psp_simulator.errors import ApiError
from services.payments.psp_simulator.settlement import BERLIN
from services.payments.psp_simulator.simulator import simulator

TEMPLATES = Jinja2Templates(directory=Path(__file__).with_name("templates"))
METHODS = (
    ("wero", "Wero"),
    ("paypal", "PayPal"),
    ("card", "Kredit- oder Debitkarte"),
    ("sepa_direct_debit", "SEPA-Lastschrift"),
)
STATUS_TEXT = {
    "succeeded": "Diese Zahlung ist abgeschlossen: bezahlt.",
    "failed": "Diese Zahlung ist fehlgeschlagen.",
    "cancelled": "Diese Zahlung wurde abgebrochen.",
    "expired": "Diese Zahlung ist abgelaufen.",
}


def euro(cents: int) -> str:
    """German notation: 1300 → ``13,00 €`` (thousands with a dot)."""
    return f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d}\u00a0€"


def return_to(url: str, payment_id: str) -> str:
    """The merchant's return URL with ``payment_id`` added to its query (nothing else: the
    merchant learns the outcome from a webhook or the status API, not from the browser)."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("payment_id", payment_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _page(request: Request, payment: Any, merchant: str, status: int = 200, error: str = "", chosen: str = "") -> Response:
    expires = datetime.fromtimestamp(payment["expires_at"], BERLIN)
    context = {
        "payment": payment, "merchant": merchant, "amount": euro(payment["amount"]), "methods": METHODS,
        "expires": expires.strftime("%d.%m.%Y, %H:%M Uhr"), "error": error, "chosen": chosen,
        "finished": STATUS_TEXT.get(payment["status"], ""),
        "return_url": return_to(payment["return_url"], payment["id"]),
    }
    return TEMPLATES.TemplateResponse(request, "pay.html", context, status_code=status)


def _missing(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "missing.html", {}, status_code=404)


async def show(request: Request) -> Response:
    sim = simulator(request)
    try:
        payment, merchant = sim.provider.by_token(request.path_params["token"])
    except ApiError:
        return _missing(request)
    return _page(request, payment, merchant)


async def submit(request: Request) -> Response:
    sim = simulator(request)
    token = request.path_params["token"]
    form = await request.form()
    method, outcome = form.get("method"), form.get("outcome")
    try:
        completed = sim.provider.complete(
            token, method if isinstance(method, str) else None, outcome if isinstance(outcome, str) else None
        )
    except ApiError as error:
        if error.status == 404:
            return _missing(request)
        payment, merchant = sim.provider.by_token(token)
        if error.status == 409:
            return _page(request, payment, merchant, 409)
        message = "Bitte wählen Sie eine Zahlungsart." if error.details.get("field") == "method" else "Bitte wählen Sie eine der Schaltflächen."
        return _page(request, payment, merchant, 422, message, method if isinstance(method, str) else "")
    return RedirectResponse(return_to(completed["return_url"], completed["id"]), status_code=303)


ROUTES = [Route("/pay/{token}", show, methods=["GET"]), Route("/pay/{token}", submit, methods=["POST"])]
