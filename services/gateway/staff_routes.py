"""Gateway routes of staff administration: staff accounts and their roles per tenant.

Roles are given four-eyes (issue #9): creating a staff account with a role, or asking for a
role for an existing one, records a *request*; the role is held only once a second person
— another admin of the tenant or an operator, neither the requester nor the grantee —
approves it (the identity domain enforces who; ``authz.is_second_person``). So no admin
reaches case contents alone, neither through a role of its own nor through an alias.
Every request, decision and revocation is in the account's grant history.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.auth_routes import _object, _text
from services.gateway.http import endpoint, http, json_response

GRANTS = "/api/v1/admin/tenants/<ags>/staff/<account_id>/grants"


def _service_keys(body: dict[str, Any]) -> list[str]:
    keys = body.get("service_keys", ["*"])
    if not isinstance(keys, list) or not all(isinstance(k, str) and len(k) <= 64 for k in keys):
        raise DomainError("invalid_parameter", name="service_keys", detail=text("list"))
    return keys


class StaffRoutes:
    """Mixed into GatewayService (uses its identity proxy)."""

    identity: Any

    def _managed_staff(self, principal: Principal, ags: str, account_id: str) -> str:
        """The id of a staff account of a tenant the caller administers (else forbidden)."""
        require_login(principal)
        if not authz.can_manage_staff(principal, ags):
            raise DomainError("forbidden")
        account = self.identity.get_account(account_id[:64])
        if account["kind"] not in authz.TENANT_STAFF_KINDS:
            raise DomainError("forbidden")
        return str(account["account_id"])

    @http("POST", "/api/v1/admin/tenants/<ags>/staff")
    @endpoint("create_staff")
    def create_staff(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """A new account and a request for its role — not yet the role (four-eyes)."""
        require_login(principal)
        if not authz.can_manage_staff(principal, ags):
            raise DomainError("forbidden")
        body = _object(request)
        kind, role = body.get("kind", "clerk"), body.get("role", "clerk")
        if not isinstance(kind, str) or kind not in authz.TENANT_STAFF_KINDS or role not in authz.ROLES:
            raise DomainError("invalid_parameter", name="kind/role", detail=text("staff_kind_role"))
        keys = _service_keys(body)
        created = self.identity.create_staff_account(
            _text(body, "email", 254), kind, _text(body, "display_name", 200, required=False), principal.subject
        )
        pending = self.identity.request_grant(created["account_id"], ags, role, keys, principal.subject)
        return json_response({**created, "grants": [], "pending": [pending]}, 201, lang=lang)

    @http("GET,POST,DELETE", GRANTS)
    @endpoint("staff_grants")
    def staff_grants(self, request: Request, ags: str, account_id: str, lang: str, principal: Principal) -> Response:
        """GET: roles and pending requests in ``ags``; POST: ask for a role (202, pending
        until a second person approves); DELETE: revoke a role at once (not one's own)."""
        account_id = self._managed_staff(principal, ags, account_id)
        if request.method == "GET":
            return json_response(self.identity.staff_grants(account_id, ags), lang=lang)
        if request.method == "DELETE" and account_id == principal.subject:
            raise DomainError("forbidden")  # nobody revokes their own roles
        body = _object(request)
        role = body.get("role")
        if role not in authz.ROLES:
            raise DomainError("invalid_parameter", name="role", detail=" | ".join(authz.ROLES))
        if request.method == "DELETE":
            return json_response(self.identity.revoke_role(account_id, ags, role, principal.subject), lang=lang)
        pending = self.identity.request_grant(account_id, ags, role, _service_keys(body), principal.subject)
        return json_response(pending, 202, lang=lang)

    @http("POST", GRANTS + "/<request_id>/approve")
    @endpoint("approve_grant")
    def approve_grant(self, request: Request, ags: str, account_id: str, request_id: str, lang: str, principal: Principal) -> Response:
        """The second person's approval; the role is held from the account's next token."""
        account_id = self._managed_staff(principal, ags, account_id)
        return json_response(self.identity.approve_grant(account_id, ags, request_id[:64], principal.subject), lang=lang)

    @http("POST", GRANTS + "/<request_id>/reject")
    @endpoint("reject_grant")
    def reject_grant(self, request: Request, ags: str, account_id: str, request_id: str, lang: str, principal: Principal) -> Response:
        account_id = self._managed_staff(principal, ags, account_id)
        return json_response(self.identity.reject_grant(account_id, ags, request_id[:64], principal.subject), lang=lang)

    @http("GET", GRANTS + "/history")
    @endpoint("grant_history")
    def grant_history(self, request: Request, ags: str, account_id: str, lang: str, principal: Principal) -> Response:
        """Every request, approval, rejection, grant and revocation of a role in ``ags``."""
        account_id = self._managed_staff(principal, ags, account_id)
        return json_response(self.identity.grant_history(account_id, ags), lang=lang)
