"""The "Politik & Rat" pages in a real browser: Cloppenburg's council information from the
development OParl server (the test Platform points Cloppenburg at it), reached from the
start page; meeting, paper, committee and search pages axe-clean; a title with HTML shown
as text; with the OParl server stopped, the last data with its date."""

from __future__ import annotations

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import check_page, reload_until
from tests.support import Platform


def test_council_pages_and_the_last_data_when_the_source_is_away(context: BrowserContext, running: Platform) -> None:
    page = context.new_page()
    page.goto("/cloppenburg/")
    page.click("text=Sitzungen, Tagesordnungen und Vorlagen des Rates")
    reload_until(page, "Stadt Cloppenburg")  # the first sync runs in the background
    expect(page.locator("h1")).to_have_text("Politik & Rat")
    expect(page.locator("main")).to_contain_text("Stand:")
    check_page(page, "council-overview")
    page.locator("main ul.vr-results a").first.click()
    expect(page.locator("h2", has_text="Tagesordnung")).to_be_visible()
    check_page(page, "council-meeting")
    page.locator("main ol.vr-agenda a").first.click()
    expect(page.locator("h2", has_text="Beratungsfolge")).to_be_visible()
    check_page(page, "council-paper")
    page.goto("/cloppenburg/rat/")
    page.locator("main ul.vr-tiles a").first.click()
    expect(page.locator("h2", has_text="Vergangene Sitzungen")).to_be_visible()
    check_page(page, "council-committee")
    page.goto("/cloppenburg/rat/")
    page.fill("#council-q", "Bauabschnitt")
    page.click("form.vr-search button")
    hit = page.locator("main ol.vr-results a").first
    expect(hit).to_have_text("Straßenausbau Eschstraße <b>(2. Bauabschnitt)</b>")  # the source's HTML as text
    assert page.locator("main ol.vr-results a b").count() == 0
    check_page(page, "council-search")

    running.kill("oparl_server")  # the municipality's system is away: the last data stays, with its date
    page.goto("/cloppenburg/rat/")
    reload_until(page, "Daten nicht aktuell")
    expect(page.locator("main")).to_contain_text("Sie sehen den Stand vom")
    assert page.locator("main ul.vr-results li a").count() >= 1
    check_page(page, "council-stale")
