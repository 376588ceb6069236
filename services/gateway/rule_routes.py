"""Gateway routes of rules (issue #16): a tenant's admins define, change, try and switch
the tenant's rules (routing, reminders, automatic decisions).

Authorised with ``authz.can_manage_rules`` (tenant admins of ``ags``); a rule of another
tenant is a 404, as if it did not exist. A shadow run's report comes as JSON or, with
``?format=csv`` or ``Accept: text/csv``, as CSV. The rules service is reached by RPC only.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from services.common import authz
from services.common.authz import Principal
from services.common.problems import DomainError
from services.gateway.auth import require_login
from services.gateway.auth_routes import _object, _text
from services.gateway.case_routes import check_ags
from services.gateway.http import endpoint, http, json_response, query_int

RULES = "/api/v1/admin/tenants/<ags>/rules"
RULE = RULES + "/<rule_id>"


class RuleRoutes:
    """Mixed into GatewayService (uses its rules proxy)."""

    rules: Any

    def _rules_admin(self, principal: Principal, ags: str) -> str:
        require_login(principal)
        if not authz.can_manage_rules(principal, check_ags(ags)):
            raise DomainError("forbidden")
        return ags

    def _rule_of(self, principal: Principal, ags: str, rule_id: str) -> dict[str, Any]:
        self._rules_admin(principal, ags)
        rule = self.rules.get_rule(rule_id[:64])
        if rule["tenant"] != ags:
            raise DomainError("rule_not_found")
        return rule

    @http("GET,POST", RULES)
    @endpoint("rules")
    def rules_of_tenant(self, request: Request, ags: str, lang: str, principal: Principal) -> Response:
        """GET: the tenant's rules (``?service_id=``); POST: a new rule (version 1, off)."""
        self._rules_admin(principal, ags)
        if request.method == "GET":
            service_id = request.args.get("service_id") or None
            return json_response({"items": self.rules.list_rules(ags, service_id and service_id[:100])}, lang=lang)
        rule = self.rules.define_rule(ags, _object(request), principal.subject)
        return json_response(rule, 201, headers={"Location": f"/api/v1/admin/tenants/{ags}/rules/{rule['rule_id']}"},
                             lang=lang)

    @http("GET,PUT", RULE)
    @endpoint("rule")
    def rule(self, request: Request, ags: str, rule_id: str, lang: str, principal: Principal) -> Response:
        """GET: the rule with its versions' audit history; PUT: a new version (off until its shadow run)."""
        rule = self._rule_of(principal, ags, rule_id)
        if request.method == "GET":
            return json_response(rule, lang=lang)
        return json_response(self.rules.change_rule(rule["rule_id"], _object(request), principal.subject), lang=lang)

    @http("POST", RULE + "/activate")
    @endpoint("rule_activate")
    def rule_activate(self, request: Request, ags: str, rule_id: str, lang: str, principal: Principal) -> Response:
        rule = self._rule_of(principal, ags, rule_id)
        return json_response(self.rules.activate(rule["rule_id"], principal.subject), lang=lang)

    @http("POST", RULE + "/deactivate")
    @endpoint("rule_deactivate")
    def rule_deactivate(self, request: Request, ags: str, rule_id: str, lang: str, principal: Principal) -> Response:
        rule = self._rule_of(principal, ags, rule_id)
        return json_response(self.rules.deactivate(rule["rule_id"], principal.subject), lang=lang)

    @http("GET,POST", RULE + "/shadow-runs")
    @endpoint("rule_shadow_runs")
    def rule_shadow_runs(self, request: Request, ags: str, rule_id: str, lang: str, principal: Principal) -> Response:
        """POST ``{"from": date, "to": date}``: run the current version over the cases
        submitted in [from, to) without acting (201, the report); GET: the report of a
        version's shadow run (``?version=``, default current), JSON or CSV."""
        rule = self._rule_of(principal, ags, rule_id)
        if request.method == "POST":
            body = _object(request)
            report = self.rules.shadow_run(rule["rule_id"], _text(body, "from", 10), _text(body, "to", 10),
                                           principal.subject)
            return json_response(report, 201, lang=lang)
        version = query_int(request, "version", rule["version"], 1, 1_000_000)
        wants_csv = request.args.get("format") == "csv" or "text/csv" in request.headers.get("Accept", "")
        report = self.rules.shadow_report(rule["rule_id"], version, wants_csv)
        if wants_csv:
            return Response(report, status=200, mimetype="text/csv", headers={
                "Content-Type": "text/csv; charset=utf-8", "Cache-Control": "no-store", "Content-Language": lang,
                "Content-Disposition": f'attachment; filename="schattenlauf-{rule["rule_id"]}-v{version}.csv"'})
        return json_response(report, lang=lang)
