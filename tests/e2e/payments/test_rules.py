"""Rules end to end (issue #16), on the payments package's platform (a Meldebescheinigung has a
fee, paid on the PSP simulator): Cloppenburg's tenant admin defines an automatic-decision
rule, may not switch it on before its shadow run (409), runs it in shadow mode (JSON and
CSV), switches it on; a new Meldebescheinigung, once paid, is decided by the rule through the
rules consumer — "automatisch entschieden" with its reason in the citizen's timeline — and a
clerk takes the decision back into review."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.conftest import eventually
from tests.e2e.payments.conftest import CLOPPENBURG, case_of, pay, start
from tests.examples import form

RULES = f"/api/v1/admin/tenants/{CLOPPENBURG}/rules"
RULE = {
    "service_id": "meldebescheinigung", "kind": "decision", "name": "Meldebescheinigung automatisch",
    "when": {"all": [{"fact": "trust_level", "op": "gte", "value": "high"},
                     {"fact": "registry_address_match", "op": "eq", "value": True},
                     {"fact": "fee_paid", "op": "eq", "value": True}]},
    "then": {"outcome": "approve", "reason": "Identität mit Vertrauensniveau hoch, Anschrift im Melderegister bestätigt."},
}
# Erika Muster is in the demo registry (services/rules/data/registry.json) at this address
MELDE = form("meldebescheinigung", first_name="Erika", last_name="Muster", birth_date="1980-04-12",
             street="Lange Straße", house_number="12", postal_code="49661", city="Cloppenburg")


def test_a_rule_decides_a_paid_meldebescheinigung_after_its_shadow_run_and_a_clerk_reverses_it(
        payer: httpx.Client, clerk: httpx.Client, tenant_admin: httpx.Client) -> None:
    defined = tenant_admin.post(RULES, json=RULE)
    assert defined.status_code == 201, defined.text
    rule_id = defined.json()["rule_id"]
    refused = tenant_admin.post(f"{RULES}/{rule_id}/activate")
    assert (refused.status_code, refused.json()["code"]) == (409, "rule_shadow_run_missing")
    assert clerk.post(f"{RULES}/{rule_id}/activate").status_code == 403  # a clerk manages no rules

    today = datetime.now(UTC).date()
    period = {"from": (today - timedelta(days=30)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}
    report = tenant_admin.post(f"{RULES}/{rule_id}/shadow-runs", json=period)
    assert report.status_code == 201, report.text
    assert report.json()["rule_version"] == 1 and {"would_act", "agree", "disagree", "agreement"} <= set(report.json())
    csv = tenant_admin.get(f"{RULES}/{rule_id}/shadow-runs", params={"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.text.startswith("rule_id;name;cases;would_act;compared;agree;disagree;agreement")
    switched = tenant_admin.post(f"{RULES}/{rule_id}/activate")
    assert switched.status_code == 200 and switched.json()["active_version"] == 1, switched.text

    try:
        submitted = payer.post(f"/api/v1/tenants/{CLOPPENBURG}/cases", json={"service_id": "meldebescheinigung", "form_data": MELDE},
                               headers={"Idempotency-Key": uuid.uuid4().hex})
        assert submitted.status_code == 201, submitted.text
        case_id = submitted.json()["case_id"]
        assert pay(start(payer, case_id)["payment"]["pay_url"], "success", show=False).status_code == 303

        decided = eventually(lambda: (c := case_of(payer, case_id))["status"] == "approved" and c, timeout=60)
        marker = next(s for s in decided["timeline"] if s["step"] == "decided_automatically")
        assert marker["automatic"] is True and marker["rule"] == f"rule:{rule_id}@v1"
        assert marker["text"].startswith("Automatisch entschieden: Identität mit Vertrauensniveau hoch")
        assert "Anschrift im Melderegister bestätigt ist ja" in marker["text"]

        back = clerk.post(f"/api/v1/cases/{case_id}/actions/reverse-automatic-decision", json={"reason": "Nachprüfung"})
        assert back.status_code == 200 and back.json()["status"] == "in_review", back.text
        again = clerk.post(f"/api/v1/cases/{case_id}/actions/reverse-automatic-decision", json={})
        assert (again.status_code, again.json()["code"]) == (409, "transition_not_allowed")
        reviewed = eventually(lambda: (c := case_of(payer, case_id))["status"] == "in_review" and c, timeout=30)
        steps = [s["step"] for s in reviewed["timeline"] if s["step"] != "message"]  # (mails are steps too)
        assert steps[-3:] == ["decided_automatically", "approved", "automatic_decision_reversed"]
    finally:
        assert tenant_admin.post(f"{RULES}/{rule_id}/deactivate").status_code == 200
