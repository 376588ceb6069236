"""Gateway routes the web portal needs besides cases: drafts ("Meine Anträge"), attachments
(upload, and download through the case) and the prefill profile.

Drafts and uploads are their owner's only: the submissions service looks them up by the
caller's account and answers anyone else with the same 404 as for nothing. A draft is
submitted through the same batcher, validation, idempotency and fee as
``POST /tenants/{ags}/cases``. An attachment is a raw body (PDF, JPEG, PNG) whose size is
checked before it is read and whose type is checked by its content in the submissions
service; it reaches a clerk only through a case whose form refers to it.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote, unquote

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from services.common import authz, logs
from services.common.authz import Principal
from services.common.problems import DomainError, text
from services.common.validation import CompiledValidator
from services.gateway.auth import require_login
from services.gateway.case_routes import APPLICANT_SCHEMA, IDEMPOTENCY_KEY, _describe, check_ags, submission_response
from services.gateway.csrf import RAW_UPLOADS
from services.gateway.http import endpoint, http, json_response, read_json

#: What a citizen may attach (checked again by content in the submissions service).
ATTACHMENT_TYPES = RAW_UPLOADS["/api/v1/attachments"]
DRAFT_ID_MAX = 64
PAGE = {"type": ["string", "integer", "null"]}
START_SCHEMA = CompiledValidator({
    "type": "object",
    "required": ["service_id"],
    "additionalProperties": False,
    "properties": {
        "service_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
        "form_data": {"type": "object"},
        "page": PAGE,
    },
})
SAVE_SCHEMA = CompiledValidator({
    "type": "object",
    "required": ["form_data"],
    "additionalProperties": False,
    "properties": {"form_data": {"type": "object"}, "page": PAGE},
})
SUBMIT_DRAFT_SCHEMA = CompiledValidator({
    "type": "object",
    "additionalProperties": False,
    "properties": {"applicant": APPLICANT_SCHEMA},
})


def checked(validator: CompiledValidator, body: Any) -> dict[str, Any]:
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        raise DomainError("invalid_request", detail="; ".join(_describe(e) for e in errors[:5]))
    return body


def draft_links(draft: dict[str, Any]) -> dict[str, Any]:
    links = {"self": f"/api/v1/drafts/{draft['draft_id']}", "submit": f"/api/v1/drafts/{draft['draft_id']}/submit"}
    if draft.get("case_id"):
        links["case"] = f"/api/v1/cases/{draft['case_id']}"
    return {**draft, "links": links}


def require_applicant(principal: Principal) -> str:
    """Drafts are for citizens and organisations applying for themselves."""
    require_login(principal)
    if principal.kind not in authz.APPLICANT_KINDS:
        raise DomainError("forbidden")
    return principal.applicant_ref


def owner_of(principal: Principal, draft_id: str) -> str:
    """The caller's account as draft owner; staff own no drafts, so theirs is the 404."""
    require_login(principal)
    if principal.kind not in authz.APPLICANT_KINDS:
        raise DomainError("draft_not_found", draft_id=draft_id[:DRAFT_ID_MAX])
    return principal.applicant_ref


def has_body(request: Request) -> bool:
    return bool(request.content_length or request.headers.get("Transfer-Encoding"))


class DraftRoutes:
    """Mixed into GatewayService (uses its submissions and identity proxies and the batcher)."""

    submissions: Any
    identity: Any
    submit: Any
    config: Any
    _readable_case: Any

    # -- drafts ---------------------------------------------------------------------------
    @http("POST", "/api/v1/tenants/<ags>/drafts")
    @endpoint("start_draft")
    def start_draft(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """Start filling in a service's form at this portal; the form version is pinned."""
        owner = require_applicant(principal)
        check_ags(ags)
        body = checked(START_SCHEMA, read_json(request))
        draft = self.submissions.start_draft(
            ags, body["service_id"], owner, principal.subject, body.get("form_data", {}), body.get("page")
        )
        return json_response(draft_links(draft), 201, {"Location": f"/api/v1/drafts/{draft['draft_id']}"}, lang)

    @http("GET", "/api/v1/me/drafts")
    @endpoint("my_drafts")
    def my_drafts(self, request: Request, lang: str, principal: Principal) -> Response:
        """The caller's open drafts, most recently saved first ("Meine Anträge")."""
        owner = require_applicant(principal)
        return json_response({"items": [draft_links(d) for d in self.submissions.drafts_of(owner)]}, lang=lang)

    @http("GET,PUT,DELETE", "/api/v1/drafts/<draft_id>")
    @endpoint("draft")
    def draft(self, request: Request, draft_id: str, lang: str, principal: Principal) -> Response:
        owner = owner_of(principal, draft_id)
        draft_id = draft_id[:DRAFT_ID_MAX]
        if request.method == "GET":
            return json_response(draft_links(self.submissions.get_draft(draft_id, owner)), lang=lang)
        if request.method == "DELETE":
            self.submissions.discard_draft(draft_id, owner, principal.subject)
            return Response(status=204)
        body = checked(SAVE_SCHEMA, read_json(request))
        draft = self.submissions.save_draft(draft_id, owner, principal.subject, body["form_data"], body.get("page"))
        return json_response(draft_links(draft), lang=lang)

    @http("POST", "/api/v1/drafts/<draft_id>/submit")
    @endpoint("submit_draft")
    def submit_draft(self, request: Request, draft_id: str, lang: str, principal: Principal) -> Response:
        """The draft becomes a case, exactly as ``POST /tenants/{ags}/cases`` would make it
        (the whole form is validated now). One draft makes at most one case: a repeat answers
        that case again (``Idempotent-Replayed``)."""
        owner = owner_of(principal, draft_id)
        body = checked(SUBMIT_DRAFT_SCHEMA, read_json(request) if has_body(request) else {})
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise DomainError("invalid_idempotency_key")
        command = {
            "portal": "", "service_id": "", "form_data": {},  # from the draft
            "draft_id": draft_id[:DRAFT_ID_MAX],
            "applicant": body.get("applicant", {}),
            "principal": owner,
            "actor": principal.subject,
            "trust_level": principal.trust_level,
            "assisted": False,
            "idempotency_key": f"draft:{draft_id[:DRAFT_ID_MAX]}",
            "correlation_id": logs.current_correlation_id(),
        }
        return submission_response(self.submit(command), lang, request.path)

    # -- attachments ----------------------------------------------------------------------
    @http("POST", "/api/v1/attachments")
    @endpoint("upload_attachment")
    def upload_attachment(self, request: Request, lang: str, principal: Principal) -> Response:
        """A file of the caller's (raw body; ``X-Filename`` percent-encoded UTF-8)."""
        require_login(principal)
        if request.mimetype not in ATTACHMENT_TYPES:
            raise DomainError("attachment_type_unsupported")
        content = self._read_upload(request)
        filename = unquote(request.headers.get("X-Filename", ""), errors="replace")[:1000]
        attachment = self.submissions.upload_attachment(
            principal.subject, principal.subject, base64.b64encode(content).decode("ascii"), request.mimetype, filename
        )
        return json_response(attachment, 201, lang=lang)

    def _read_upload(self, request: Request) -> bytes:
        """The body, refused as too large before reading when its length says so, and while
        reading when it is sent without one (chunked)."""
        limit = self.config.attachment_max_bytes
        too_large = DomainError("attachment_too_large", limit=limit, limit_mb=round(limit / 1_000_000, 1))
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        request.max_content_length = limit
        try:
            content = request.stream.read(limit + 1)
        except RequestEntityTooLarge:
            raise too_large from None
        if len(content) > limit:
            raise too_large
        if not content:
            raise DomainError("invalid_request", detail=text("empty_body"))
        return content

    @http("GET", "/api/v1/cases/<case_id>/attachments/<attachment_id>")
    @endpoint("case_attachment")
    def case_attachment(self, request: Request, case_id: str, attachment_id: str, lang: str, principal: Principal) -> Response:
        """A file the case refers to, for whoever may read the case (the applicant, the
        responsible clerks); the read is in the case's audit trail."""
        case = self._readable_case(case_id, principal)
        found = self.submissions.case_attachment(case["case_id"], attachment_id[:64])
        self.submissions.record_access(case["case_id"], case["tenant"], principal.subject, "read_attachment")
        response = Response(base64.b64decode(found["content_b64"]), mimetype=found["media_type"])
        response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(found['filename'])}"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    # -- the prefill profile --------------------------------------------------------------
    @http("GET,PUT", "/api/v1/me/profile")
    @endpoint("my_profile")
    def my_profile(self, request: Request, lang: str, principal: Principal) -> Response:
        """Name, address, birth date and phone, entered once and offered in every form."""
        require_login(principal)
        if request.method == "PUT":
            return json_response(self.identity.set_profile(principal.subject, read_json(request)), lang=lang)
        return json_response(self.identity.get_profile(principal.subject), lang=lang)
