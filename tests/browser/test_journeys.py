"""Journeys through the web front end in a real browser, from the portal's search to the
clerk's decision and the citizen seeing it in "Mein Rathaus"."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import (
    VECHTA,
    check_page,
    fill_form,
    log_in,
    log_out,
    reload_until,
    submit_and_open_as_clerk,
)
from tests.e2e.accounts import Accounts
from tests.examples import form
from tests.support import Platform


def decide_as_clerk(page: Page, accounts: Accounts, reference: str, tenant: str, checks: bool = True,
                    decision: str = "Die Steuermarke kommt per Post.", services: tuple[str, ...] = ("*",)) -> None:
    """The responsible clerk (for ``services`` of the tenant) finds the case in the worklist,
    starts the review and approves."""
    clerk = accounts.staff([(tenant, "clerk", list(services))])
    log_in(page, clerk, staff=True, name="clerk-login" if checks else None)
    expect(page).to_have_url(re.compile(f"/verwaltung/{tenant}/"))
    if checks:
        check_page(page, "clerk-worklist")
    reload_until(page, reference)
    page.click(f"text={reference}")
    if checks:
        check_page(page, "clerk-case")
    page.click("text=Bearbeitung beginnen")
    expect(page.locator(".kern-alert--success")).to_contain_text("Bearbeitung wurde begonnen")
    page.fill("#decision", decision)
    page.click("form[action$='/approve'] button")
    expect(page.locator("dd strong")).to_have_text("Bewilligt")
    if checks:
        check_page(page, "clerk-case-decided")
    log_out(page)


def test_hundeanmeldung_in_vechta_from_search_to_the_decision_in_mein_rathaus(
    context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    citizen = accounts.citizen()
    page = context.new_page()
    page.goto("/")
    check_page(page, "platform-start")
    page.click("a[href='/vechta/']")
    check_page(page, "tenant-start")
    page.fill("#q", "Hund anmelden")
    page.click("form.vr-search button")
    check_page(page, "search-results")
    page.click("a[href='/vechta/leistungen/hundeanmeldung']")
    check_page(page, "service-page")
    expect(page.locator("main")).to_contain_text("Nachweis der Hundehalter-Haftpflichtversicherung")
    page.click("text=Antrag starten")
    expect(page).to_have_url(re.compile("/konto/anmelden"))  # log in first, then straight back
    check_page(page, "login")
    page.fill("#email", citizen.email)
    page.fill("#password", citizen.password)
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/vechta/antrag/hundeanmeldung/seite/1"))

    page.click("form.vr-form button[type=submit]")  # nothing entered: the error summary
    check_page(page, "form-errors")
    assert page.title().startswith("Fehler: ")
    assert page.evaluate("document.activeElement.id") == "fehler"
    first = page.locator("#fehler a").first
    assert first.get_attribute("href") == "#holder_first_name"
    first.click()
    assert page.evaluate("document.activeElement.id") == "holder_first_name"

    fill_form(page, form(), name="form")
    check_page(page, "check-answers")
    expect(page.locator("main")).to_contain_text("Labrador Retriever")
    page.click("a[href$='#dog_name-0'], a[href$='#dog_name']")  # "Ändern" goes back to the page with the field
    page.fill("#dog_name", "Struppi")
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/pruefen$"))
    expect(page.locator("main")).to_contain_text("Struppi")
    page.click("#absenden button")
    check_page(page, "confirmation")
    reference = page.locator(".vr-reference").inner_text()
    assert re.fullmatch(r"VEC-\d{4}-\d{6}", reference)
    page.click("text=Antrag in Mein Rathaus ansehen")
    check_page(page, "my-case")
    log_out(page)

    decide_as_clerk(page, accounts, reference, VECHTA)

    log_in(page, citizen)
    reload_until(page, "Bewilligt")
    check_page(page, "my-cases")
    row = page.locator("tr", has_text=reference)
    expect(row).to_contain_text("Bewilligt")
    row.locator("a").click()
    expect(page.locator("main")).to_contain_text("Die Steuermarke kommt per Post.")
    check_page(page, "my-case-decided")
    page.goto("/mein-rathaus/")
    page.click("text=Konto-Einstellungen")
    expect(page.locator("main")).to_contain_text(citizen.account_id)  # the Kundennummer, for help at the counter
    check_page(page, "settings")


def test_a_clerks_question_is_answered_in_place(context: BrowserContext, running: Platform, accounts: Accounts) -> None:
    citizen = accounts.citizen()
    page = context.new_page()
    log_in(page, citizen)
    page.goto("/vechta/antrag/hundeanmeldung/start")
    fill_form(page, form())
    reference = submit_and_open_as_clerk(page, accounts)
    page.click("text=Bearbeitung beginnen")
    page.fill("#question", "Bitte nennen Sie die Versicherungsnummer erneut.")
    page.click("form[action$='/request-information'] button")
    expect(page.locator("dd strong")).to_have_text("Rückfrage offen")
    page.goto(f"/verwaltung/{VECHTA}/?mine=1&status=information_requested")  # the filters
    expect(page.locator("tbody")).to_contain_text(reference)
    page.goto(f"/verwaltung/{VECHTA}/?status=approved")
    expect(page.locator("tbody")).not_to_contain_text(reference)
    log_out(page)
    log_in(page, citizen)
    reload_until(page, "Rückfrage offen")
    page.click(f"text={reference}")
    expect(page.locator(".vr-panel")).to_contain_text("Bitte nennen Sie die Versicherungsnummer erneut.")
    check_page(page, "my-case-question")
    page.click("form[action$='/antwort'] button")  # empty: an error, linked to the field
    assert page.title().startswith("Fehler: ")
    page.fill("#answer", "HH-654321")
    page.click("form[action$='/antwort'] button")
    expect(page.locator(".kern-alert--success")).to_contain_text("Ihre Antwort wurde gesendet")
    expect(page.locator("dd strong")).to_have_text("In Bearbeitung")


def test_registration_with_the_link_from_the_mail(context: BrowserContext, running: Platform) -> None:
    page = context.new_page()
    page.goto("/konto/registrieren")
    check_page(page, "register")
    email = f"neu-{page.evaluate('Date.now()')}@example.org"
    page.fill("#display_name", "Jan Neumann")
    page.fill("#email", email)
    page.fill("#password", "Kurz")
    page.click("form.vr-form button[type=submit]")
    assert page.title().startswith("Fehler: ")
    page.fill("#password", "Ein-langes-Passwort-2026")
    page.click("form.vr-form button[type=submit]")
    check_page(page, "registered")
    link = running.mail(email, "verify_email")["link"]  # a page of the portal, the token in its fragment
    assert link.startswith(f"{running.web_url}/konto/bestaetigen#token=")
    page.goto(link)
    check_page(page, "confirm-email")
    expect(page.locator("#token")).to_have_value(link.split("#token=")[1])  # static/token.js
    assert "#" not in page.url  # out of the address bar and the history
    page.click("form.vr-form button[type=submit]")
    expect(page.locator(".kern-alert--success")).to_contain_text("bestätigt")
    page.fill("#email", email)
    page.fill("#password", "Ein-langes-Passwort-2026")
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/mein-rathaus/$"))
    expect(page.locator("main")).to_contain_text("Jan Neumann")


def test_the_district_service_on_a_member_portal_without_javascript(
    browser, running: Platform, accounts: Accounts
) -> None:
    """Sperrmüll is the Landkreis Vechta's: applied for on Bakum's portal, with JavaScript
    switched off, decided by the district's clerk."""
    context = browser.new_context(base_url=running.web_url, java_script_enabled=False, viewport={"width": 1024, "height": 900})
    context.set_default_timeout(60_000)
    try:
        citizen = accounts.citizen()
        page = context.new_page()
        page.goto("/bakum/")
        expect(page.locator("main")).to_contain_text("Sperrmüll")
        page.click("a[href='/bakum/leistungen/sperrmuell']")
        expect(page.locator("main")).to_contain_text("Landkreis Vechta")
        page.click("text=Antrag starten")
        page.fill("#email", citizen.email)
        page.fill("#password", citizen.password)
        page.click("form.vr-form button[type=submit]")
        fill_form(page, form("sperrmuell"))
        page.click("#absenden button")
        reference = page.locator(".vr-reference").inner_text()
        assert reference.startswith("LKV-") or "-" in reference
        log_out(page)
        decide_as_clerk(page, accounts, reference, "03460000", checks=False)
        log_in(page, citizen)
        reload_until(page, "Bewilligt")
        expect(page.locator("tr", has_text=reference)).to_contain_text("Bewilligt")
    finally:
        context.close()


def test_english_is_chosen_once_and_remembered(context: BrowserContext, running: Platform) -> None:
    page = context.new_page()
    page.goto("/vechta/")
    page.click("a[hreflang=en]")
    expect(page.locator("h1")).to_contain_text("Welcome to the online town hall of Vechta")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.goto("/vechta/leistungen/hundeanmeldung")
    expect(page.locator("h1")).to_have_text("Register a dog (dog tax)")
    check_page(page, "service-page-en")
    page.click("a[hreflang=de]")
    expect(page.locator("h1")).to_have_text("Hund anmelden (Hundesteuer)")


def test_info_pages_and_lebenslagen(context: BrowserContext, running: Platform) -> None:
    page = context.new_page()
    page.goto("/vechta/")
    page.click("text=Familie & Kind")
    check_page(page, "themenfeld")
    page.click("text=Kinderbetreuung")
    check_page(page, "lebenslage")
    page.goto("/vechta/ozg/10282")
    check_page(page, "leistung-offline")
    for kind in ("impressum", "datenschutz", "barrierefreiheit", "leichte-sprache"):
        page.goto(f"/vechta/info/{kind}")
        check_page(page, f"info-{kind}")
    page.goto("/vechta/gibt-es-nicht")
    check_page(page, "not-found")
