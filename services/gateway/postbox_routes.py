"""Gateway routes of the postbox (Postfach) and of a case's documents (decision letters).

The postbox is its owner's only: the owner is the logged-in applicant account, passed to
the notifications service, which answers 404 for an item of anyone else (not revealing
that it exists) — staff accounts have no postbox. A case's documents are the responsible
clerk's: whoever may not read the case as staff gets the case's 404, the applicant too
(the applicant has the letter in the postbox).
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, read_json


def _owner(principal: Principal) -> str:
    require_login(principal)
    if principal.kind not in authz.APPLICANT_KINDS:
        raise DomainError("postbox_item_not_found")
    return principal.applicant_ref


def _file(document: dict[str, Any], lang: str) -> Response:
    return Response(base64.b64decode(document["content_b64"]), headers={
        "Content-Type": document["media_type"], "Cache-Control": "private, no-store", "Content-Language": lang,
        "Content-Disposition": f'attachment; filename="{document["filename"]}"', "ETag": f'"{document["sha256"]}"',
        "X-Content-Type-Options": "nosniff",
    })


def _item_links(item: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/v1/me/postbox/{item['item_id']}"
    attachments = [{**a, "href": f"{base}/attachments/{a['attachment_id']}"} for a in item.get("attachments") or []]
    return {**item, "attachments": attachments, "links": {"self": base, "case": f"/api/v1/cases/{item['case_id']}"}}


class PostboxRoutes:
    """Mixed into GatewayService (uses its notifications proxy and the case routes' reads)."""

    notifications: Any
    submissions: Any
    _readable_case: Any

    # -- the owner ------------------------------------------------------------------------
    @http("GET", "/api/v1/me/postbox")
    @endpoint("postbox")
    def postbox(self, request: Request, lang: str, principal: Principal) -> Response:
        """Mein Postfach: every message to the caller, newest first."""
        require_login(principal)
        if principal.kind not in authz.APPLICANT_KINDS:
            raise DomainError("forbidden")  # staff accounts have no postbox (like "my cases")
        items = self.notifications.postbox_items(principal.applicant_ref)
        return json_response({"items": [_item_links(i) for i in items]}, lang=lang)

    @http("GET", "/api/v1/me/postbox/<item_id>")
    @endpoint("postbox_item")
    def postbox_item(self, request: Request, item_id: str, lang: str, principal: Principal) -> Response:
        owner = _owner(principal)
        return json_response(_item_links(self.notifications.postbox_item(item_id[:64], owner)), lang=lang)

    @http("POST", "/api/v1/me/postbox/<item_id>/read")
    @endpoint("mark_postbox_item")
    def mark_postbox_item(self, request: Request, item_id: str, lang: str, principal: Principal) -> Response:
        """``{"read": true}`` marks the message read, ``false`` unread again."""
        owner = _owner(principal)
        body = read_json(request)
        if not isinstance(body, dict):
            raise DomainError("invalid_request", detail=text("json_object"))
        if set(body) != {"read"} or not isinstance(body["read"], bool):
            raise DomainError("invalid_parameter", name="read", detail=text("one_of", choices="true, false"))
        return json_response(_item_links(self.notifications.mark_postbox_item(item_id[:64], owner, body["read"])), lang=lang)

    @http("GET", "/api/v1/me/postbox/<item_id>/attachments/<attachment_id>")
    @endpoint("postbox_attachment")
    def postbox_attachment(self, request: Request, item_id: str, attachment_id: str, lang: str, principal: Principal) -> Response:
        owner = _owner(principal)
        return _file(self.notifications.postbox_attachment(item_id[:64], attachment_id[:64], owner), lang)

    # -- the responsible clerk --------------------------------------------------------------
    def _case_as_staff(self, case_id: str, principal: Principal) -> dict[str, Any]:
        case = self._readable_case(case_id, principal)
        if principal.kind in authz.APPLICANT_KINDS:
            raise DomainError("case_not_found", case_id=case_id[:64])
        return case

    @http("GET", "/api/v1/cases/<case_id>/documents")
    @endpoint("case_documents")
    def case_documents(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """The case's documents (decision letters) for the clerk responsible for it."""
        case = self._case_as_staff(case_id, principal)
        items = [
            {**d, "links": {"self": f"/api/v1/cases/{case['case_id']}/documents/{d['document_id']}"}}
            for d in self.notifications.case_documents(case["case_id"])
        ]
        return json_response({"case_id": case["case_id"], "items": items}, lang=lang)

    @http("GET", "/api/v1/cases/<case_id>/documents/<document_id>")
    @endpoint("case_document")
    def case_document(self, request: Request, case_id: str, document_id: str, lang: str, principal: Principal) -> Response:
        case = self._case_as_staff(case_id, principal)
        document = self.notifications.case_document(case["case_id"], document_id[:64])
        self.submissions.record_access(case["case_id"], case["tenant"], principal.subject, "read_document")
        return _file(document, lang)
