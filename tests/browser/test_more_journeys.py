"""The other journeys of the portals in a real browser, one table row each: from the search
on the tenant's portal through the form (raising the trust level with the eID simulator and
paying on the PSP simulator where the service needs it) to the clerk's approval in
/verwaltung/ and the citizen seeing it in "Mein Rathaus".

Lean on purpose (CI time): the pages the Hundeanmeldung and the Führungszeugnis already
check (search, service page, login, eID, payment, worklist, case) are not checked again;
only the form pages with other widgets (select, textarea, checkbox, a declaration) go
through axe; the clerk logs in once per journey."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import fill_form, log_in, log_out, reload_until
from tests.browser.test_journeys import decide_as_clerk
from tests.e2e.accounts import Accounts
from tests.examples import form
from tests.support import Platform

PERSON = {"first_name": "Erika", "last_name": "Muster", "birth_date": "1980-04-12", "street": "Lange Straße",
          "house_number": "5", "email": "erika.muster@example.org"}


def person(postal_code: str, city: str) -> dict[str, Any]:
    return {**PERSON, "postal_code": postal_code, "city": city}


@dataclass(frozen=True)
class Journey:
    slug: str  # the portal searched on
    search: str
    service_id: str
    clerk_tenant: str  # AGS of the deciding authority
    answers: dict[str, Any]
    kind: str = "citizen"  # the account: citizen or organisation
    trust: str | None = None  # level raised with the eID simulator when submitting
    pays: bool = False
    axe: bool = False  # check the form pages (widgets the Hundeanmeldung does not have)
    reference: str = ""  # the reference's prefix
    clerk_services: tuple[str, ...] = ("*",)  # what the deciding clerk is responsible for


JOURNEYS = [
    Journey("lohne-oldenburg", "Gewerbe anmelden", "gewerbeanmeldung", "03460006", form(
        "gewerbeanmeldung", city="Lohne", postal_code="49393", business_city="Lohne", business_postal_code="49393",
        business_name="Muster GmbH", legal_form="gmbh", register_number="HRB 123456"),
        kind="organisation", trust="substantial", pays=True, reference="LOH-", axe=True),  # select, textarea
    Journey("bakum", "per Brief wählen", "briefwahl", "03460001", {
        **person("49456", "Bakum"), "election": "Bundestagswahl 2029", "delivery": "registered_address",
        "declaration": True}, reference="BAK-", axe=True, clerk_services=("briefwahl",)),  # the declaration
    Journey("neuenkirchen-voerden", "Kita Platz", "kita-anmeldung", "03460007", {
        "parent_first_name": "Erika", "parent_last_name": "Muster", "parent_birth_date": "1990-05-05",
        "parent_street": "Hauptstraße", "parent_house_number": "7", "parent_postal_code": "49434",
        "parent_city": "Neuenkirchen-Vörden", "email": "erika.muster@example.org", "child_first_name": "Lena",
        "child_last_name": "Muster", "child_birth_date": "2025-06-01", "care_type": "krippe",
        "start_date": "2027-08-01", "hours_per_day": 6, "preferred_facility_1": "Kita St. Marien",
        "siblings_in_facility": True, "special_needs": "Keine"}, trust="substantial", reference="NEV-", axe=True),
    Journey("damme", "Personalausweis verloren", "personalausweis-verlust", "03460002", {
        **person("49401", "Damme"), "event": "stolen", "event_date": "2026-11-28", "event_place": "Bahnhof Damme",
        "police_report_number": "PD-2026-4711", "eid_block": True}, trust="substantial", reference="DAM-"),
    Journey("dinklage", "Meldebescheinigung", "meldebescheinigung", "03460003",
            form("meldebescheinigung", postal_code="49413", city="Dinklage"), trust="high", pays=True,
            reference="DIN-"),
]


def raise_trust(page: Page, level: str) -> None:
    """Sending asked for a higher trust level: the online ID (simulator), then back to send."""
    expect(page).to_have_url(re.compile("/mein-rathaus/identitaet\\?next="))
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/mein-rathaus/identitaet/simulator$"))
    page.fill("#given_name", "Erika")
    page.fill("#family_name", "Muster")
    page.fill("#birth_date", "1980-04-12")
    page.check(f'input[name=level][value="{level}"]')
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile("/pruefen$"))
    page.click("#absenden button")


def pay(page: Page) -> None:
    """Pay the fee on the PSP simulator's page; the clerk can only start once it is paid."""
    for _attempt in range(60):  # the receivable comes over the saga, moments after the case
        page.click("text=Gebühr jetzt bezahlen")
        if "/bezahlen" in page.url:
            break
        page.wait_for_timeout(500)
    page.click("text=Weiter zur Zahlung")
    page.check("#method-wero")
    page.click("button[value=success]")
    expect(page.locator(".vr-paid")).to_contain_text("Kassenzeichen:")
    reload_until(page, "Bezahlt")


@pytest.mark.parametrize("journey", JOURNEYS, ids=[j.service_id for j in JOURNEYS])
def test_from_the_portals_search_to_the_decision_in_mein_rathaus(
    journey: Journey, context: BrowserContext, running: Platform, accounts: Accounts
) -> None:
    citizen = accounts.citizen(kind=journey.kind)
    page = context.new_page()
    page.goto(f"/{journey.slug}/")
    page.fill("#q", journey.search)
    page.click("form.vr-search button")
    page.click(f"a[href='/{journey.slug}/leistungen/{journey.service_id}']")
    page.click("text=Antrag starten")
    page.fill("#email", citizen.email)  # log in first, then straight back to the form
    page.fill("#password", citizen.password)
    page.click("form.vr-form button[type=submit]")
    expect(page).to_have_url(re.compile(f"/{journey.slug}/antrag/{journey.service_id}/seite/1$"))
    fill_form(page, journey.answers, name=journey.service_id if journey.axe else None)
    page.click("#absenden button")
    if journey.trust:
        raise_trust(page, journey.trust)
    reference = page.locator(".vr-reference").inner_text()
    assert reference.startswith(journey.reference), reference
    if journey.pays:
        pay(page)
    log_out(page)

    decision = f"Ihr Antrag {reference} ist bewilligt."
    decide_as_clerk(page, accounts, reference, journey.clerk_tenant, checks=False, decision=decision,
                    services=journey.clerk_services)

    log_in(page, citizen)
    reload_until(page, "Bewilligt")  # "Mein Rathaus" is a projection
    row = page.locator("tr", has_text=reference)
    expect(row).to_contain_text("Bewilligt")
    row.locator("a").click()
    expect(page.locator("main")).to_contain_text(decision)
