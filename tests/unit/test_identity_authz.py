"""Authorisation matrix for the pure decision functions in services.common.authz."""

from __future__ import annotations

import pytest

from services.common.authz import (
    APPLICANT_ACTIONS,
    CLERK_ACTIONS,
    TEAM_LEAD_ACTIONS,
    Grant,
    Principal,
    WorklistScope,
    can_act_on_case,
    can_manage_staff,
    can_read_all_kpis,
    can_read_audit,
    can_read_case,
    can_submit_for,
    is_second_person,
    principal_from_claims,
    worklist_filter,
)
from services.common.cases import ACTIONS as CASE_ACTIONS

VECHTA, LOHNE, LANDKREIS = "03460009", "03460006", "03460000"
ALICE, BOB, FIRMA = "acc-alice", "acc-bob", "acc-firma"


def grant(tenant: str, role: str, *keys: str) -> Grant:
    return Grant(tenant, role, keys or ("*",))


P = {
    "alice": Principal(ALICE, "citizen"),
    "alice_eid": Principal(ALICE, "citizen", trust_level="substantial"),
    "bob": Principal(BOB, "citizen"),
    "firma": Principal(FIRMA, "organisation"),
    "clerk_vechta": Principal("acc-c1", "clerk", (grant(VECHTA, "clerk"),)),
    "clerk_vechta_gewerbe": Principal("acc-c2", "clerk", (grant(VECHTA, "clerk", "gewerbe.anmeldung"),)),
    "lead_vechta": Principal("acc-c3", "clerk", (grant(VECHTA, "team_lead"),)),
    "clerk_lohne": Principal("acc-c4", "clerk", (grant(LOHNE, "clerk"),)),
    "clerk_landkreis": Principal("acc-c5", "clerk", (grant(LANDKREIS, "clerk"),)),
    "admin_vechta": Principal("acc-a1", "tenant_admin", (grant(VECHTA, "tenant_admin"),)),
    "admin_clerk_vechta": Principal(
        "acc-a2", "tenant_admin", (grant(VECHTA, "tenant_admin"), grant(VECHTA, "clerk", "hund.steuer"))
    ),
    "operator": Principal("acc-o1", "operator", (grant(VECHTA, "clerk"),)),  # grants must not matter
    "clerk_posing_as_citizen": Principal(ALICE, "clerk"),
    "unknown_kind": Principal("acc-x", "superuser", (grant(VECHTA, "clerk"),)),
    "bad_trust": Principal(ALICE, "citizen", trust_level="ultra"),
}

CASES = {
    "alice_gewerbe_vechta": {"tenant": VECHTA, "service_id": "gewerbe.anmeldung", "applicant_ref": ALICE},
    "bob_hund_vechta": {"tenant": VECHTA, "service_id": "hund.steuer", "applicant_ref": BOB},
    "alice_lohne": {"tenant": LOHNE, "service_id": "gewerbe.anmeldung", "applicant_ref": ALICE},
    "firma_landkreis": {"tenant": LANDKREIS, "service_id": "bau.antrag", "applicant_ref": FIRMA},
    "alice_eid_case": {
        "tenant": VECHTA,
        "service_id": "melde.bescheinigung",
        "applicant_ref": ALICE,
    },
}

# principal -> cases it may read; every other (principal, case) pair must be denied.
READABLE = {
    "alice": {"alice_gewerbe_vechta", "alice_lohne", "alice_eid_case"},
    "alice_eid": {"alice_gewerbe_vechta", "alice_lohne", "alice_eid_case"},
    "bob": {"bob_hund_vechta"},
    "firma": {"firma_landkreis"},
    "clerk_vechta": {"alice_gewerbe_vechta", "bob_hund_vechta", "alice_eid_case"},
    "clerk_vechta_gewerbe": {"alice_gewerbe_vechta"},
    "lead_vechta": {"alice_gewerbe_vechta", "bob_hund_vechta", "alice_eid_case"},
    "clerk_lohne": {"alice_lohne"},
    "clerk_landkreis": {"firma_landkreis"},
    "admin_vechta": set(),
    "admin_clerk_vechta": {"bob_hund_vechta"},
    "operator": set(),
    "clerk_posing_as_citizen": set(),
    "unknown_kind": set(),
    "bad_trust": set(),
}


@pytest.mark.parametrize("principal", sorted(P))
@pytest.mark.parametrize("case", sorted(CASES))
def test_read_matrix(principal, case):
    assert can_read_case(P[principal], CASES[case]) is (case in READABLE[principal])


ALL_ACTIONS = sorted(APPLICANT_ACTIONS | TEAM_LEAD_ACTIONS | {"record-payment", "delete", ""})

# principal -> case -> allowed actions (absent = none)
ACTIONS = {
    "alice": {k: APPLICANT_ACTIONS for k in ("alice_gewerbe_vechta", "alice_lohne", "alice_eid_case")},
    "alice_eid": {k: APPLICANT_ACTIONS for k in ("alice_gewerbe_vechta", "alice_lohne", "alice_eid_case")},
    "bob": {"bob_hund_vechta": APPLICANT_ACTIONS},
    "clerk_lohne": {"alice_lohne": CLERK_ACTIONS},
    "clerk_vechta": {k: CLERK_ACTIONS for k in ("alice_gewerbe_vechta", "bob_hund_vechta", "alice_eid_case")},
    "clerk_vechta_gewerbe": {"alice_gewerbe_vechta": CLERK_ACTIONS},
    "lead_vechta": {k: TEAM_LEAD_ACTIONS for k in ("alice_gewerbe_vechta", "bob_hund_vechta", "alice_eid_case")},
    "admin_clerk_vechta": {"bob_hund_vechta": CLERK_ACTIONS},
}


@pytest.mark.parametrize("principal", ["alice", "alice_eid", "bob", "clerk_vechta",
                                       "clerk_vechta_gewerbe", "lead_vechta", "clerk_lohne", "admin_vechta",
                                       "admin_clerk_vechta", "operator", "unknown_kind"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_action_matrix(principal, case):
    allowed = ACTIONS.get(principal, {}).get(case, frozenset())
    for action in ALL_ACTIONS:
        assert can_act_on_case(P[principal], CASES[case], action) is (action in allowed), action


def test_action_sets_are_the_submission_actions():
    assert APPLICANT_ACTIONS | TEAM_LEAD_ACTIONS | {"record-payment"} == set(CASE_ACTIONS)
    assert "reassign" not in CLERK_ACTIONS and "approve" not in APPLICANT_ACTIONS


@pytest.mark.parametrize(
    ("principal", "tenant", "expected"),
    [
        ("clerk_vechta", VECHTA, WorklistScope((VECHTA,), ("*",))),
        ("clerk_vechta", LOHNE, None),
        ("clerk_vechta_gewerbe", VECHTA, WorklistScope((VECHTA,), ("gewerbe.anmeldung",))),
        ("lead_vechta", VECHTA, WorklistScope((VECHTA,), ("*",))),
        ("clerk_landkreis", LANDKREIS, WorklistScope((LANDKREIS,), ("*",))),
        ("clerk_landkreis", VECHTA, None),  # the district does not see its municipalities
        ("admin_vechta", VECHTA, None),
        ("admin_clerk_vechta", VECHTA, WorklistScope((VECHTA,), ("hund.steuer",))),
        ("operator", VECHTA, None),
        ("alice", VECHTA, None),
        ("firma", LANDKREIS, None),
        ("unknown_kind", VECHTA, None),
    ],
)
def test_worklist_filter(principal, tenant, expected):
    assert worklist_filter(P[principal], tenant) == expected


def test_worklist_merges_grants_and_star_wins():
    multi = Principal(
        "acc-m",
        "clerk",
        (grant(VECHTA, "clerk", "hund.steuer"), grant(VECHTA, "team_lead", "gewerbe.anmeldung"), grant(LOHNE, "clerk")),
    )
    scope = worklist_filter(multi, VECHTA)
    assert scope == WorklistScope((VECHTA,), ("gewerbe.anmeldung", "hund.steuer"))
    tenants, service_keys = scope  # unpacks as (tenants, service_keys)
    assert not scope.all_services and tenants == (VECHTA,) and len(service_keys) == 2
    star = Principal("acc-s", "clerk", (grant(VECHTA, "clerk", "hund.steuer"), grant(VECHTA, "team_lead")))
    assert worklist_filter(star, VECHTA).all_services


@pytest.mark.parametrize(
    "case_meta",
    [
        {},
        None,
        {"tenant": VECHTA, "service_id": "hund.steuer"},
        {"tenant": VECHTA, "service_id": "", "applicant_ref": ALICE},
        {"tenant": 3460009, "service_id": "hund.steuer", "applicant_ref": ALICE},
    ],
)
def test_malformed_case_meta_is_denied(case_meta):
    for principal in (P["alice"], P["clerk_vechta"], P["lead_vechta"]):
        assert can_read_case(principal, case_meta) is False
        assert can_act_on_case(principal, case_meta, "withdraw") is False
        assert can_act_on_case(principal, case_meta, "approve") is False


def test_not_a_principal_is_denied():
    case = CASES["alice_gewerbe_vechta"]
    assert can_read_case({"subject": ALICE, "kind": "citizen"}, case) is False  # type: ignore[arg-type]
    assert worklist_filter(None, VECHTA) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("principal", "tenant", "manage", "audit"),
    [
        ("admin_vechta", VECHTA, True, True),
        ("admin_vechta", LOHNE, False, False),
        ("operator", LOHNE, True, False),
        ("lead_vechta", VECHTA, False, False),
        ("clerk_vechta", VECHTA, False, False),
        ("alice", VECHTA, False, False),
        ("unknown_kind", VECHTA, False, False),
    ],
)
def test_staff_management_and_audit(principal, tenant, manage, audit):
    assert can_manage_staff(P[principal], tenant) is manage
    assert can_read_audit(P[principal], tenant) is audit


@pytest.mark.parametrize(
    ("principal", "tenant", "service_id", "expected"),
    [
        ("clerk_vechta", VECHTA, "hund.steuer", True),
        ("clerk_vechta_gewerbe", VECHTA, "hund.steuer", False),
        ("clerk_vechta_gewerbe", VECHTA, "gewerbe.anmeldung", True),
        ("clerk_vechta", LOHNE, "hund.steuer", False),
        ("lead_vechta", VECHTA, "hund.steuer", True),
        ("admin_clerk_vechta", VECHTA, "hund.steuer", False),  # tenant admins never submit for citizens
        ("operator", VECHTA, "hund.steuer", False),
        ("alice", VECHTA, "hund.steuer", False),
    ],
)
def test_assisted_submission(principal, tenant, service_id, expected):
    assert can_submit_for(P[principal], tenant, service_id) is expected


def test_principal_from_claims():
    claims = {
        "sub": "acc-1",
        "kind": "clerk",
        "trust_level": "basic",
        "grants": [{"tenant": VECHTA, "role": "clerk", "service_keys": ["hund.steuer"]}],
    }
    principal = principal_from_claims(claims)
    assert principal == Principal("acc-1", "clerk", (Grant(VECHTA, "clerk", ("hund.steuer",)),), "basic")
    assert principal.to_dict()["grants"] == claims["grants"]
    assert principal.applicant_ref == "acc-1"


@pytest.mark.parametrize(
    ("approver", "expected"),
    [("acc-second-admin", True), ("acc-requester", False), ("acc-grantee", False), ("", False)],
)
def test_a_grant_is_approved_by_a_second_person(approver, expected):
    """Four-eyes: neither who asked for a role nor who gets it may approve it."""
    assert is_second_person(approver, "acc-requester", "acc-grantee") is expected


def test_only_operators_read_every_tenants_kpis_together() -> None:
    allowed = {name for name, principal in P.items() if can_read_all_kpis(principal)}
    assert allowed == {"operator"}
