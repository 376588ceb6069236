"""Gateway routes of the hand-over to back-office systems (services/handover).

Two callers: a **back-office client** (Fachverfahren) authenticates with its client id and
secret as HTTP Basic credentials — no account, no token; its scope is one tenant and the
services it was issued for — and fetches, downloads and acknowledges submissions. A
**tenant admin** issues and revokes those clients; a new client works once a second person
(another admin of the tenant or an operator) approves it, because it reads case contents
(four-eyes, as for staff roles).
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import eventlet
from werkzeug.wrappers import Request, Response

from services.common import authz, logs
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, read_json

CLIENTS = "/api/v1/admin/tenants/<ags>/handover-clients"
SUBMISSION = "/api/v1/handover/submissions/<case_id>"
TIMELINE_WAIT = 2.0  # s; the case matters more than its hand-over steps
log = logs.get_logger("gateway")
STEPS_DE = {
    "HandoverOffered": "Zur Übergabe an das Fachverfahren bereitgestellt",
    "HandoverFetched": "Vom Fachverfahren abgerufen",
    "HandoverAcknowledged": "Vom Fachverfahren bestätigt",
    "HandoverExported": "Als Datei an das Fachverfahren übergeben",
}


def client_credentials(request: Request) -> tuple[str, str]:
    """Client id and secret from ``Authorization: Basic``: none at all is ``unauthenticated``,
    anything else that is no client's is ``invalid_client`` (both 401)."""
    auth = request.authorization
    if auth is None and "Authorization" not in request.headers:
        raise DomainError("unauthenticated")
    if auth is None or auth.type != "basic" or not auth.username or not auth.password:
        raise DomainError("invalid_client")
    return auth.username[:64], auth.password[:200]


def _object(request: Request) -> dict[str, Any]:
    has_body = request.content_length or request.headers.get("Transfer-Encoding")
    body = read_json(request) if has_body else {}
    if not isinstance(body, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    return body


class HandoverRoutes:
    """Mixed into GatewayService (uses its handover proxy)."""

    handover: Any

    # -- the submission API -------------------------------------------------------------------
    @http("POST", "/api/v1/handover/fetch")
    @endpoint("handover_fetch")
    def handover_fetch(self, request: Request, lang: str, principal: Principal) -> Response:
        """The next submissions, oldest first, each leased to the caller until acknowledged
        or HANDOVER_LEASE_SECONDS pass (then offered again, ``redelivered: true``)."""
        client_id, secret = client_credentials(request)
        limit = _object(request).get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
            raise DomainError("invalid_parameter", name="limit", detail=text("range", low=1, high=100))
        return json_response({"submissions": self.handover.fetch(client_id, secret, limit)}, lang=lang)

    @http("GET", SUBMISSION)
    @endpoint("handover_submission")
    def handover_submission(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        client_id, secret = client_credentials(request)
        return json_response(self.handover.submission(client_id, secret, case_id[:64]), lang=lang)

    @http("GET", SUBMISSION + "/attachments/<attachment_id>")
    @endpoint("handover_attachment")
    def handover_attachment(self, request: Request, case_id: str, attachment_id: str, lang: str,
                            principal: Principal) -> Response:
        client_id, secret = client_credentials(request)
        found = self.handover.attachment(client_id, secret, case_id[:64], attachment_id[:64])
        response = Response(base64.b64decode(found["content_b64"]), mimetype=found["media_type"])
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(found['filename'])}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @http("POST", SUBMISSION + "/ack")
    @endpoint("handover_ack")
    def handover_ack(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """Received for good: never offered again. Idempotent."""
        client_id, secret = client_credentials(request)
        return json_response(self.handover.acknowledge(client_id, secret, case_id[:64]), lang=lang)

    # -- issuing clients (tenant admins) ---------------------------------------------------------
    def _handover_admin(self, principal: Principal, ags: str) -> None:
        require_login(principal)
        if not authz.can_manage_staff(principal, ags):
            raise DomainError("forbidden")
        self.tenants.get(self.catalog, ags)

    @http("GET,POST", CLIENTS)
    @endpoint("handover_clients")
    def handover_clients(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        self._handover_admin(principal, ags)
        if request.method == "GET":
            return json_response({"items": self.handover.clients(ags), "queue": self.handover.status(ags)}, lang=lang)
        body = _object(request)
        name, keys = body.get("name"), body.get("service_keys", ["*"])
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 200:
            raise DomainError("invalid_parameter", name="name", detail=text("range", low=1, high=200))
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and 0 < len(k) <= 64 for k in keys):
            raise DomainError("invalid_parameter", name="service_keys", detail=text("list"))
        client = self.handover.register_client(ags, name.strip(), keys, principal.subject)
        return json_response(client, 202, {"Location": f"/api/v1/admin/tenants/{ags}/handover-clients"}, lang)

    @http("POST", CLIENTS + "/<client_id>/approve")
    @endpoint("handover_client_approve")
    def handover_client_approve(self, request: Request, ags: str, client_id: str, lang: str,
                                principal: Principal) -> Response:
        self._handover_admin(principal, ags)
        return json_response(self.handover.approve_client(ags, client_id[:64], principal.subject), lang=lang)

    @http("DELETE", CLIENTS + "/<client_id>")
    @endpoint("handover_client_revoke")
    def handover_client_revoke(self, request: Request, ags: str, client_id: str, lang: str,
                               principal: Principal) -> Response:
        self._handover_admin(principal, ags)
        return json_response(self.handover.revoke_client(ags, client_id[:64], principal.subject), lang=lang)

    # -- the case's hand-over steps in its timeline and audit trail --------------------------------
    def _handover_log(self, case_id: str) -> list[dict[str, Any]]:
        try:
            with eventlet.Timeout(TIMELINE_WAIT):
                return list(self.handover.case_log(case_id))
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - the case matters more
            log.warning("handover_log_unavailable", error=type(exc).__name__)
            return []

    def _with_handover(self, case: dict[str, Any], until: str | None = None) -> dict[str, Any]:
        steps = [
            {"at": e["at"], "step": "handover", "text": STEPS_DE.get(e["action"], e["action"])}
            for e in self._handover_log(case["case_id"]) if until is None or e["at"] <= until
        ]
        if not steps:
            return case
        return {**case, "timeline": sorted([*case.get("timeline", []), *steps], key=lambda s: str(s.get("at", "")))}
