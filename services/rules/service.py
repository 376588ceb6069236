"""The rules service (nameko): tenant admins' rules over RPC, and their shadow runs.

A thin interface over :class:`RulesApp`. A shadow run reads the past cases page by page from
submissions (``submissions.past_cases``, RPC) — never the case tables — and records its
report on the rule. The consumer that lets active rules act is a plain process
(``python -m services.rules.consumer``).
"""

from __future__ import annotations

from typing import Any

from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError
from services.rules.application import RulesApp, open_rules
from services.rules.shadow import report_csv

log = logs.get_logger("rules")


class RulesService:
    name = "rules"

    app: RulesApp = Provided(open_rules)
    submissions = RpcProxy("submissions")
    observability = Observability("rules")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "rules"

    @rpc(expected_exceptions=DomainError)
    def define_rule(self, tenant: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        rule = self.app.define(tenant, body, actor, logs.correlation_id())
        log.info("rule_defined", rule_id=rule["rule_id"], tenant=tenant, kind=rule["kind"])
        return rule

    @rpc(expected_exceptions=DomainError)
    def change_rule(self, rule_id: str, body: dict[str, Any], actor: str) -> dict[str, Any]:
        return self.app.change(rule_id, body, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def get_rule(self, rule_id: str) -> dict[str, Any]:
        return self.app.rule_detail(rule_id)

    @rpc(expected_exceptions=DomainError)
    def list_rules(self, tenant: str, service_id: str | None = None) -> list[dict[str, Any]]:
        return self.app.rules_of(tenant, service_id)

    @rpc(expected_exceptions=DomainError)
    def activate(self, rule_id: str, actor: str) -> dict[str, Any]:
        rule = self.app.activate(rule_id, actor, logs.correlation_id())
        log.info("rule_activated", rule_id=rule_id, version=rule["active_version"])
        return rule

    @rpc(expected_exceptions=DomainError)
    def deactivate(self, rule_id: str, actor: str) -> dict[str, Any]:
        return self.app.deactivate(rule_id, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def shadow_run(self, rule_id: str, since: str, until: str, actor: str) -> dict[str, Any]:
        report = self.app.shadow_run(rule_id, since, until, self.submissions.past_cases, actor, logs.correlation_id())
        log.info("rule_shadow_run", rule_id=rule_id, cases=report["cases"], would_act=report["would_act"],
                 seconds=report["seconds"])
        return report

    @rpc(expected_exceptions=DomainError)
    def shadow_report(self, rule_id: str, version: int | None = None, csv: bool = False) -> Any:
        report = self.app.shadow_report(rule_id, version)
        return report_csv(report) if csv else report
