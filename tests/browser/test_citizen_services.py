"""The citizen's services around a form, in a real browser: a Führungszeugnis in
Cloppenburg that needs the online ID and a fee (eID raise, paying on the PSP simulator's
page, back on the case page with the Kassenzeichen, the decision letter in the postbox as
PDF), and a Gewerbeanmeldung whose draft is saved, resumed from "Mein Rathaus" with the
profile's name filled in, given an attachment and discarded."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import check_page, fill_form, log_in, log_out, reload_until
from tests.browser.test_journeys import decide_as_clerk
from tests.e2e.accounts import Accounts
from tests.examples import form
from tests.support import Platform

CLOPPENBURG = "03453004"
FUEHRUNGSZEUGNIS = {
    "first_name": "Erika", "last_name": "Muster", "birth_date": "1980-04-12", "birth_place": "Cloppenburg",
    "nationality": "deutsch", "street": "Lange Straße", "house_number": "12", "postal_code": "49661",
    "city": "Cloppenburg", "certificate_type": "simple", "recipient": "private", "purpose": "Arbeitgeber",
    "fee_exemption_requested": False,
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_fuehrungszeugnis_with_eid_and_payment_in_cloppenburg_then_the_letter_in_the_postbox(
    context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    citizen = accounts.citizen()
    page = context.new_page()
    log_in(page, citizen)
    page.goto("/cloppenburg/")
    page.fill("#q", "Führungszeugnis")
    page.click("form.vr-search button")
    page.click("a[href='/cloppenburg/leistungen/fuehrungszeugnis']")
    page.click("text=Antrag starten")
    fill_form(page, FUEHRUNGSZEUGNIS)
    expect(page.locator("#save_profile")).to_be_visible()  # offered: the profile is empty
    page.check("#save_profile")
    page.click("#absenden button")

    expect(page).to_have_url(re.compile("/mein-rathaus/identitaet\\?next="))  # level "hoch" needed
    check_page(page, "identity")
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/mein-rathaus/identitaet/simulator$"))
    check_page(page, "eid-simulator")
    page.fill("#given_name", "Erika")
    page.fill("#family_name", "Muster")
    page.fill("#birth_date", "1980-04-12")
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/cloppenburg/antrag/fuehrungszeugnis/pruefen$"))
    expect(page.locator(".kern-alert--success")).to_contain_text("Ihre Identität ist nachgewiesen")
    page.click("#absenden button")
    reference = page.locator(".vr-reference").inner_text()
    assert reference.startswith("CLP-")

    for _attempt in range(60):  # the receivable comes over the saga, moments after the case
        page.click("text=Gebühr jetzt bezahlen")
        if "/bezahlen" in page.url:
            break
        page.wait_for_timeout(500)
    check_page(page, "pay")
    page.click("text=Weiter zur Zahlung")
    expect(page.locator("h1")).to_contain_text("Zahlung an")  # the PSP simulator's page
    page.check("#method-wero")
    page.click("button[value=success]")
    expect(page).to_have_url(re.compile(r"/mein-rathaus/antraege/[0-9a-f-]+\?bezahlt=1&payment_id="))
    expect(page.locator(".vr-paid")).to_contain_text("Kassenzeichen: CLP-K")
    expect(page.locator(".vr-paid")).to_contain_text("13,00")
    check_page(page, "my-case-paid")
    reload_until(page, "Bezahlt")  # the case's saga marks it paid
    log_out(page)

    decide_as_clerk(page, accounts, reference, CLOPPENBURG, checks=False)

    log_in(page, citizen)
    page.goto("/mein-rathaus/postfach")
    reload_until(page, "bewilligt")
    check_page(page, "postbox")
    page.locator(".vr-postbox-item", has_text="bewilligt").locator("a").first.click()
    check_page(page, "postbox-message")
    expect(page.locator("main")).to_contain_text(reference)
    with page.expect_download() as download:
        page.locator("a[download]").first.click()
    assert download.value.suggested_filename.endswith(".pdf")
    assert Path(download.value.path()).read_bytes()[:5] == b"%PDF-"

    page.goto("/mein-rathaus/benachrichtigungen")
    check_page(page, "preferences")
    page.uncheck("#case_submitted")
    page.click("form.vr-form button[type=submit]")
    expect(page.locator(".kern-alert--success")).to_contain_text("gespeichert")
    expect(page.locator("#case_submitted")).not_to_be_checked()
    expect(page.locator("#case_approved")).to_be_checked()


def test_a_draft_is_saved_resumed_given_an_attachment_and_discarded(
    context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    citizen = accounts.citizen()
    profile = {"given_name": "Erika", "family_name": "Mustermann", "street": "Große Straße", "house_number": "1",
               "postal_code": "49377", "city": "Vechta", "birth_date": "1980-04-12", "phone": None}
    saved = httpx.put(f"{running.base_url}/api/v1/me/profile", json=profile, headers=citizen.headers, timeout=30)
    assert saved.status_code == 200, saved.text
    page = context.new_page()
    log_in(page, citizen)
    page.goto("/vechta/antrag/gewerbeanmeldung/start")
    expect(page.locator("#first_name")).to_have_value("Erika")  # prefilled from the profile
    expect(page.locator("#city")).to_have_value("Vechta")
    page.fill("#first_name", "Erika Maria")  # changed for this application only
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/seite/2$"))

    page.goto("/mein-rathaus/")
    draft = page.locator(".vr-draft", has_text="Gewerbe anmelden")
    expect(draft).to_be_visible()
    check_page(page, "my-cases-drafts")
    draft.locator("a", has_text="Fortsetzen").click()
    expect(page).to_have_url(re.compile("/vechta/antrag/gewerbeanmeldung/seite/2$"))  # where it was left
    page.goto("/vechta/antrag/gewerbeanmeldung/seite/1")
    expect(page.locator("#first_name")).to_have_value("Erika Maria")  # saved on the server
    fill_form(page, form("gewerbeanmeldung", first_name="Erika Maria"))

    page.click("a[href$='#ausweiskopie']")
    page.set_input_files("#ausweiskopie", files=[{"name": "ausweis.txt", "mimeType": "text/plain", "buffer": b"kein PDF"}])
    page.click("form.vr-form button[type=submit]")
    assert page.title().startswith("Fehler: ")
    expect(page.locator("#ausweiskopie-error")).to_contain_text("PDF-, JPEG- oder PNG-Datei")
    check_page(page, "form-upload-error")
    page.set_input_files("#ausweiskopie", files=[{"name": "ausweis.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/pruefen$"))
    expect(page.locator("main")).to_contain_text("ausweis.pdf")
    check_page(page, "check-answers-attachment")

    page.goto("/mein-rathaus/")
    page.locator(".vr-draft", has_text="Gewerbe anmelden").locator("button", has_text="Verwerfen").click()
    expect(page.locator(".kern-alert--success")).to_contain_text("Der Entwurf wurde verworfen")
    expect(page.locator(".vr-draft")).to_have_count(0)
    log_out(page)


def test_password_reset_pages(context: BrowserContext, running: Platform) -> None:
    page = context.new_page()
    page.goto("/konto/anmelden")
    page.click("text=Passwort vergessen?")
    check_page(page, "password-forgotten")
    page.fill("#email", "niemand@example.org")
    page.click("form.vr-form button[type=submit]")
    expect(page.locator(".vr-sent")).to_be_visible()  # the same answer for every address
    page.click("text=Link oder Code aus der E-Mail hier eingeben")
    page.fill("#token", "http://127.0.0.1/account/set-password#token=falsch")
    page.fill("#password", "ein-langes-neues-Passwort")
    page.click("form.vr-form button[type=submit]")
    assert page.title().startswith("Fehler: ")
    check_page(page, "password-reset-error")


