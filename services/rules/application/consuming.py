"""The rules consumer's core: one case integration event in, the active rules of its
tenant and service evaluated, their actions sent to submissions as ordinary case commands
(actor ``rule:<id>@v<n>``), and what was done saved with the event's tracking record.

Why act first, record second: the case command is idempotent by the case's own state (the
same rule's decision again is a ``duplicate``, a case decided meanwhile is left alone), so a
crash between the two repeats a harmless command on redelivery; the tracking record then
makes every later redelivery a no-op.

Why batches (:class:`CaseEventBatch`): the consumer reads the tracking position once per
batch and saves what the rules did for the whole batch with the tracking record of its last
event in one transaction — two statements on the rules store per batch instead of a read
and a commit per event. The tracking record is a single row (the highest position), so one
record covers the batch.
"""

from __future__ import annotations

import contextlib
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

    def open_batch(self) -> CaseEventBatch:
        """A batch of case events: consume each, then :meth:`CaseEventBatch.commit` once."""
        return CaseEventBatch(self)

    def consume(self, envelope: dict[str, Any], cases: CaseCommands, registry: Any = None) -> str:
        """One event as a batch of one: ``applied``, ``skipped`` or ``seen``."""
        batch = self.open_batch()
        result = batch.consume(envelope, cases, registry)
        batch.commit()
        return result

    def _evaluate(self, envelope: dict[str, Any], cases: CaseCommands, registry: Any) -> list[RuleAction]:
        kind = envelope["type"].rsplit(".", 1)[0]
        rules = [r for r in self.active_rules(envelope["tenant"], envelope["service_id"]) if kind in TRIGGERS[r.kind]]
        actions: list[RuleAction] = []
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
        return actions

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


class CaseEventBatch:
    """Case events consumed in order; what the rules did is saved by :meth:`commit` in one
    transaction per case partition (tracking source) with the tracking record of that
    partition's last event (redelivered ones are ``seen``)."""

    def __init__(self, app: RuleConsumption) -> None:
        self.app = app
        self.tracked: dict[str, int] = {}  # per source: the highest position recorded
        self.actions: dict[str | None, list[RuleAction]] = {}
        self.positions: dict[str, int] = {}  # per source: the highest position consumed in this batch

    def _tracked(self, source: str) -> int:
        if source not in self.tracked:  # read once per batch and source
            self.tracked[source] = self.app.recorder.max_tracking_id(source) or 0
        return self.tracked[source]

    def consume(self, envelope: dict[str, Any], cases: CaseCommands, registry: Any = None) -> str:
        """``applied`` (a rule acted), ``skipped`` (no rule for it) or ``seen`` (redelivery)."""
        position = envelope.get("position")
        source = source_of_position(SOURCE, position) if position is not None else None
        if source is not None and int(position) <= max(self._tracked(source), self.positions.get(source, 0)):
            return "seen"
        actions = self.app._evaluate(envelope, cases, registry)
        self.actions.setdefault(source, []).extend(actions)
        if source is not None:
            self.positions[source] = int(position)
        return "applied" if actions else "skipped"

    def commit(self) -> None:
        """Per source one transaction: its RuleActions and its tracking record. If another
        consumer recorded the same events meanwhile, what is new of them is kept."""
        actions, positions = self.actions, self.positions
        self.actions, self.positions = {}, {}
        for source in {*actions, *positions}:
            position = positions.get(source) if source is not None else None
            if position is not None:
                self.tracked[source] = max(self._tracked(source), position)
            self._save(actions.get(source, []), Tracking(source, position) if position is not None else None)

    def _save(self, actions: list[RuleAction], tracking: Tracking | None) -> None:
        if not actions and tracking is None:
            return
        processing = ProcessingEvent[UUID](tracking)
        processing.collect_events(*actions)
        try:
            if actions:
                self.app._record(processing)
            elif tracking is not None:
                self.app.recorder.insert_tracking(tracking)
        except IntegrityError:
            for event in processing.events:  # handled concurrently: each action once (deterministic ids)
                alone = ProcessingEvent[UUID](None)
                alone.collect_events(event)
                with contextlib.suppress(IntegrityError):
                    self.app._record(alone)
