"""Cases and rules (issue #16): what the rules service may know of a case, its past cases
for shadow runs, an automatic decision and a clerk's reversal of one.

Why here: the rules service owns rules, submissions owns cases; a rule's decision is an
ordinary case command (actor ``rule:<id>@v<n>``), and the rules service reads cases only
through these methods (RPC), never the case tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from services.common.cases import Status
from services.common.config import settings
from services.common.db import ReadStore
from services.submissions.domain import Case

PAGE_LIMIT = 1000
_OUTCOMES = {Case.Approved: "approve", Case.Rejected: "reject"}


def rule_facts(case: Case, events: list[Any] | None = None) -> dict[str, Any]:
    """What a rule may look at: the answers, trust level, fee, dates, status; with the
    events, also the decision and who made it (for shadow runs)."""
    facts = {
        "case_id": str(case.id), "tenant": case.tenant, "service_id": case.service_id,
        "reference": case.reference, "status": case.status.value, "form_data": case.form_data,
        "trust_level": (case.applicant or {}).get("trust_level", "basic"),
        "fee_cents": case.fee_cents, "paid_cents": case.paid_cents, "submitted_at": case.submitted_at,
        "assignee": case.assignee, "outcome": None, "decided_by": "", "first_assignee": None,
    }
    for event in events or ():
        if type(event) in _OUTCOMES:
            facts["outcome"], facts["decided_by"] = _OUTCOMES[type(event)], event.actor
        elif isinstance(event, Case.AutomaticDecisionReversed):
            facts["outcome"], facts["decided_by"] = None, ""
        elif isinstance(event, Case.ReviewStarted | Case.Reassigned) and facts["first_assignee"] is None:
            facts["first_assignee"] = event.clerk
    return facts


class AutomaticDecisions:
    """Mixed into :class:`~services.submissions.application.SubmissionsApp`."""

    clock: Any
    get_case: Any
    save: Any
    events: Any
    case_stream: Any  # a case's events by its id, in whichever partition it is

    def decide_automatically(self, case_id: str, outcome: str, reason: str, rule: str, correlation_id: str) -> str:
        """Idempotent by the case's state: the same rule's decision again changes nothing;
        a case decided, withdrawn or waiting (payment, information) meanwhile is left alone."""
        case = self.get_case(case_id)
        if case.automatic and case.automatic["rule"] == rule:
            return "duplicate"
        if case.status not in (Status.SUBMITTED, Status.PAID, Status.IN_REVIEW):
            return "not_decidable"
        case.decide_automatically(outcome, reason[:6000], rule, self.clock().isoformat(), correlation_id)
        self.save(case)
        return "decided"

    def reverse_automatic_decision(self, case: Case, clerk: str, reason: str, actor: str, correlation_id: str) -> None:
        at = datetime.fromisoformat(case.automatic["at"]) if case.automatic else self.clock()
        window = settings().rules_reversal_window
        case.reverse_automatic_decision(clerk, reason, (self.clock() - at).total_seconds(), window, actor, correlation_id)

    def rule_facts(self, case_id: str) -> dict[str, Any]:
        return rule_facts(self.get_case(case_id))

    def past_cases(self, read: ReadStore, tenant: str, service_id: str, since: str, until: str,
                   after: str = "", limit: int = PAGE_LIMIT) -> dict[str, Any]:
        """One page of the tenant's cases of a service submitted in [since, until), oldest
        first, each with its facts and what the clerk decided (cursor: ``submitted_at|case_id``)."""
        limit = max(1, min(int(limit), PAGE_LIMIT))
        last_at, _, last_id = (after or "|").partition("|")
        rows = read.query(
            "SELECT case_id, submitted_at FROM worklist WHERE tenant = ? AND service_id = ? "
            "AND submitted_at >= ? AND submitted_at < ? AND (submitted_at > ? OR (submitted_at = ? AND case_id > ?)) "
            "ORDER BY submitted_at, case_id LIMIT ?",
            (tenant, service_id, since, until, last_at, last_at, last_id, limit),
        )
        items = []
        for case_id, _ in rows:
            events = list(self.case_stream(UUID(case_id)))  # one read: the case is folded from them
            case = None
            for event in events:
                case = event.mutate(case)
            if isinstance(case, Case):
                items.append(rule_facts(case, events))
        cursor = f"{rows[-1][1]}|{rows[-1][0]}" if len(rows) == limit else None
        return {"items": items, "next_cursor": cursor}
