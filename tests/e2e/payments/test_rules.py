"""Rules end to end (issue #16), on the payments package's platform (a Meldebescheinigung has a
fee, paid on the PSP simulator): Cloppenburg's tenant admin defines an automatic-decision
rule, may not switch it on before its shadow run (409), runs it in shadow mode (JSON and
CSV), switches it on; a new Meldebescheinigung, once paid, is decided by the rule through the
rules consumer — "automatisch entschieden" with its reason in the citizen's timeline — and a
clerk, told on the web case page that the approval has already reached the citizen, confirms
taking it back into review; the citizen gets one follow-up mail saying so."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import eventually
from tests.e2e.payments.conftest import CLOPPENBURG, case_of, pay, start
from tests.examples import form
from tests.support import Platform

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


@contextlib.contextmanager
def web_client(running: Platform, account: Account) -> Iterator[httpx.Client]:
    """The web front end logged in as ``account`` (a staff login, its CSRF token from the form)."""
    with httpx.Client(base_url=running.web_url, timeout=30, headers={"Origin": running.web_url}) as web:
        login = web.get("/verwaltung/anmelden")
        done = web.post("/verwaltung/anmelden", data={"email": account.email, "password": account.password,
                                                       "csrf_token": csrf_of(login.text)})
        assert done.status_code == 303, done.text
        yield web


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]


def test_a_rule_decides_a_paid_meldebescheinigung_after_its_shadow_run_and_a_clerk_reverses_it(
        payer: httpx.Client, clerk: httpx.Client, tenant_admin: httpx.Client, running: Platform,
        accounts: Accounts) -> None:
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

        # the approval has gone to the citizen: the clerk's case page says so before the reversal is confirmed
        citizen_email = payer.get("/api/v1/me").json()["email"]
        assert running.mail(citizen_email, "case_approved", timeout=60)["subject"].endswith("wurde entschieden")
        with web_client(running, accounts.staff([(CLOPPENBURG, "clerk", ["*"])])) as web:
            page = eventually(lambda: (p := web.get(f"/verwaltung/faelle/{case_id}")).status_code == 200
                              and "Die E-Mail über die Entscheidung ist zugestellt." in p.text and p, timeout=60)
            assert 'id="bereits-mitgeteilt"' in page.text
            assert "Die Entscheidung wurde der antragstellenden Person bereits mitgeteilt" in page.text
            assert "Ihre automatische Entscheidung wurde von der Behörde aufgehoben; Ihr Antrag wird erneut geprüft." in page.text
            action = f"/verwaltung/faelle/{case_id}/reverse-automatic-decision"
            unconfirmed = web.post(action, data={"reason": "Nachprüfung", "csrf_token": csrf_of(page.text)})
            assert unconfirmed.status_code == 400 and "Bitte bestätigen Sie" in unconfirmed.text
            assert case_of(payer, case_id)["status"] == "approved"  # nothing happened without the confirmation
            back = web.post(action, data={"reason": "Nachprüfung", "confirm": "ja", "csrf_token": csrf_of(unconfirmed.text)})
            assert back.status_code == 303, back.text
        again = clerk.post(f"/api/v1/cases/{case_id}/actions/reverse-automatic-decision", json={})
        assert (again.status_code, again.json()["code"]) == (409, "transition_not_allowed")
        reviewed = eventually(lambda: (c := case_of(payer, case_id))["status"] == "in_review" and c, timeout=30)
        steps = [s["step"] for s in reviewed["timeline"] if s["step"] != "message"]  # (mails are steps too)
        assert steps[-3:] == ["decided_automatically", "approved", "automatic_decision_reversed"]
        # the citizen is told, once, that the decision she received no longer holds
        notice = running.mail(citizen_email, "case_decision_reversed", timeout=60)
        assert notice["subject"] == f"Ihr Antrag {reviewed['reference']}: automatische Entscheidung aufgehoben"
        assert "Ihre automatische Entscheidung wurde von der Behörde aufgehoben" in notice["text"]
        told = [m for m in running.sink_mails(citizen_email, count=3) if m["kind"] == "case_decision_reversed"]
        assert len(told) == 1
    finally:
        assert tenant_admin.post(f"{RULES}/{rule_id}/deactivate").status_code == 200
