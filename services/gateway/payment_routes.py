"""Gateway routes of payments: the citizen pays the case's fee, the provider's webhook, a
clerk's refund, the tenant admin's payments list, reconciliation and cash-office export.

A case's payment is reached through the case: whoever may not read the case gets the case's
404. Starting a payment is the applicant's; the payments service checks refunds (clerk or
team lead of the case's tenant and service) itself. The webhook needs no login: only the
provider's signature, which the payments service verifies.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.case_routes import check_ags
from services.gateway.csrf import allowed_origins, origin
from services.gateway.http import endpoint, http, json_response, query_choice, query_int, read_json

DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SIGNATURE_HEADER, MERCHANT_HEADER = "PSP-Signature", "PSP-Merchant-Id"
MAX_WEBHOOK_BYTES = 64 * 1024
MAX_RETURN_URL = 2000
STATES = ("created", "open", "paid", "failed", "cancelled", "expired")  # the payments service's own words


def payment_links(case_id: str, payment: dict[str, Any]) -> dict[str, Any]:
    return {**payment, "links": {"self": f"/api/v1/cases/{case_id}/payment", "case": f"/api/v1/cases/{case_id}"}}


def return_url_of(request: Request, config: Any) -> str | None:
    """The optional ``return_url`` of a payment start: where the provider sends the payer
    back (e.g. the web portal's case page). Only an absolute http(s) URL on one of the
    platform's own origins (PUBLIC_BASE_URL, ALLOWED_ORIGINS) — never an open redirect."""
    if not (request.content_length or request.headers.get("Transfer-Encoding")):
        return None
    body = read_json(request)
    if not isinstance(body, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    url = body.get("return_url")
    if url is None:
        return None
    if not isinstance(url, str) or not url or len(url) > MAX_RETURN_URL or any(c in url for c in "\\ \r\n\t"):
        raise DomainError("return_url_not_allowed")
    if not url.lower().startswith(("http://", "https://")) or origin(url) not in allowed_origins(
            config.public_base_url, config.allowed_origins):
        raise DomainError("return_url_not_allowed")
    return url


def query_day(request: Request, name: str, required: bool = True) -> str | None:
    value = request.args.get(name)
    if value is None and not required:
        return None
    if value is None or not DAY.match(value):
        raise DomainError("invalid_parameter", name=name, detail=text("iso_date"))
    return value


class PaymentRoutes:
    """Mixed into GatewayService (uses its payments proxy and the case routes' reads)."""

    payments: Any
    config: Any
    _readable_case: Any

    # -- citizens -------------------------------------------------------------------------
    @http("POST", "/api/v1/cases/<case_id>/payment")
    @endpoint("start_payment")
    def start_payment(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """Start or resume paying the case's fee: the answer's ``payment.pay_url`` is the
        provider's page; it sends the payer back to ``return_url`` when given (the web
        portal's case page), else to this payment (``?returned=1``)."""
        requested = return_url_of(request, self.config)
        case = self._readable_case(case_id, principal)
        if principal.kind not in authz.APPLICANT_KINDS or case.get("applicant_ref") != principal.applicant_ref:
            raise DomainError("case_not_found", case_id=case_id[:64])  # only the applicant pays; others see no case
        back = requested or f"{self.config.public_base_url.rstrip('/')}/api/v1/cases/{case['case_id']}/payment?returned=1"
        payment = self.payments.start_payment(case["case_id"], principal.to_dict(), back)
        return json_response(payment_links(case["case_id"], payment), lang=lang)

    @http("GET", "/api/v1/cases/<case_id>/payment")
    @endpoint("get_payment")
    def get_payment(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """The case's payment (status, Kassenzeichen, attempts); ``returned=1`` (the payer is
        back from the pay page) asks the provider first."""
        case = self._readable_case(case_id, principal)
        if request.args.get("returned") == "1":
            payment = self.payments.payment_returned(case["case_id"], principal.to_dict())
        else:
            payment = self.payments.payment_for_case(case["case_id"], principal.to_dict())
        return json_response(payment_links(case["case_id"], payment), lang=lang)

    # -- clerks ---------------------------------------------------------------------------
    @http("POST", "/api/v1/cases/<case_id>/payment/refund")
    @endpoint("refund_payment")
    def refund_payment(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        require_login(principal)
        body = read_json(request)
        if not isinstance(body, dict):
            raise DomainError("invalid_request", detail=text("json_object"))
        reason, amount = body.get("reason"), body.get("amount_cents")
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
            raise DomainError("invalid_parameter", name="reason", detail=text("text_length", limit=2000))
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0):
            raise DomainError("invalid_parameter", name="amount_cents", detail=text("integer_min_0"))
        case = self._readable_case(case_id, principal)
        if principal.kind not in authz.TENANT_STAFF_KINDS:  # a reader of the case, but not its clerk
            raise DomainError("forbidden")
        payment = self.payments.request_refund(case["case_id"], reason.strip(), principal.to_dict(), amount)
        return json_response(payment_links(case["case_id"], payment), lang=lang)

    # -- the provider ------------------------------------------------------------------------
    @http("POST", "/api/v1/payments/webhooks/psp")
    @endpoint("payment_webhook")
    def payment_webhook(self, request: Request, lang: str, principal: Principal) -> Response:
        """Signature only, no login: the raw body goes to the payments service as received."""
        if (request.content_length or 0) > MAX_WEBHOOK_BYTES:
            raise DomainError("webhook_rejected", reason="too_large")
        body = request.get_data(cache=False)[: MAX_WEBHOOK_BYTES + 1]
        if len(body) > MAX_WEBHOOK_BYTES:
            raise DomainError("webhook_rejected", reason="too_large")
        result = self.payments.receive_webhook(
            body.decode("utf-8", errors="replace"), request.headers.get(SIGNATURE_HEADER, ""),
            request.headers.get(MERCHANT_HEADER),
        )
        return json_response({"received": True, "status": result.get("status")}, lang=lang)

    # -- tenant admins --------------------------------------------------------------------
    def _payments_admin(self, principal: Principal, ags: str) -> str:
        require_login(principal)
        check_ags(ags)
        if not authz.can_read_audit(principal, ags):  # the tenant's admins, as for the audit trail
            raise DomainError("forbidden")
        return ags

    @http("GET", "/api/v1/tenants/<ags>/payments")
    @endpoint("list_payments")
    def list_payments(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self._payments_admin(principal, ags)
        query = {
            "state": query_choice(request, "state", STATES, None),
            "attention": request.args.get("attention") == "1",
            "before": request.args.get("before") or None,
            "limit": query_int(request, "limit", 50, 1, 200),
        }
        return json_response({"tenant": ags, "items": self.payments.list_payments(ags, query)}, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/payments/reconciliation")
    @endpoint("payments_reconciliation")
    def payments_reconciliation(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """The tenant's day reconciled with the provider's settlement report (``run=0``: the last result)."""
        self._payments_admin(principal, ags)
        report = self.payments.reconciliation_report(ags, query_day(request, "day"), request.args.get("run") != "0")
        return json_response(report, lang=lang)

    @http("GET", "/api/v1/tenants/<ags>/payments/export")
    @endpoint("payments_export")
    def payments_export(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """The cash office's CSV (Kassenzeichen, amount, date, case reference) of ``from``..``to``."""
        self._payments_admin(principal, ags)
        export = self.payments.cash_office_export(ags, query_day(request, "from"), query_day(request, "to", required=False))
        return Response(export["content"], mimetype="text/csv", headers={
            "Content-Type": export["content_type"], "Cache-Control": "no-store", "Content-Language": lang,
            "Content-Disposition": f'attachment; filename="{export["filename"]}"',
        })
