"""Gateway routes of notifications: the delivery state of a case's messages (its clerks),
the messages in the applicant's case timeline, and the logged-in person's preferences.

A case's messages are reached through the case (whoever may not read it gets the case's
404); the state of each delivery is the responsible clerks' to see (a citizen who owns the
case sees it in the timeline). Preferences are the caller's own, like every ``/me`` route.
"""

from __future__ import annotations

from typing import Any

import eventlet
from werkzeug.wrappers import Request, Response

from services.common import authz, logs
from services.common.authz import Principal
from services.common.problems import DomainError
from services.common.validation import CompiledValidator
from services.gateway.auth import require_login
from services.gateway.http import endpoint, http, json_response, read_json

log = logs.get_logger("gateway")
PREFERENCES_SCHEMA = CompiledValidator({
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "language": {"enum": ["de", "en"]},
        "email": {"type": "object", "additionalProperties": {"type": "boolean"}},
    },
})
MESSAGE_FIELDS = ("message_id", "kind", "channel", "status", "status_text", "template_version", "created_at", "updated_at")
TIMELINE_WAIT = 2  # seconds: the case is shown without its messages rather than late


class MessageRoutes:
    """Mixed into GatewayService (uses its notifications proxy and the case routes' reads)."""

    notifications: Any
    _readable_case: Any

    def _with_messages(self, case: dict[str, Any]) -> dict[str, Any]:
        """The case with its messages' delivery states in the timeline, in time order; as it
        is when the notifications service does not answer in time."""
        try:
            with eventlet.Timeout(TIMELINE_WAIT):
                entries = self.notifications.case_timeline(case["case_id"])
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - the case matters more than its mails
            log.warning("case_messages_unavailable", error=type(exc).__name__)
            return case
        timeline = sorted([*case.get("timeline", []), *entries], key=lambda entry: str(entry.get("at", "")))
        return {**case, "timeline": timeline}

    @http("GET", "/api/v1/cases/<case_id>/messages")
    @endpoint("case_messages")
    def case_messages(self, request: Request, case_id: str, lang: str, principal: Principal) -> Response:
        """Each message of the case and its delivery state (created … delivered or failed)."""
        case = self._readable_case(case_id, principal)
        if not authz.can_see_deliveries(principal, case):
            raise DomainError("forbidden")
        rows = self.notifications.case_messages(case["case_id"])
        items = [{key: row.get(key) for key in MESSAGE_FIELDS} for row in rows]
        return json_response({"case_id": case["case_id"], "items": items}, lang=lang)

    @http("GET,PUT", "/api/v1/me/preferences")
    @endpoint("my_preferences")
    def my_preferences(self, request: Request, lang: str, principal: Principal) -> Response:
        """Language of mails (de/en) and e-mail per message kind on/off; the postbox always
        gets every message."""
        require_login(principal)
        if request.method == "GET":
            return json_response(self.notifications.get_preferences(principal.subject), lang=lang)
        body = read_json(request)
        errors = sorted(PREFERENCES_SCHEMA.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "body"
            raise DomainError("invalid_request", detail=f"{where}: {errors[0].message}"[:300])
        return json_response(self.notifications.set_preferences(principal.subject, body), lang=lang)
