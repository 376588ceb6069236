"""Gateway routes of cases: submit, follow, work the case, the worklist and the audit trail.

Every read and write is authorised here with the shared rules
(``services.common.authz``): deny by default; a case the caller may not see is a 404
that does not reveal whether it exists; the worklist is filtered inside its query.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz, logs
from services.common.authz import Principal
from services.common.cases import ACTIONS, WORKLIST_SORTS, Status
from services.common.problems import DomainError, text
from services.common.validation import CompiledValidator
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, problem_response, query_choice, query_int, read_json

#: The applicant's contact sent with a submission (of a case or a draft).
APPLICANT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "email": {"type": "string", "maxLength": 254},
        "phone": {"type": "string", "maxLength": 50},
    },
}
SUBMIT_SCHEMA = CompiledValidator(
    {
        "type": "object",
        "required": ["service_id", "form_data"],
        "additionalProperties": False,
        "properties": {
            "service_id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
            "form_version": {"type": "integer", "minimum": 1},
            "form_data": {"type": "object"},
            "applicant": APPLICANT_SCHEMA,
            "on_behalf_of": {"type": "string", "format": "uuid", "pattern": "^[0-9a-fA-F-]{36}$"},
        },
    }
)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
AGS = re.compile(r"^\d{8}$")


def check_ags(ags: str) -> str:
    if not AGS.match(ags):
        raise DomainError("unknown_tenant", ags=ags[:20])
    return ags


def case_links(case: dict[str, Any]) -> dict[str, Any]:
    return {**case, "links": {"self": f"/api/v1/cases/{case['case_id']}"}}


def submission_response(result: dict[str, Any], lang: str, path: str) -> Response:
    """A batcher result as the answer to a submission: the problem, or ``201`` with the case
    (``Idempotent-Replayed`` when it answers a retry)."""
    if "error" in result:
        error = result["error"]
        return problem_response(error["code"], lang, path, **error["params"])
    case = result["case"]
    headers = {"Location": f"/api/v1/cases/{case['case_id']}"}
    if result.get("replayed"):
        headers["Idempotent-Replayed"] = "true"
    return json_response(case_links(case), 201, headers, lang)


def _describe(error: Any) -> str:
    where = "/".join(str(p) for p in error.absolute_path) or "body"
    return f"{where}: {error.message}"[:300]


class CaseRoutes:
    """Mixed into GatewayService (uses its submissions/catalog/identity proxies)."""

    submissions: Any
    catalog: Any
    identity: Any
    tenants: Any
    submit: Any
    _with_messages: Any
    _with_handover: Any
    _handover_log: Any

    # -- citizens -------------------------------------------------------------------------
    @http("POST", "/api/v1/tenants/<ags>/cases")
    @endpoint("submit_case")
    def submit_case(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        require_login(principal)
        check_ags(ags)
        body = read_json(request)
        errors = sorted(SUBMIT_SCHEMA.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            raise DomainError("invalid_request", detail="; ".join(_describe(e) for e in errors[:5]))
        key = request.headers.get("Idempotency-Key")
        if key is not None and not IDEMPOTENCY_KEY.match(key):
            raise DomainError("invalid_idempotency_key")
        applicant_ref, assisted = self._applicant(principal, ags, body)
        command = {
            "portal": ags,
            "service_id": body["service_id"],
            "form_version": body.get("form_version"),
            "form_data": body["form_data"],
            "applicant": body.get("applicant", {}),
            "principal": applicant_ref,
            "actor": principal.subject,
            "trust_level": principal.trust_level,
            "assisted": assisted,
            "idempotency_key": key or uuid.uuid4().hex,
            "correlation_id": logs.current_correlation_id(),
        }
        return submission_response(self.submit(command), lang, request.path)

    def _applicant(self, principal: Principal, portal: str, body: dict[str, Any]) -> tuple[str, bool]:
        """Citizens apply for themselves; a clerk of the responsible authority may submit on a
        citizen's behalf (at the counter, by phone) — recorded as actor and applicant."""
        on_behalf_of = body.get("on_behalf_of")
        if on_behalf_of is None:
            if principal.kind not in authz.APPLICANT_KINDS:
                raise DomainError("forbidden")
            return principal.applicant_ref, False
        responsible = self.catalog.resolve(portal, body["service_id"])["tenant"]
        if not authz.can_submit_for(principal, responsible, body["service_id"]):
            raise DomainError("forbidden")
        account = self.identity.get_account(on_behalf_of)
        if account.get("kind") not in authz.APPLICANT_KINDS or account.get("status") != "active":  # not a deleted one
            raise DomainError("invalid_parameter", name="on_behalf_of", detail=text("applicant_account"))
        return on_behalf_of, True

    def _readable_case(self, case_id: str, principal: Principal, contents: bool = False,
                       as_of: str | None = None) -> dict[str, Any]:
        """The case if the principal may read it; otherwise the same 404 as for no case.
        Who may read it is decided on the case as it is now, also for a past instant."""
        require_login(principal)
        if as_of is not None:
            current = self.submissions.case_status(case_id)
            if not authz.can_read_case(principal, current):
                raise DomainError("case_not_found", case_id=case_id[:64])
        case = self.submissions.case_status(case_id, contents, as_of)
        if not authz.can_read_case(principal, case):
            raise DomainError("case_not_found", case_id=case_id[:64])
        return case

    @http("GET", "/api/v1/cases/<case_id>")
    @endpoint("get_case")
    def get_case(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        as_of = request.args.get("as_of") or None
        case = self._readable_case(case_id, principal, contents=True, as_of=as_of and as_of[:64])
        self.submissions.record_access(case["case_id"], case["tenant"], principal.subject,
                                       "read" if as_of is None else "read_as_of")
        staff = principal.kind not in authz.APPLICANT_KINDS  # the hand-over to the back office is the staff's
        if as_of is not None:  # the past as it was: no mails or hand-over steps after the instant
            return json_response(case_links(self._with_handover(case, case["as_of"]) if staff else case), lang=lang)
        case = self._with_messages(case)
        return json_response(case_links(self._with_handover(case) if staff else case), lang=lang)

    @http("POST", "/api/v1/cases/<case_id>/actions/<action>")
    @endpoint("case_action")
    def case_action(self, request: Request, case_id: str, action: str, lang: str, principal: Principal) -> Response:
        has_body = request.content_length or request.headers.get("Transfer-Encoding")
        payload = read_json(request) if has_body else {}
        if not isinstance(payload, dict):
            raise DomainError("invalid_request", detail=text("json_object"))
        case = self._readable_case(case_id, principal)
        if action not in ACTIONS:  # an unknown action is a 404 whoever asks
            raise DomainError("unknown_action", action=action[:64], allowed=", ".join(ACTIONS))
        if not authz.can_act_on_case(principal, case, action):
            raise DomainError("forbidden")
        result = self.submissions.act(case_id, action[:64], payload, principal.subject)
        return json_response(case_links(result), lang=lang)

    @http("GET", "/api/v1/me/cases")
    @endpoint("my_cases")
    def my_cases(self, request: Request, lang: str, principal: Principal) -> Response:
        """Meine Anträge: the caller's cases across all municipalities."""
        require_login(principal)
        if principal.kind not in authz.APPLICANT_KINDS:
            raise DomainError("forbidden")
        items = self.submissions.cases_of_applicant(principal.applicant_ref)
        return json_response({"items": [case_links(c) for c in items]}, lang=lang)

    # -- clerks ---------------------------------------------------------------------------
    @http("GET", "/api/v1/tenants/<ags>/worklist")
    @endpoint("worklist")
    def worklist(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        require_login(principal)
        self.tenants.get(self.catalog, ags)
        scope = authz.worklist_filter(principal, ags)
        if scope is None:
            raise DomainError("forbidden")
        wanted = request.args.get("service_id")
        allowed = None if scope.all_services else list(scope.service_keys)
        if wanted:
            allowed = [wanted[:64]] if allowed is None or wanted in allowed else []
        query = {
            "state": query_choice(request, "state", ("open", "closed", "all"), "open"),
            "status": query_choice(request, "status", tuple(s.value for s in Status), None),
            "service_ids": allowed,
            "assignee": (request.args.get("assignee") or None),
            "sort": query_choice(request, "sort", WORKLIST_SORTS, WORKLIST_SORTS[0]),
            "order": query_choice(request, "order", ("asc", "desc"), "asc"),
            "limit": query_int(request, "limit", 50, 1, 500),
            "cursor": request.args.get("cursor") or None,
            "as_of": (request.args.get("as_of") or "")[:64] or None,
        }
        page = self.submissions.worklist(ags, query)
        return json_response({"tenant": ags, **page}, lang=lang)

    @http("GET", "/api/v1/cases/<case_id>/audit")
    @endpoint("case_audit")
    def case_audit(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """Who read or changed the case, when (tenant admins of the responsible authority)."""
        require_login(principal)
        meta = self.submissions.case_status(case_id)
        if not authz.can_read_audit(principal, meta["tenant"]):
            raise DomainError("case_not_found", case_id=case_id[:64])
        items = sorted([*self.submissions.audit_trail(case_id), *self._handover_log(meta["case_id"])],
                       key=lambda entry: entry["at"])
        return json_response({"case_id": meta["case_id"], "items": items}, lang=lang)
