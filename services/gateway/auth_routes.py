"""Gateway routes of the citizen account (Kundenkonto); staff administration: staff_routes.py.

Tokens go out in the JSON body (API clients, bearer) and as HTTP-only, SameSite=Lax
cookies (browsers; ``Secure`` unless COOKIE_SECURE=0). The cookies cannot be ridden from
another site (CSRF): every state-changing request that carries them — and every login, so
nobody is logged into someone else's account — must declare JSON (bodiless ones too) and
come from our own origin when the browser names one (``Origin``, ``Sec-Fetch-Site``); the
gateway checks that before any handler runs (:mod:`services.gateway.csrf`).
"""

from __future__ import annotations

import html
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, render, text
from services.gateway.auth import ACCESS_COOKIE, REFRESH_COOKIE, require_login
from services.gateway.http import client_ip, endpoint, http, json_response, read_json

REFRESH_PATH = "/api/v1/auth"


def _text(body: dict[str, Any], name: str, limit: int = 500, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise DomainError("invalid_parameter", name=name, detail=text("text_length", limit=limit))
    return value


def _object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    return body


def _with_tokens(tokens: dict[str, Any], lang: str, secure: bool) -> Response:
    response = json_response(
        {k: tokens[k] for k in ("access_token", "refresh_token", "token_type", "expires_in", "refresh_expires_in")},
        lang=lang,
    )
    response.headers["Cache-Control"] = "no-store"
    common = {"httponly": True, "secure": secure, "samesite": "Lax"}
    response.set_cookie(ACCESS_COOKIE, tokens["access_token"], max_age=tokens["expires_in"], path="/", **common)
    response.set_cookie(
        REFRESH_COOKIE, tokens["refresh_token"], max_age=tokens["refresh_expires_in"], path=REFRESH_PATH, **common
    )
    return response


class AuthRoutes:
    """Mixed into GatewayService (uses its identity and submissions proxies)."""

    identity: Any
    submissions: Any
    auth: Any
    config: Any

    # -- register, verify, log in and out ----------------------------------------------------
    @http("POST", "/api/v1/auth/register")
    @endpoint("register")
    def register(self, request: Request, lang: str, principal: Principal) -> Response:
        body = _object(request)
        kind = body.get("kind", "citizen")
        if not isinstance(kind, str) or kind not in authz.APPLICANT_KINDS:
            raise DomainError("invalid_parameter", name="kind", detail="citizen | organisation")
        result = self.identity.register(
            _text(body, "email", 254), _text(body, "password", 1000), kind,
            _text(body, "display_name", 200, required=False), _text(body, "organisation_name", 200, required=False),
            client_ip(request, self.config.trusted_proxies),
        )
        return json_response(result, 202, lang=lang)

    @http("POST", "/api/v1/auth/verify-email")
    @endpoint("verify_email")
    def verify_email(self, request: Request, lang: str, principal: Principal) -> Response:
        """The button of the page the mail links to (services.gateway.pages): never a GET,
        which mail scanners follow."""
        token = _object(request).get("token")
        if not isinstance(token, str) or not token:
            raise DomainError("token_invalid")
        return json_response(self.identity.verify_email(token[:500]), lang=lang)

    @http("POST", "/api/v1/auth/verify-email/resend")
    @endpoint("resend_verification")
    def resend_verification(self, request: Request, lang: str, principal: Principal) -> Response:
        email = _text(_object(request), "email", 254)
        return json_response(
            self.identity.resend_verification(email, client_ip(request, self.config.trusted_proxies)), 202, lang=lang
        )

    @http("POST", "/api/v1/auth/login")
    @endpoint("login")
    def login(self, request: Request, lang: str, principal: Principal) -> Response:
        body = _object(request)
        result = self.identity.login(_text(body, "email", 254), _text(body, "password", 1000), client_ip(request, self.config.trusted_proxies))
        if not result["ok"]:
            params = {"retry_after": result["retry_after"]} if result["retry_after"] else {}
            raise DomainError(result["error"], **params)
        return _with_tokens(result["tokens"], lang, self.config.cookie_secure)

    @http("POST", "/api/v1/auth/refresh")
    @endpoint("refresh")
    def refresh(self, request: Request, lang: str, principal: Principal) -> Response:
        body = _object(request) if request.content_length else {}
        token = body.get("refresh_token") or request.cookies.get(REFRESH_COOKIE)
        if not isinstance(token, str) or not token:
            raise DomainError("session_invalid")
        return _with_tokens(self.identity.refresh(token[:1000]), lang, self.config.cookie_secure)

    @http("POST", "/api/v1/auth/logout")
    @endpoint("logout")
    def logout(self, request: Request, lang: str, principal: Principal) -> Response:
        """Ends the session and voids its access tokens. The refresh token proves which: the
        session id an access token names is no secret (it is in every copy of the token)."""
        require_login(principal)
        body = _object(request) if request.content_length else {}
        refresh = body.get("refresh_token") or request.cookies.get(REFRESH_COOKIE)
        if not isinstance(refresh, str) or not refresh:
            raise DomainError("refresh_token_required")
        self.identity.logout(principal.subject, refresh[:1000])
        response = Response(status=204)
        response.delete_cookie(ACCESS_COOKIE, path="/")
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
        return response

    @http("POST", "/api/v1/auth/password-reset")
    @endpoint("request_password_reset")
    def request_password_reset(self, request: Request, lang: str, principal: Principal) -> Response:
        return json_response(self.identity.request_password_reset(_text(_object(request), "email", 254)), 202, lang=lang)

    @http("POST", "/api/v1/auth/password-reset/confirm")
    @endpoint("reset_password")
    def reset_password(self, request: Request, lang: str, principal: Principal) -> Response:
        body = _object(request)
        return json_response(self.identity.reset_password(_text(body, "token"), _text(body, "password", 1000)), lang=lang)

    @http("POST", "/api/v1/auth/change-email/confirm")
    @endpoint("confirm_email_change")
    def confirm_email_change(self, request: Request, lang: str, principal: Principal) -> Response:
        token = _object(request).get("token")
        if not isinstance(token, str) or not token:
            raise DomainError("token_invalid")
        return json_response(self.identity.confirm_email_change(token[:500]), lang=lang)

    # -- my account ---------------------------------------------------------------------------
    @http("GET,DELETE", "/api/v1/me")
    @endpoint("me")
    def me(self, request: Request, lang: str, principal: Principal) -> Response:
        require_login(principal)
        if request.method == "GET":
            return json_response(self.identity.get_account(principal.subject), lang=lang)
        # re-authenticated: a stolen token alone cannot delete the account (and its cases' data)
        password = _text(_object(request), "password", 1000)
        outcome = self.identity.delete_account(principal.subject, password)
        if outcome["status"] == "deleted":
            response = Response(status=204)
        else:  # the account is void already; identity finishes the erasure in the background
            body = {"status": outcome["status"], "detail": render(text("deletion_pending"), lang)}
            response = json_response(body, 202, lang=lang)
        response.delete_cookie(ACCESS_COOKIE, path="/")
        response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
        return response

    @http("GET", "/api/v1/me/export")
    @endpoint("export_my_data")
    def export_my_data(self, request: Request, lang: str, principal: Principal) -> Response:
        """Everything held about the caller (Art. 15/20 GDPR) as one JSON document."""
        require_login(principal)
        data = {"account": self.identity.export_account_data(principal.subject)}
        if principal.kind in authz.APPLICANT_KINDS:
            data["cases"] = self.submissions.export_applicant(principal.subject)
            data.update(self.submissions.export_files(principal.subject))  # drafts, attachments
        response = json_response(data, lang=lang)
        response.headers["Content-Disposition"] = 'attachment; filename="meine-daten.json"'
        return response

    @http("POST", "/api/v1/me/password")
    @endpoint("change_password")
    def change_password(self, request: Request, lang: str, principal: Principal) -> Response:
        require_login(principal)
        body = _object(request)
        result = self.identity.change_password(principal.subject, _text(body, "current_password", 1000), _text(body, "new_password", 1000))
        return json_response(result, lang=lang)

    @http("POST", "/api/v1/me/email")
    @endpoint("change_email")
    def change_email(self, request: Request, lang: str, principal: Principal) -> Response:
        require_login(principal)
        body = _object(request)
        result = self.identity.request_email_change(principal.subject, _text(body, "new_email", 254), _text(body, "password", 1000))
        return json_response(result, 202, lang=lang)

    # -- trust level through eID --------------------------------------------------------------
    @http("POST", "/api/v1/me/eid/start")
    @endpoint("eid_start")
    def eid_start(self, request: Request, lang: str, principal: Principal) -> Response:
        require_login(principal)
        return json_response(self.identity.start_eid_verification(principal.subject, "/api/v1/me/eid/complete"), lang=lang)

    @http("POST", "/api/v1/me/eid/complete")
    @endpoint("eid_complete")
    def eid_complete(self, request: Request, lang: str, principal: Principal) -> Response:
        """The identity provider's answer (here: the simulator page posts JSON)."""
        require_login(principal)
        body = _object(request)
        params = {k: v for k, v in body.items() if isinstance(v, str) and len(v) <= 500}
        return json_response(self.identity.complete_eid_verification(principal.subject, params), lang=lang)

    @http("GET", "/dev/eid-simulator")
    @endpoint("eid_simulator")
    def eid_simulator(self, request: Request, lang: str, principal: Principal) -> Response:
        """A page standing in for the eID provider (development only, clearly labelled)."""
        if self.config.eid_provider != "simulated":
            raise DomainError("not_found")
        state = html.escape(request.args.get("state", ""))
        page = SIMULATOR_PAGE.replace("{state}", state)
        return Response(page, mimetype="text/html")


SIMULATOR_PAGE = """<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>eID-Simulator (nur Entwicklung)</title></head>
<body>
<h1>eID-Simulator – nur für Entwicklung und Tests</h1>
<p>Diese Seite ersetzt den Online-Ausweis. Sie ist in Produktion abgeschaltet.</p>
<form id="eid">
  <input type="hidden" name="state" value="{state}">
  <label>Vorname <input name="given_name" required></label>
  <label>Familienname <input name="family_name" required></label>
  <label>Geburtsdatum <input name="birth_date" type="date" required></label>
  <label>Niveau <select name="level"><option value="substantial">substanziell</option>
    <option value="high">hoch</option></select></label>
  <button type="submit">Identität bestätigen</button>
</form>
<p id="result" role="status"></p>
<script>
document.getElementById("eid").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = Object.fromEntries(new FormData(event.target));
  const response = await fetch("/api/v1/me/eid/complete", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify(data)});
  document.getElementById("result").textContent = response.ok ? "Identität bestätigt." : "Fehlgeschlagen.";
});
</script>
</body></html>
"""
