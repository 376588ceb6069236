"""The rules application: tenant admins' commands on rules (load → decide → save), their
shadow runs, and the consumer's core (:mod:`.consuming`).

Why a process recorder: the consumer saves what a rule did together with the tracking
record of the case event that made it act, in one transaction (a redelivered event is
recognised by its tracking record and does nothing twice).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ProcessRecorder

from services.common.db import open_application
from services.common.problems import DomainError, text
from services.rules.application.consuming import RuleConsumption
from services.rules.application.reminding import ReminderDelivery
from services.rules.domain import Rule, TenantRules
from services.rules.domain.conditions import facts_used
from services.rules.domain.evaluation import PastCase, shadow_report
from services.rules.facts import case_facts

ACTIVE_RULES_TTL = 2.0  # seconds the consumer keeps a tenant's active rules before asking again
SHADOW_LIMIT_DAYS = 3660

#: Pages of past cases: ``(tenant, service_id, since, until, after) -> {"items", "next_cursor"}``.
PastCases = Callable[[str, str, str, str, str], dict[str, Any]]


def rule_view(rule: Rule, history: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    current = rule.definitions[rule.current]
    view = {
        "rule_id": str(rule.id), "tenant": rule.tenant, "service_id": rule.service_id, "kind": rule.kind,
        "name": current["name"], "when": current["when"], "then": current["then"],
        "version": rule.current, "active_version": rule.active_version, "active": rule.active_version is not None,
        "shadow_runs": {str(v): _summary(r) for v, r in sorted(rule.shadow_runs.items())},
    }
    if history is not None:
        view["history"] = history
    return view


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k != "disagreements"}


def _day(value: Any, name: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("invalid_parameter", name=name, detail=text("iso_date")) from None


class RulesApp(ReminderDelivery, RuleConsumption, Application[UUID]):
    name = "rules"

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None):
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        self._active: dict[tuple[str, str], tuple[float, list[Rule]]] = {}

    def construct_recorder(self) -> ProcessRecorder:
        return self.factory.process_recorder()

    # -- tenant admins' commands ----------------------------------------------------------
    def define(self, tenant: str, body: dict[str, Any], actor: str, correlation_id: str) -> dict[str, Any]:
        service_id = body.get("service_id")
        if not isinstance(service_id, str) or not 0 < len(service_id) <= 100:
            raise DomainError("rule_invalid", detail="service_id")
        rule = Rule.define(tenant=tenant, service_id=service_id, kind=str(body.get("kind")), name=body.get("name"),
                           when=body.get("when"), then=body.get("then"), actor=actor, correlation_id=correlation_id)
        index = self._index(tenant) or TenantRules(tenant)
        index.add(str(rule.id))
        self.save(rule, index)
        return rule_view(rule)

    def change(self, rule_id: str, body: dict[str, Any], actor: str, correlation_id: str) -> dict[str, Any]:
        rule = self.rule(rule_id)
        rule.change(body.get("name"), body.get("when"), body.get("then"), actor, correlation_id)
        self.save(rule)
        return rule_view(rule)

    def activate(self, rule_id: str, actor: str, correlation_id: str) -> dict[str, Any]:
        rule = self.rule(rule_id)
        rule.activate(actor, correlation_id)
        self.save(rule)
        self._active.clear()
        return rule_view(rule)

    def deactivate(self, rule_id: str, actor: str, correlation_id: str) -> dict[str, Any]:
        rule = self.rule(rule_id)
        rule.deactivate(actor, correlation_id)
        self.save(rule)
        self._active.clear()
        return rule_view(rule)

    # -- reading --------------------------------------------------------------------------
    def rule(self, rule_id: str) -> Rule:
        try:
            found = self.repository.get(UUID(str(rule_id)))
        except (ValueError, AggregateNotFoundError):
            found = None
        if not isinstance(found, Rule):
            raise DomainError("rule_not_found", log_message=f"no rule {str(rule_id)[:64]}")
        return found

    def history(self, rule: Rule) -> list[dict[str, Any]]:
        """Who changed what, when: the rule's own events (the audit)."""
        return [{"at": e.timestamp.isoformat(), "actor": e.actor, "event": type(e).__name__,
                 "version": getattr(e, "rule_version", None) or (1 if type(e).__name__ == "Defined" else None)}
                for e in self.events.get(rule.id)]

    def rule_detail(self, rule_id: str) -> dict[str, Any]:
        rule = self.rule(rule_id)
        return rule_view(rule, self.history(rule))

    def rules_of(self, tenant: str, service_id: str | None = None) -> list[dict[str, Any]]:
        return [rule_view(r) for r in self._rules(tenant) if service_id in (None, r.service_id)]

    def _index(self, tenant: str) -> TenantRules | None:
        try:
            return self.repository.get(TenantRules.create_id(tenant))
        except AggregateNotFoundError:
            return None

    def _rules(self, tenant: str) -> Iterator[Rule]:
        index = self._index(tenant)
        for rule_id in index.rule_ids if index else ():
            yield self.rule(rule_id)

    def active_rules(self, tenant: str, service_id: str) -> list[Rule]:
        """The tenant's switched-on rules for a service, kept ``ACTIVE_RULES_TTL`` seconds."""
        key, now = (tenant, service_id), time.monotonic()
        hit = self._active.get(key)
        if hit is None or now - hit[0] > ACTIVE_RULES_TTL:
            rules = [r for r in self._rules(tenant) if r.service_id == service_id and r.active_version is not None]
            if len(self._active) > 10_000:
                self._active.clear()
            hit = self._active[key] = (now, rules)
        return hit[1]

    # -- shadow runs ----------------------------------------------------------------------
    def shadow_run(self, rule_id: str, since: str, until: str, past_cases: PastCases, actor: str,
                   correlation_id: str, registry: Any = None) -> dict[str, Any]:
        """Run the rule's current version over the cases submitted in [since, until) without
        acting, and record the report on the rule (``ShadowRunCompleted``)."""
        start, end = _day(since, "from"), _day(until, "to")
        if not start < end or (end - start).days > SHADOW_LIMIT_DAYS:
            raise DomainError("invalid_parameter", name="to", detail=f"after 'from', at most {SHADOW_LIMIT_DAYS} days")
        rule = self.rule(rule_id)
        began = time.monotonic()
        now = self.clock()
        asks = "registry_address_match" in facts_used(rule.definitions[rule.current]["when"])

        def cases() -> Iterator[PastCase]:
            after = ""
            while True:
                page = past_cases(rule.tenant, rule.service_id, start.isoformat(), end.isoformat(), after)
                for item in page["items"]:
                    yield PastCase(case_facts(item, now, registry, asks), item.get("outcome"),
                                   item.get("first_assignee"), item.get("decided_by") or "")
                after = page.get("next_cursor") or ""
                if not after:
                    return

        report = shadow_report(rule.kind, rule.definitions[rule.current], cases())
        report.update({"rule_version": rule.current, "from": start.isoformat(), "to": end.isoformat(),
                       "run_at": now.isoformat(timespec="seconds"), "seconds": round(time.monotonic() - began, 3)})
        rule.record_shadow_run(rule.current, report, actor, correlation_id)
        self.save(rule)
        return report

    def shadow_report(self, rule_id: str, version: int | None = None) -> dict[str, Any]:
        rule = self.rule(rule_id)
        report = rule.shadow_runs.get(version or rule.current)
        if report is None:
            raise DomainError("rule_shadow_run_missing", version=version or rule.current)
        return {"rule_id": str(rule.id), "name": rule.definitions[report["rule_version"]]["name"], **report}


def open_rules() -> RulesApp:
    """The rules application on the configured store (SQLite under var/ or PostgreSQL)."""
    return open_application(RulesApp, "rules")
