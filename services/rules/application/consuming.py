"""The rules consumer's core: one case integration event in, the active rules of its
tenant and service evaluated, their actions sent to submissions as ordinary case commands
(actor ``rule:<id>@v<n>``), and what was done saved with the event's tracking record.

Why act first, record second: the case command is idempotent by the case's own state (the
same rule's decision again is a ``duplicate``, a case decided meanwhile is left alone), so a
crash between the two repeats a harmless command on redelivery; the tracking record then
makes every later redelivery a no-op.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Tracking

from services.common.partitions import source_of_position
from services.common.problems import DomainError
from services.rules.domain import Rule, RuleAction
from services.rules.domain.conditions import facts_used
from services.rules.domain.evaluation import TRIGGERS, Outcome, decide
from services.rules.facts import case_facts

SOURCE = "submissions"  # the case events' notification log (positions are its ids)


class CaseCommands(Protocol):
    """What the consumer asks of submissions (RPC in the process, the app in tests)."""

    def rule_facts(self, case_id: str) -> dict[str, Any]: ...

    def decide_automatically(self, case_id: str, outcome: str, reason: str, rule: str) -> str: ...

    def assign(self, case_id: str, clerk: str, rule: str) -> str: ...


class RuleConsumption:
    clock: Any
    recorder: Any
    active_rules: Any
    _record: Any

    def consume(self, envelope: dict[str, Any], cases: CaseCommands, registry: Any = None) -> str:
        """``applied`` (a rule acted), ``skipped`` (no rule for it) or ``seen`` (redelivery)."""
        position = envelope.get("position")
        source = source_of_position(SOURCE, position)  # one source per case partition
        tracking = Tracking(source, int(position)) if position is not None else None
        if tracking is not None and self.recorder.has_tracking_id(source, tracking.notification_id):
            return "seen"
        kind = envelope["type"].rsplit(".", 1)[0]
        rules = [r for r in self.active_rules(envelope["tenant"], envelope["service_id"]) if kind in TRIGGERS[r.kind]]
        actions = []
        if rules:
            now = self.clock()
            asks = any("registry_address_match" in facts_used(r.active_definition["when"]) for r in rules)
            facts = case_facts(cases.rule_facts(envelope["aggregate_id"]), now, registry, asks)
            for rule in sorted(rules, key=_order):
                outcome = decide(rule.kind, rule.active_definition, facts)
                if outcome is None or not _fits(outcome, kind):
                    continue
                actions.append(self._act(rule, outcome, envelope, cases, now))
                if outcome.kind == "decision":
                    break  # one decision per case event: the first matching decision rule wins
        processing = ProcessingEvent[UUID](tracking)
        processing.collect_events(*actions)
        try:
            if actions:
                self._record(processing)
            elif tracking is not None:
                self.recorder.insert_tracking(tracking)
        except IntegrityError:
            return "seen"  # the same event handled concurrently
        return "applied" if actions else "skipped"

    def _act(self, rule: Rule, outcome: Outcome, envelope: dict[str, Any], cases: CaseCommands, now: datetime) -> RuleAction:
        actor = rule.actor_of(rule.active_version)
        case_id, due_at = envelope["aggregate_id"], ""
        if outcome.kind == "decision":
            result = cases.decide_automatically(case_id, outcome.action, outcome.reason, actor)
        elif outcome.kind == "routing":
            try:
                result = cases.assign(case_id, outcome.target, actor)
            except DomainError as exc:
                if exc.code != "transition_not_allowed":
                    raise
                result = "not_open"  # closed meanwhile (withdrawn, decided): nothing to route
        else:  # a reminder: due N days after the request (or the case's arrival, for overdue ones)
            due_at = (datetime.fromisoformat(envelope["occurred_at"]) + timedelta(days=outcome.after_days)).isoformat()
            result = "scheduled"
        return RuleAction(
            tenant=envelope["tenant"], service_id=envelope["service_id"], case_id=case_id, rule=actor,
            action=outcome.action, target=outcome.target, reason=outcome.reason[:2000], due_at=due_at, result=result,
            source_event_id=str(envelope["event_id"]), actor=actor, correlation_id=str(envelope.get("correlation_id") or ""),
        )


def _order(rule: Rule) -> tuple[int, str]:
    """Routing before reminders before decisions; by id within a kind (deterministic)."""
    return ({"routing": 0, "reminder": 1, "decision": 2}[rule.kind], str(rule.id))


def _fits(outcome: Outcome, kind: str) -> bool:
    if outcome.kind != "reminder":
        return True
    return (outcome.target == "citizen") == (kind == "case.information_requested")
