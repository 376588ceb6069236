"""The Rule aggregate: a tenant's rule for one service, versioned, audited, switched on only
after a shadow run of the version to be switched on.

Why this shape: every change is a new version (``Changed``) with who and when, so a
decision's actor ``rule:<id>@v<n>`` names exactly the definition that decided. The active
version keeps acting while a newer one waits for its shadow run; ``activate`` switches the
current version on and is refused (``rule_shadow_run_missing``, 409) without a shadow run of
it. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError
from services.rules.domain.definition import checked

TENANT_RULES_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/tenant-rules")


class ShadowRunMissing(DomainError):
    code = "rule_shadow_run_missing"


class Rule(Aggregate):
    class Event(Aggregate.Event):
        tenant: str
        service_id: str
        actor: str
        correlation_id: str

    @event("Defined")
    def __init__(self, *, tenant: str, service_id: str, kind: str, definition: dict[str, Any],
                 actor: str, correlation_id: str) -> None:
        self.tenant = tenant
        self.service_id = service_id
        self.kind = kind
        self.definitions: dict[int, dict[str, Any]] = {1: definition}
        self.current = 1
        self.active_version: int | None = None
        self.shadow_runs: dict[int, dict[str, Any]] = {}

    @classmethod
    def define(cls, *, tenant: str, service_id: str, kind: str, name: Any, when: Any, then: Any,
               actor: str, correlation_id: str) -> Rule:
        definition = checked(kind, name, when, then)
        return cls(tenant=tenant, service_id=service_id, kind=kind, definition=definition,
                   actor=actor, correlation_id=correlation_id)

    def _trigger(self, event_class: type[Rule.Event], actor: str, correlation_id: str, **kw: Any) -> None:
        self.trigger_event(event_class, tenant=self.tenant, service_id=self.service_id, actor=actor,
                           correlation_id=correlation_id, **kw)

    # -- commands -------------------------------------------------------------------------
    def change(self, name: Any, when: Any, then: Any, actor: str, correlation_id: str) -> None:
        definition = checked(self.kind, name, when, then)
        if definition != self.definitions[self.current]:  # the same definition again records nothing
            self._trigger(self.Changed, actor, correlation_id, rule_version=self.current + 1, definition=definition)

    def record_shadow_run(self, rule_version: int, report: dict[str, Any], actor: str, correlation_id: str) -> None:
        if rule_version not in self.definitions:
            raise DomainError("not_found", log_message=f"no version {rule_version}")
        self._trigger(self.ShadowRunCompleted, actor, correlation_id, rule_version=rule_version, report=report)

    def activate(self, actor: str, correlation_id: str) -> None:
        if self.current not in self.shadow_runs:
            raise ShadowRunMissing(version=self.current)
        if self.active_version != self.current:
            self._trigger(self.Activated, actor, correlation_id, rule_version=self.current)

    def deactivate(self, actor: str, correlation_id: str) -> None:
        if self.active_version is not None:
            self._trigger(self.Deactivated, actor, correlation_id)

    # -- reading --------------------------------------------------------------------------
    @property
    def active_definition(self) -> dict[str, Any] | None:
        return self.definitions[self.active_version] if self.active_version is not None else None

    def actor_of(self, version: int) -> str:
        """Who a decision of this rule version is: ``rule:<id>@v<version>``."""
        return f"rule:{self.id}@v{version}"

    # -- events ---------------------------------------------------------------------------
    class Changed(Event):
        rule_version: int
        definition: dict[str, Any]

        def apply(self, rule: Rule) -> None:
            rule.definitions[self.rule_version] = self.definition
            rule.current = self.rule_version

    class ShadowRunCompleted(Event):
        rule_version: int
        report: dict[str, Any]

        def apply(self, rule: Rule) -> None:
            rule.shadow_runs[self.rule_version] = self.report

    class Activated(Event):
        rule_version: int

        def apply(self, rule: Rule) -> None:
            rule.active_version = self.rule_version

    class Deactivated(Event):
        def apply(self, rule: Rule) -> None:
            rule.active_version = None


class TenantRules(Aggregate):
    """Which rules a tenant has: saved with each new rule, so listing them and finding the
    active ones needs no read model that could lag."""

    @event("Opened")
    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.rule_ids: list[str] = []

    @staticmethod
    def create_id(tenant: str) -> UUID:
        return uuid5(TENANT_RULES_NAMESPACE, tenant)

    @event("RuleAdded")
    def add(self, rule_id: str) -> None:
        self.rule_ids.append(rule_id)


RULE_ACTION_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/rule-actions")


class RuleAction(Aggregate):
    """What one rule version did (or scheduled) on one case event: the rules service's own
    record next to the case command it sent, saved with the event's tracking record."""

    @event("Recorded")
    def __init__(self, *, tenant: str, service_id: str, case_id: str, rule: str, action: str, target: str,
                 reason: str, due_at: str, result: str, source_event_id: str, actor: str, correlation_id: str) -> None:
        self.tenant = tenant
        self.service_id = service_id
        self.case_id = case_id
        self.rule = rule
        self.action = action
        self.target = target
        self.reason = reason
        self.result = result
        self.due_at = due_at
        self.correlation_id = correlation_id

    @event("Settled")
    def settle(self, result: str, tenant: str, service_id: str, actor: str, correlation_id: str) -> None:
        """A scheduled reminder was handed to notifications (``sent``) or was no longer
        needed (``not_needed``: answered, decided, withdrawn; ``case_gone``)."""
        self.result = result

    @staticmethod
    def create_id(source_event_id: str, rule: str, **_: Any) -> UUID:
        return uuid5(RULE_ACTION_NAMESPACE, f"{source_event_id}|{rule}")
