"""Rules (issue #16) on every backend: the rules application with a real submissions
application — the consumer's core acting through ordinary case commands, idempotent on
redelivery; an automatic decision reversed by a clerk within the window; routing and
reminders; a shadow run over past cases read through submissions' own method."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.db import ReadStore
from services.common.problems import DomainError
from services.rules.application import RulesApp
from services.rules.domain import RuleAction
from services.submissions.projections import CaseReadModels
from tests.integration.conftest import command
from tests.support import AppCases, case_envelopes

VECHTA = "03460009"
DOG_GONE = {
    "holder_first_name": "Erika", "holder_last_name": "Mustermann", "holder_birth_date": "1980-04-12",
    "holder_street": "Große Straße", "holder_house_number": "12a", "holder_postal_code": "49377",
    "holder_city": "Vechta", "email": "erika@example.org", "dog_name": "Bello", "reason": "died",
    "end_date": "2026-11-20", "tag_returned": True,
}
DOG_RULE = {"service_id": "hundeabmeldung", "kind": "decision", "name": "Hundeabmeldung: Hund verstorben",
            "when": {"all": [{"field": "reason", "op": "in", "value": ["died", "moved_away"]},
                             {"field": "tag_returned", "op": "eq", "value": True}]},
            "then": {"outcome": "approve", "reason": "Die Abmeldung ist begründet; die Steuermarke liegt vor."}}
MELDE_RULE = {"service_id": "meldebescheinigung", "kind": "decision", "name": "Meldebescheinigung automatisch",
              "when": {"all": [{"fact": "trust_level", "op": "gte", "value": "high"},
                               {"fact": "registry_address_match", "op": "eq", "value": True},
                               {"fact": "fee_paid", "op": "eq", "value": True}]},
              "then": {"outcome": "approve", "reason": "Vertrauensniveau hoch und Anschrift im Melderegister bestätigt."}}
NO_PAST = {"items": [], "next_cursor": None}


@pytest.fixture
def rules(store_env, clock) -> RulesApp:
    return RulesApp(store_env("rules"), clock=clock)


def switched_on(rules: RulesApp, body: dict[str, Any]) -> str:
    rule_id = rules.define(VECHTA, body, "admin:vechta", "c")["rule_id"]
    rules.shadow_run(rule_id, "2026-01-01", "2026-12-31", lambda *_: NO_PAST, "admin:vechta", "c")
    rules.activate(rule_id, "admin:vechta", "c")
    return rule_id


def submit(submissions, resolve, key: str, service_id: str, form_data: dict[str, Any], **kw: Any) -> str:
    [result] = submissions.submit_batch([command(key=key, service_id=service_id, form_data=form_data, **kw)], resolve)
    assert "case" in result, result
    return result["case"]["case_id"]


def consume_all(rules: RulesApp, submissions, after: int = 0) -> list[str]:
    cases = AppCases(submissions)
    return [rules.consume(e, cases) for e in case_envelopes(submissions, after)]


def test_an_active_rule_decides_automatically_once_and_a_clerk_reverses_it(rules, submissions, resolve, clock) -> None:
    rule_id = switched_on(rules, DOG_RULE)
    case_id = submit(submissions, resolve, "dog-1", "hundeabmeldung", DOG_GONE)
    other = submit(submissions, resolve, "dog-2", "hundeabmeldung", {**DOG_GONE, "reason": "other"})
    assert consume_all(rules, submissions) == ["applied", "skipped"]
    case = submissions.get_case(case_id)
    actor = f"rule:{rule_id}@v1"
    assert case.status == "approved" and case.automatic["rule"] == actor
    events = submissions.case_events(case_id)
    assert [type(e).__name__ for e in events[1:]] == ["ReviewStarted", "DecidedAutomatically", "Approved"]
    assert all(e.actor == actor for e in events[1:])
    assert "Die Abmeldung ist begründet" in events[-1].decision and "Feld 'reason' ist eines von died" in events[-1].decision
    assert submissions.get_case(other).status == "submitted"  # no plausible reason: a clerk decides
    # a redelivery of every event changes nothing
    version = case.version
    assert set(consume_all(rules, submissions)) <= {"seen", "skipped"}
    assert submissions.get_case(case_id).version == version
    # the clerk takes it back into review, once
    clock.advance(3600)
    reversed_case = submissions.act(case_id, "reverse-automatic-decision", {"reason": "Hundesteuer prüfen"},
                                    "clerk:meyer", "c")
    assert (reversed_case["status"], reversed_case["assignee"]) == ("in_review", "clerk:meyer")
    with pytest.raises(DomainError) as raised:
        submissions.act(case_id, "reverse-automatic-decision", {}, "clerk:meyer", "c")
    assert raised.value.code == "transition_not_allowed"
    # the reversal's event is not a trigger: the rule does not decide the case again
    assert "applied" not in consume_all(rules, submissions)
    assert submissions.get_case(case_id).status == "in_review"


def test_reversal_only_within_the_window_and_only_of_automatic_decisions(rules, submissions, resolve, clock) -> None:
    switched_on(rules, DOG_RULE)
    case_id = submit(submissions, resolve, "dog-late", "hundeabmeldung", DOG_GONE)
    consume_all(rules, submissions)
    clock.advance(72 * 3600 + 1)  # RULES_REVERSAL_WINDOW: 72 h by default
    with pytest.raises(DomainError) as raised:
        submissions.act(case_id, "reverse-automatic-decision", {}, "clerk:meyer", "c")
    assert raised.value.code == "reversal_window_closed"
    by_hand = submit(submissions, resolve, "dog-hand", "hundeabmeldung", {**DOG_GONE, "reason": "other"})
    submissions.act(by_hand, "start-review", {}, "clerk:meyer", "c")
    submissions.act(by_hand, "approve", {}, "clerk:meyer", "c")
    with pytest.raises(DomainError) as raised:
        submissions.act(by_hand, "reverse-automatic-decision", {}, "clerk:meyer", "c")
    assert raised.value.code == "not_decided_automatically"


def test_a_meldebescheinigung_is_decided_once_paid_with_trust_high_and_a_registered_address(rules, submissions, resolve) -> None:
    switched_on(rules, MELDE_RULE)
    registered = submit(submissions, resolve, "melde-1", "meldebescheinigung", _melde())
    unknown = submit(submissions, resolve, "melde-2", "meldebescheinigung", _melde(house_number="99"))
    assert set(consume_all(rules, submissions)) == {"skipped"}  # payment pending: nothing to decide yet
    for case_id in (registered, unknown):
        assert submissions.record_fee_paid(case_id, 700, f"KZ-{case_id[:6]}", "c") == "recorded"
    consume_all(rules, submissions)
    assert submissions.get_case(registered).status == "approved"
    assert submissions.get_case(unknown).status == "paid"  # the address is not in the registry: a clerk decides


def test_routing_and_reminder_rules(rules, submissions, resolve) -> None:
    route_id = switched_on(rules, {"service_id": "hundeabmeldung", "kind": "routing", "name": "Vechta Innenstadt",
                                   "when": {"fact": "postcode", "op": "eq", "value": "49377"},
                                   "then": {"assign_to": "team:hundesteuer"}})
    remind_id = switched_on(rules, {"service_id": "hundeabmeldung", "kind": "reminder", "name": "Rückfrage offen",
                                    "when": {"fact": "age_days", "op": "gte", "value": 0},
                                    "then": {"on": "information_requested", "after_days": 7,
                                             "message": "Bitte beantworten Sie unsere Rückfrage."}})
    case_id = submit(submissions, resolve, "dog-route", "hundeabmeldung", {**DOG_GONE, "reason": "other"})
    seen = consume_all(rules, submissions)
    assert submissions.get_case(case_id).assignee == "team:hundesteuer"
    submissions.act(case_id, "start-review", {"clerk": "clerk:meyer"}, "clerk:meyer", "c")
    submissions.act(case_id, "request-information", {"question": "Wann?", "due_date": "2026-12-31"}, "clerk:meyer", "c")
    envelopes = case_envelopes(submissions)
    requested = next(e for e in envelopes if e["type"] == "case.information_requested.v2")
    assert rules.consume(requested, AppCases(submissions)) == "applied"
    action = rules.repository.get(RuleAction.create_id(str(requested["event_id"]), f"rule:{remind_id}@v1"))
    assert (action.action, action.result) == ("remind", "scheduled")
    assert action.due_at[:10] > requested["occurred_at"][:10]
    assert route_id and seen
    # a case withdrawn before its submitted event reaches the consumer is simply not routed (no dead letter)
    gone = submit(submissions, resolve, "dog-gone", "hundeabmeldung", {**DOG_GONE, "reason": "other"})
    submissions.act(gone, "withdraw", {}, "citizen:erika", "c")
    submitted = next(e for e in case_envelopes(submissions) if e["aggregate_id"] == gone)
    assert rules.consume(submitted, AppCases(submissions)) == "applied"
    action = rules.repository.get(RuleAction.create_id(str(submitted["event_id"]), f"rule:{route_id}@v1"))
    assert action.result == "not_open" and submissions.get_case(gone).status == "withdrawn"


def test_a_shadow_run_reads_past_cases_through_submissions_and_compares(rules, submissions, resolve, clock) -> None:
    read = CaseReadModels(ReadStore("submissions"))
    decided = {"died": "approve", "moved_away": "reject", "other": "approve"}
    ids = {}
    for n, (reason, outcome) in enumerate(decided.items()):
        ids[reason] = case_id = submit(submissions, resolve, f"past-{n}", "hundeabmeldung", {**DOG_GONE, "reason": reason})
        submissions.act(case_id, "start-review", {}, "clerk:meyer", "c")
        submissions.act(case_id, outcome, {"reason": "Prüfung"}, "clerk:meyer", "c")
    read.apply(case_envelopes(submissions))
    rule_id = rules.define(VECHTA, DOG_RULE, "admin:vechta", "c")["rule_id"]

    def past_cases(tenant: str, service_id: str, since: str, until: str, after: str) -> dict[str, Any]:
        return submissions.past_cases(read.store, tenant, service_id, since, until, after, limit=2)  # two pages

    report = rules.shadow_run(rule_id, "2026-01-01", "2027-01-01", past_cases, "admin:vechta", "c")
    # died → rule approves, clerk approved (agree); moved_away → rule approves, clerk rejected; other → rule silent
    assert (report["cases"], report["would_act"], report["compared"], report["agree"], report["disagree"]) == (3, 2, 2, 1, 1)
    assert report["disagreements"][0]["case_id"] == ids["moved_away"]
    assert rules.rule_detail(rule_id)["shadow_runs"]["1"]["agreement"] == 0.5
    assert [h["event"] for h in rules.rule_detail(rule_id)["history"]] == ["Defined", "ShadowRunCompleted"]
    read.close()


def test_nothing_acts_before_activation(rules, submissions, resolve) -> None:
    rule_id = rules.define(VECHTA, DOG_RULE, "admin:vechta", "c")["rule_id"]
    with pytest.raises(DomainError) as raised:
        rules.activate(rule_id, "admin:vechta", "c")
    assert raised.value.code == "rule_shadow_run_missing"
    case_id = submit(submissions, resolve, "dog-early", "hundeabmeldung", DOG_GONE)
    assert consume_all(rules, submissions) == ["skipped"]
    assert submissions.get_case(case_id).status == "submitted"


def _melde(**changes: Any) -> dict[str, Any]:
    from tests.examples import form

    return form("meldebescheinigung", **changes)
