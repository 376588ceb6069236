"""What a rule version would do with one case, and the shadow report over many.

Why pure: the consumer (acting), the shadow run (not acting) and the bench all run the
same function over the same facts, so a shadow run's figures are what the rule would
really have done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from services.rules.domain.conditions import evaluate

#: The case events each kind looks at (integration event types without version).
TRIGGERS = {
    "routing": frozenset({"case.submitted"}),
    "decision": frozenset({"case.submitted", "case.payment_received", "case.information_supplied"}),
    "reminder": frozenset({"case.information_requested", "case.submitted"}),
}
#: A decision rule acts only on a case nobody has decided or is waiting on.
DECIDABLE = frozenset({"submitted", "paid", "in_review"})
OUTCOME_DE = {"approve": "bewilligt", "reject": "abgelehnt"}
DISAGREEMENTS_LISTED = 500


@dataclass(frozen=True)
class CaseFacts:
    """What a rule may look at: the case's form answers and the platform's facts."""

    case_id: str
    tenant: str
    service_id: str
    status: str
    form: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)
    reference: str = ""


@dataclass(frozen=True)
class Outcome:
    kind: str
    action: str  # approve / reject / assign / remind
    reason: str
    target: str = ""  # team/clerk for routing, citizen/team_lead for reminders
    after_days: int = 0


def decide(kind: str, definition: Mapping[str, Any], case: CaseFacts) -> Outcome | None:
    """The rule's action for this case, with a human-readable German reason, or None."""
    if kind == "decision" and case.status not in DECIDABLE:
        return None
    holds, why = evaluate(definition["when"], case.form, case.facts)
    if not holds:
        return None
    then = definition["then"]
    because = "; ".join(why)
    if kind == "decision":
        reason = f"{then['reason']} (Regel „{definition['name']}“: {because})"
        return Outcome(kind, then["outcome"], reason)
    if kind == "routing":
        return Outcome(kind, "assign", f"Zugewiesen nach Regel „{definition['name']}“: {because}", then["assign_to"])
    target = "citizen" if then["on"] == "information_requested" else "team_lead"
    return Outcome(kind, "remind", then.get("message") or definition["name"], target, int(then["after_days"]))


@dataclass(frozen=True)
class PastCase:
    """A past case for a shadow run: its facts when it arrived and what the clerk did."""

    facts: CaseFacts
    clerk_outcome: str | None  # approve / reject / None (not decided, withdrawn)
    assignee: str | None = None
    decided_by: str = ""


def shadow_report(kind: str, definition: Mapping[str, Any], cases: Iterable[PastCase]) -> dict[str, Any]:
    """Run the rule over past cases without acting: how many it would have decided (or
    routed), how often that agrees with what the clerk actually did, and the disagreements."""
    total = would = compared = agree = 0
    disagreements: list[dict[str, Any]] = []
    disagree = 0
    for past in cases:
        total += 1
        # a past case is judged as it arrived: the decision it got later is the comparison
        facts = past.facts if kind != "decision" else _as_submitted(past.facts)
        outcome = decide(kind, definition, facts)
        if outcome is None:
            continue
        would += 1
        if kind == "decision":
            actual = past.clerk_outcome
            wanted = outcome.action
        elif kind == "routing":
            actual = _clerk_name(past.assignee)
            wanted = _clerk_name(outcome.target)
        else:
            continue  # reminders: only how often they would have fired
        if actual is None:
            continue
        compared += 1
        if actual == wanted:
            agree += 1
        else:
            disagree += 1
            if len(disagreements) < DISAGREEMENTS_LISTED:
                disagreements.append({"case_id": facts.case_id, "reference": facts.reference,
                                      "rule": wanted, "clerk": actual, "decided_by": past.decided_by})
    return {
        "cases": total, "would_act": would, "compared": compared, "agree": agree, "disagree": disagree,
        "agreement": round(agree / compared, 4) if compared else None,
        "disagreements": disagreements, "disagreements_listed": len(disagreements),
    }


def _as_submitted(facts: CaseFacts) -> CaseFacts:
    return CaseFacts(facts.case_id, facts.tenant, facts.service_id, "submitted", facts.form, facts.facts, facts.reference)


def _clerk_name(target: str | None) -> str | None:
    if target is None:
        return None
    return target.split(":", 1)[1] if target.startswith(("clerk:", "team:")) else target
