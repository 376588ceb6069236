"""The rules pages (issue #16) in a real browser: a tenant admin's home links Kennzahlen and
Regeln; the rule's page refuses to switch on a rule without a shadow run (the gateway's
409 shown as an error), runs the shadow run over a period, shows its report with the CSV
download, and switches the rule on; axe-core finds nothing serious on each page."""

from __future__ import annotations

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import VECHTA, check_page, log_in
from tests.e2e.accounts import Accounts
from tests.support import Platform

RULE = {"service_id": "meldebescheinigung", "kind": "decision", "name": "Meldebescheinigung automatisch",
        "when": {"fact": "trust_level", "op": "gte", "value": "high"},
        "then": {"outcome": "approve", "reason": "Vertrauensniveau hoch."}}


def test_a_tenant_admin_tries_a_rule_and_switches_it_on(context: BrowserContext, running: Platform,
                                                        accounts: Accounts) -> None:
    admin = accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")
    defined = httpx.post(f"{running.base_url}/api/v1/admin/tenants/{VECHTA}/rules", json=RULE,
                         headers=admin.headers, timeout=30)
    assert defined.status_code == 201, defined.text
    rule_id = defined.json()["rule_id"]

    page = context.new_page()
    log_in(page, admin, staff=True)
    page.goto("/verwaltung/")
    expect(page.locator("main a", has_text="Kennzahlen")).to_have_attribute("href", f"/verwaltung/{VECHTA}/kennzahlen")
    check_page(page, "admin-home")
    page.click("main a:has-text('Regeln')")
    expect(page.locator("main table")).to_contain_text("Meldebescheinigung automatisch")
    check_page(page, "rules")

    page.click(f"a[href='/verwaltung/{VECHTA}/regeln/{rule_id}']")
    page.click("form[action$='/einschalten'] button")
    expect(page.locator(".vr-error-summary")).to_contain_text("Probelauf")  # 409 rule_shadow_run_missing
    page.fill("#von", "2026-01-01")
    page.fill("#bis", "2031-01-01")
    page.click("form[action$='/probelauf'] button")
    expect(page.locator("main")).to_contain_text("Der Probelauf ist fertig")
    expect(page.locator(".vr-kpi-list", has_text="Die Regel hätte gehandelt")).to_be_visible()
    check_page(page, "rule")
    download = page.request.get(page.locator("a[download]").get_attribute("href"))
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")

    page.click("form[action$='/einschalten'] button")
    expect(page.locator("main")).to_contain_text("Die Regel ist eingeschaltet.")
    expect(page.locator("main")).to_contain_text("eingeschaltet (Version 1)")
    assert httpx.get(f"{running.base_url}/api/v1/admin/tenants/{VECHTA}/rules/{rule_id}", headers=admin.headers,
                     timeout=30).json()["active"] is True
