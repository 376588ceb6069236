"""The clerk workspace in a real browser: assisted submission at the counter, the case page
with the payment (Kassenzeichen) and a refund after rejection, the messages' delivery state
and — for the tenant admin — the audit trail; the worklist's filters and counts, and its
refresh without a full reload."""

from __future__ import annotations

import re
import time
import uuid

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import answer, check_page, log_in, log_out
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import LOHNE, client_for
from tests.e2e.payments.conftest import pay, start
from tests.examples import form
from tests.support import Platform

BUSINESS = form("gewerbeanmeldung", city="Lohne (Oldenburg)", postal_code="49393", business_city="Lohne (Oldenburg)",
                business_postal_code="49393")


def reload_until_in(page: Page, selector: str, text: str, timeout: float = 60) -> None:
    """Reload until ``selector`` shows ``text`` (the case page reads projections)."""
    deadline = time.monotonic() + timeout
    while text not in " ".join(page.locator(selector).all_inner_texts()):
        assert time.monotonic() < deadline, f"{text!r} never appeared in {selector} on {page.url}"
        time.sleep(0.5)
        page.reload()


def assisted(http: httpx.Client, applicant: Account, service_id: str = "gewerbeanmeldung") -> dict:
    """A case a clerk submits over the API (a second case for the worklist's filters)."""
    body = {"service_id": service_id, "on_behalf_of": applicant.account_id, "form_data": form(service_id)}
    response = http.post(f"/api/v1/tenants/{LOHNE}/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    return response.json()


def test_at_the_counter_a_clerk_applies_for_a_business_then_rejects_and_refunds_the_paid_fee(
    context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    business = accounts.citizen(kind="organisation")
    clerk = accounts.staff([(LOHNE, "clerk", ["*"])])
    page = context.new_page()
    log_in(page, clerk, staff=True)
    expect(page).to_have_url(re.compile(f"/verwaltung/{LOHNE}/"))
    page.click("text=Antrag für eine Person stellen")
    check_page(page, "clerk-assisted-start")
    page.select_option("#service_id", "gewerbeanmeldung")
    page.fill("#fuer", business.account_id)
    page.click("#assisted-start button")
    expect(page).to_have_url(re.compile(f"/verwaltung/{LOHNE}/antrag-stellen/gewerbeanmeldung"))
    check_page(page, "clerk-assisted-form")
    expect(page.locator("#ausweiskopie")).to_have_count(0)  # an upload is the applicant's own

    page.fill("#on_behalf_of", str(uuid.uuid4()))  # nobody's number, nothing answered: the errors
    page.click("form.vr-form button[type=submit]")
    assert page.title().startswith("Fehler: ")
    assert page.evaluate("document.activeElement.id") == "fehler"
    check_page(page, "clerk-assisted-errors")
    answer(page, BUSINESS)
    page.click("form.vr-form button[type=submit]")
    expect(page.locator("#on_behalf_of-error")).to_contain_text("kein Konto")  # the gateway's 404, at its field
    page.fill("#on_behalf_of", business.account_id)
    page.click("form.vr-form button[type=submit]")
    expect(page.locator(".kern-alert--success")).to_contain_text("für die antragstellende Person eingereicht")
    expect(page).to_have_url(re.compile("/verwaltung/faelle/"))
    case_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("main")).to_contain_text("Erikas Hofladen")
    reload_until_in(page, "#zahlung ~ dl", "Kassenzeichen")

    with client_for(running, business) as owner:  # the business pays online, as it would at home
        assert owner.get(f"/api/v1/cases/{case_id}").json()["applicant_ref"] == business.account_id
        started = start(owner, case_id)
        assert pay(started["payment"]["pay_url"], "success", show=False).status_code == 303
    reload_until_in(page, "#zahlungsstatus", "Bezahlt")
    expect(page.locator("main")).to_contain_text(started["kassenzeichen"])
    reload_until_in(page, "#aktionen ~ form", "Bearbeitung beginnen")  # the case follows the payment
    page.click("text=Bearbeitung beginnen")
    page.fill("#reason", "Die Tätigkeit ist erlaubnispflichtig; bitte zuerst die Erlaubnis beantragen.")
    page.click("form[action$='/reject'] button")
    expect(page.locator("dd strong")).to_have_text("Abgelehnt")
    check_page(page, "clerk-case-payment")

    page.click("form[action$='/erstatten'] button")  # no reason: an error at the field
    assert page.title().startswith("Fehler: ")
    expect(page.locator("#refund_reason-error")).to_be_visible()
    page.fill("#refund_reason", "Ablehnung vor Bearbeitung der Erlaubnisfrage")
    page.click("form[action$='/erstatten'] button")
    expect(page.locator(".kern-alert--success")).to_contain_text("Die Erstattung wurde veranlasst")
    reload_until_in(page, "#erstattungen", "Erstattet")
    expect(page.locator("form[action$='/erstatten']")).to_have_count(0)  # nothing left to refund
    reload_until_in(page, "#nachrichten", "Eingangsbestätigung")  # the messages' delivery state
    reload_until_in(page, "#dokumente", "Bescheid vom")
    with page.expect_download() as pdf:
        page.click("#dokumente a")
    assert pdf.value.suggested_filename.endswith(".pdf")
    check_page(page, "clerk-case-refunded")
    expect(page.locator("#protokoll")).to_have_count(0)  # the audit trail is the tenant admin's
    log_out(page)

    admin = accounts.staff([(LOHNE, "tenant_admin", ["*"])], kind="tenant_admin")
    log_in(page, admin, staff=True)
    page.goto(f"/verwaltung/faelle/{case_id}")
    expect(page.locator("#protokoll")).to_contain_text(clerk.account_id)
    expect(page.locator("form[action$='/erstatten']")).to_have_count(0)
    check_page(page, "clerk-case-audit")


def test_the_worklist_filters_counts_and_refreshes_without_a_reload(
    browser: Browser, context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    citizen = accounts.citizen()
    clerk = accounts.staff([(LOHNE, "clerk", ["*"])])
    with client_for(running, clerk) as http:
        dog = assisted(http, citizen, "hundeanmeldung")
        business = assisted(http, citizen)
        page = context.new_page()
        log_in(page, clerk, staff=True)
        page.goto(f"/verwaltung/{LOHNE}/?service_id=hundeanmeldung&sort=submitted_at&order=desc")
        listed = page.locator("#vr-worklist tbody")
        deadline = time.monotonic() + 60
        while dog["reference"] not in listed.inner_text():  # a projection
            assert time.monotonic() < deadline
            page.click("#vr-refresh")
            time.sleep(0.5)
        expect(listed).not_to_contain_text(business["reference"])
        expect(page.locator("#service_id option[value=hundeanmeldung]")).to_contain_text(re.compile(r"\(\d+\)"))
        check_page(page, "clerk-worklist-filtered")

        page.evaluate("window.vrMarker = 'still here'")  # gone if the page reloads
        third = assisted(http, citizen, "hundeanmeldung")
        deadline = time.monotonic() + 60
        while third["reference"] not in listed.inner_text():
            assert time.monotonic() < deadline, "the refresh never showed the new case"
            page.click("#vr-refresh")
            time.sleep(0.5)
        assert page.evaluate("window.vrMarker") == "still here"
        expect(page.locator("#vr-refreshed")).to_contain_text("Liste aktualisiert um")

        plain = browser.new_context(base_url=running.web_url, java_script_enabled=False)  # without JS: a link
        try:
            nojs = plain.new_page()
            log_in(nojs, clerk, staff=True)
            nojs.goto(f"/verwaltung/{LOHNE}/?service_id=hundeanmeldung&order=desc")
            nojs.click("#vr-refresh")
            expect(nojs).to_have_url(re.compile(r"\?service_id=hundeanmeldung&sort=submitted_at&order=desc$"))
            expect(nojs.locator("#vr-worklist tbody")).to_contain_text(third["reference"])
        finally:
            plain.close()

        page.goto(f"/verwaltung/{LOHNE}/?service_id=hundeanmeldung&overdue=1")  # new cases are not overdue
        expect(page.locator("#vr-worklist tbody")).not_to_contain_text(dog["reference"])
        assert http.post(f"/api/v1/cases/{dog['case_id']}/actions/start-review", json={"clerk": "Sachbearbeitung"}).status_code == 200
        page.goto(f"/verwaltung/{LOHNE}/?service_id=hundeanmeldung&status=in_review&mine=1")
        reload_until_in(page, "#vr-worklist tbody", dog["reference"])
        expect(page.locator("#vr-worklist tbody")).not_to_contain_text(third["reference"])
        expect(page.locator("label[for=mine]")).to_contain_text(re.compile(r"\([1-9]\d*\)"))
