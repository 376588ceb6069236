"""Rules (issue #16): the condition language, each rule kind, the Rule aggregate's versions
and its shadow-run gate, the shadow report checked by hand, the registry adapter, the CSV."""

from __future__ import annotations

import pytest

from services.common.problems import DomainError
from services.rules.domain import Rule
from services.rules.domain.conditions import evaluate, validate
from services.rules.domain.evaluation import CaseFacts, PastCase, decide, shadow_report
from services.rules.registry import demo_registry
from services.rules.shadow import report_csv
from tests.examples import form

HIGH_AND_REGISTERED = {"all": [{"fact": "trust_level", "op": "gte", "value": "high"},
                               {"fact": "registry_address_match", "op": "eq", "value": True}]}
MELDE = {"name": "Meldebescheinigung automatisch", "when": HIGH_AND_REGISTERED,
         "then": {"outcome": "approve", "reason": "Die Angaben stimmen mit dem Melderegister überein."}}
DOG = {"name": "Hundeabmeldung mit plausiblem Grund",
       "when": {"all": [{"field": "reason", "op": "in", "value": ["died", "moved_away"]},
                        {"field": "end_date", "op": "exists"}]},
       "then": {"outcome": "approve", "reason": "Die Abmeldung ist begründet."}}


def facts(status: str = "submitted", form_data: dict | None = None, **known: object) -> CaseFacts:
    base = {"trust_level": "high", "registry_address_match": True, "fee_paid": True, "age_days": 0}
    return CaseFacts("c1", "03460009", "meldebescheinigung", status, form_data or {}, {**base, **known}, "VEC-2026-000001")


# -- the condition language --------------------------------------------------------------------
@pytest.mark.parametrize("condition", [
    {"field": "reason"},  # no operator
    {"field": "reason", "op": "like", "value": "x"},  # unknown operator
    {"fact": "shoe_size", "op": "eq", "value": 42},  # unknown fact
    {"all": []},  # empty combination
    {"field": "reason", "op": "in", "value": "died"},  # in needs a list
    {"field": "reason", "op": "eq"},  # eq needs a value
    {"fact": "trust_level", "op": "gte", "value": "very high"},
    {"field": "Reason; DROP", "op": "eq", "value": 1},
    {"python": "__import__('os').system('true')"},  # no code, ever
    {"not": {"not": {"not": {"not": {"not": {"not": {"field": "a", "op": "exists"}}}}}}},  # too deep
])
def test_invalid_conditions_are_refused_with_a_stable_code(condition: dict) -> None:
    with pytest.raises(DomainError) as raised:
        validate(condition)
    assert raised.value.code == "rule_invalid"


def test_operators_and_trust_levels_are_ranked() -> None:
    form_data = {"reason": "died", "copies": 2, "postal_code": "49377"}
    assert evaluate({"fact": "trust_level", "op": "gte", "value": "substantial"}, form_data, {"trust_level": "high"})[0]
    assert not evaluate({"fact": "trust_level", "op": "gte", "value": "high"}, form_data, {"trust_level": "substantial"})[0]
    assert evaluate({"field": "copies", "op": "lte", "value": 2}, form_data, {})[0]
    assert not evaluate({"field": "copies", "op": "gt", "value": "2"}, form_data, {})[0]  # text vs number: not true
    assert evaluate({"field": "postal_code", "op": "starts_with", "value": "493"}, form_data, {})[0]
    assert evaluate({"not": {"field": "reason", "op": "eq", "value": "other"}}, form_data, {})[0]
    assert not evaluate({"field": "missing", "op": "exists"}, form_data, {})[0]
    assert evaluate({"any": [{"field": "missing", "op": "exists"}, {"field": "reason", "op": "in", "value": ["died"]}]},
                    form_data, {})[0]


def test_the_explanation_names_what_held_in_german() -> None:
    holds, why = evaluate(HIGH_AND_REGISTERED, {}, {"trust_level": "high", "registry_address_match": True})
    assert holds and why == ["Vertrauensniveau ≥ high", "Anschrift im Melderegister bestätigt ist ja"]
    holds, why = evaluate(HIGH_AND_REGISTERED, {}, {"trust_level": "basic", "registry_address_match": True})
    assert not holds and why == ["nicht erfüllt: Vertrauensniveau ≥ high"]


# -- each kind -------------------------------------------------------------------------------
def test_a_decision_rule_approves_with_its_reason_and_only_an_undecided_case() -> None:
    outcome = decide("decision", MELDE, facts())
    assert outcome is not None and outcome.action == "approve"
    assert outcome.reason.startswith("Die Angaben stimmen mit dem Melderegister überein. (Regel „Meldebescheinigung")
    assert decide("decision", MELDE, facts(registry_address_match=False)) is None
    assert decide("decision", MELDE, facts(trust_level="substantial")) is None
    for status in ("payment_pending", "information_requested", "approved", "withdrawn"):
        assert decide("decision", MELDE, facts(status)) is None, status


def test_a_routing_rule_assigns_by_postcode() -> None:
    rule = {"name": "Vechta Nord", "when": {"fact": "postcode", "op": "eq", "value": "49377"},
            "then": {"assign_to": "team:meldewesen-nord"}}
    outcome = decide("routing", rule, facts(postcode="49377"))
    assert outcome is not None and (outcome.action, outcome.target) == ("assign", "team:meldewesen-nord")
    assert decide("routing", rule, facts(postcode="49393")) is None


def test_reminder_rules_name_whom_and_when() -> None:
    rule = {"name": "Erinnerung", "when": {"fact": "age_days", "op": "gte", "value": 0},
            "then": {"on": "information_requested", "after_days": 7, "message": "Bitte beantworten Sie unsere Rückfrage."}}
    outcome = decide("reminder", rule, facts("information_requested"))
    assert outcome is not None and (outcome.target, outcome.after_days) == ("citizen", 7)
    overdue = {**rule, "then": {"on": "overdue", "after_days": 3}}
    assert decide("reminder", overdue, facts()).target == "team_lead"


# -- the aggregate ---------------------------------------------------------------------------
def define(**kw: object) -> Rule:
    fields = {"tenant": "03460009", "service_id": "hundeabmeldung", "kind": "decision", **DOG,
              "actor": "admin:1", "correlation_id": "c", **kw}
    return Rule.define(**fields)


def test_a_rule_is_switched_on_only_after_a_shadow_run_of_its_current_version() -> None:
    rule = define()
    with pytest.raises(DomainError) as raised:
        rule.activate("admin:1", "c")
    assert raised.value.code == "rule_shadow_run_missing"
    rule.record_shadow_run(1, {"cases": 0}, "admin:1", "c")
    rule.activate("admin:1", "c")
    assert rule.active_version == 1 and rule.actor_of(1) == f"rule:{rule.id}@v1"
    rule.change("Neu", DOG["when"], DOG["then"], "admin:2", "c")
    assert (rule.current, rule.active_version) == (2, 1)  # version 1 keeps acting
    with pytest.raises(DomainError):
        rule.activate("admin:2", "c")  # version 2 has no shadow run
    rule.record_shadow_run(2, {"cases": 0}, "admin:2", "c")
    rule.activate("admin:2", "c")
    assert rule.active_definition["name"] == "Neu"
    rule.deactivate("admin:2", "c")
    assert rule.active_version is None


def test_the_same_definition_again_records_no_version() -> None:
    rule = define()
    rule.change(DOG["name"], DOG["when"], DOG["then"], "admin:1", "c")
    assert rule.current == 1 and len(rule.collect_events()) == 1


def test_a_bad_then_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        define(then={"outcome": "maybe", "reason": "x"})
    assert raised.value.code == "rule_invalid" and "then/outcome" in raised.value.params["detail"]
    with pytest.raises(DomainError):
        define(kind="routing", then={"assign_to": "jemand"})


# -- the shadow report, checked by hand ------------------------------------------------------
def test_the_shadow_report_counts_as_worked_out_by_hand() -> None:
    """Five past Hundeabmeldungen; the rule approves 'died' and 'moved_away' with an end date:
    c1 died → clerk approved (agree), c2 died → clerk rejected (disagree), c3 moved_away → open
    (not compared), c4 given_away → rule silent, c5 moved_away → approved (agree).
    would_act 4, compared 3, agree 2, disagree 1, agreement 2/3."""
    def past(case_id: str, reason: str, clerk: str | None, status: str = "approved") -> PastCase:
        case = CaseFacts(case_id, "03460009", "hundeabmeldung", status,
                         {"reason": reason, "end_date": "2026-11-01"}, {}, f"VEC-{case_id}")
        return PastCase(case, clerk, decided_by="clerk:meyer" if clerk else "")

    report = shadow_report("decision", DOG, [
        past("c1", "died", "approve"), past("c2", "died", "reject", "rejected"), past("c3", "moved_away", None, "in_review"),
        past("c4", "given_away", "approve"), past("c5", "moved_away", "approve"),
    ])
    assert (report["cases"], report["would_act"], report["compared"], report["agree"], report["disagree"]) == (5, 4, 3, 2, 1)
    assert report["agreement"] == 0.6667
    assert report["disagreements"] == [{"case_id": "c2", "reference": "VEC-c2", "rule": "approve", "clerk": "reject",
                                        "decided_by": "clerk:meyer"}]
    text = report_csv({"rule_id": "r1", "name": "Hund", **report})
    lines = text.split("\r\n")
    assert lines[0].startswith("rule_id;name;cases;would_act;compared;agree;disagree;agreement")
    assert lines[1].startswith("r1;Hund;5;4;3;2;1;0.6667")
    assert lines[4] == "c2;VEC-c2;approve;reject;clerk:meyer"


# -- the demo registry adapter ---------------------------------------------------------------
def test_the_registry_matches_name_birth_date_and_address_normalised() -> None:
    registry = demo_registry()
    assert registry.address_matches(form("meldebescheinigung"))
    assert registry.address_matches(form("meldebescheinigung", street="MARKTSTRASSE"))
    assert not registry.address_matches(form("meldebescheinigung", house_number="4"))
    assert not registry.address_matches(form("meldebescheinigung", birth_date="1975-01-31"))
    assert registry.address_matches(form("hundeanmeldung"))  # the holder_* fields of a dog form
    assert not registry.address_matches({})
