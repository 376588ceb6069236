"""The KPI page of a municipality (issue #15) in a real browser: a tenant admin sees the
period's numbers, the two SVG charts with their text alternatives and the same numbers as
tables; axe-core finds nothing serious; the CSV download answers with the day rows."""

from __future__ import annotations

import time
import uuid

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import VECHTA, check_page, log_in, reload_until
from tests.e2e.accounts import Accounts
from tests.examples import form
from tests.support import Platform


def test_a_tenant_admin_reads_the_kpis_as_charts_and_tables(context: BrowserContext, running: Platform,
                                                            accounts: Accounts) -> None:
    citizen = accounts.citizen()
    submitted = httpx.post(f"{running.base_url}/api/v1/tenants/{VECHTA}/cases", timeout=30,
                           json={"service_id": "hundeanmeldung", "form_data": form()},
                           headers={**citizen.headers, "Idempotency-Key": uuid.uuid4().hex})
    assert submitted.status_code == 201, submitted.text
    admin = accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")

    page = context.new_page()
    log_in(page, admin, staff=True)
    page.goto(f"/verwaltung/{VECHTA}/kennzahlen")
    reload_until(page, "Offen / überfällig")
    deadline = time.monotonic() + 60  # the KPI projection follows within moments
    while not page.locator("table", has_text="Kennzahlen je Leistung").locator("tbody th", has_text="Hund anmelden").count():
        assert time.monotonic() < deadline, page.locator("main").inner_text()[:2000]
        time.sleep(0.5)
        page.reload()
    expect(page.locator("h1")).to_contain_text("Kennzahlen")
    chart = page.locator("svg[role=img]").first
    expect(chart).to_have_attribute("aria-labelledby", "chart-daily-title chart-daily-desc")
    assert page.locator("svg[role=img] rect").count() >= 3  # bars of the 30 days, some of height 0
    per_service = page.locator("table", has_text="Kennzahlen je Leistung")
    expect(per_service.locator("tbody tr", has_text="Hund anmelden")).to_contain_text("1")
    received = int(page.locator(".vr-kpi-list div", has_text="Anträge eingegangen").locator("dd").inner_text())
    assert received >= 1
    check_page(page, "kpis")

    download = page.request.get(page.locator("a[download]").get_attribute("href"))
    assert download.status == 200 and download.headers["content-type"].startswith("text/csv")
    lines = download.text().splitlines()
    assert lines[0].startswith("date,tenant,service_id") and any(",hundeanmeldung," in line for line in lines[1:])

    forbidden = page.goto("/verwaltung/03460006/kennzahlen")  # Lohne: not this admin's
    assert forbidden is not None and forbidden.status == 403
