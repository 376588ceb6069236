"""Browser tests: the whole platform with its web front end as real processes, driven by
Playwright in Debian's chromium (``/usr/bin/chromium``; ``make install`` installs it with
apt where missing — never ``playwright install``), every page checked by axe-core.

Each checked page is screenshotted under ``<VR_VAR_DIR>/screenshots/`` and its axe result
(violations, serious or critical ones, rule ids) goes into ``<VR_VAR_DIR>/axe-report.json``,
printed at the end of the run."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from services.common.config import Settings
from tests import support
from tests.e2e.accounts import Account, Accounts

CHROMIUM = "/usr/bin/chromium"
VECHTA = "03460009"
NARROW = {"width": 320, "height": 900}  # WCAG reflow: no horizontal scrolling at 320 CSS px
BLOCKING = ("serious", "critical")

AXE_REPORT: dict[str, dict[str, Any]] = {}
expect.set_options(timeout=30_000)  # two shared cores: a page can take seconds


def output_dir() -> Path:
    return Settings.from_env().var_dir


@pytest.fixture(scope="package")
def web_env(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with support.own_platform_env(pg_env, tmp_path_factory.mktemp("web-var"), "vr_web") as env:
        yield env


@pytest.fixture(scope="package")
def running(web_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
    with support.platform(web_env, tmp_path_factory.mktemp("web-logs")) as plat:
        yield plat


@pytest.fixture(scope="package")
def accounts(running: support.Platform, web_env: dict[str, str]) -> Iterator[Accounts]:
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield Accounts(web_env, http)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Browser, running: support.Platform) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=running.web_url, viewport=NARROW, locale="de-DE")
    ctx.set_default_timeout(60_000)
    yield ctx
    ctx.close()


def check_page(page: Page, name: str, axe: bool = True) -> None:
    """axe-core (no serious or critical violation), no horizontal scrolling, a screenshot."""
    page.wait_for_load_state()
    shots = output_dir() / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    width, viewport = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= viewport, f"{name}: horizontal scrolling ({width} > {viewport})"
    if not axe:
        return
    violations = Axe().run(page).response["violations"]
    blocking = [v for v in violations if v.get("impact") in BLOCKING]
    AXE_REPORT[name] = {
        "path": urlsplit(page.url).path, "violations": len(violations), "serious_or_critical": len(blocking),
        "rules": sorted({f"{v['id']} ({v.get('impact')})" for v in violations}),
    }
    assert not blocking, [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in blocking]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if AXE_REPORT:
        path = output_dir() / "axe-report.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(AXE_REPORT, indent=2, ensure_ascii=False), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AXE_REPORT:
        terminalreporter.write_line(f"axe-core per page (also in {output_dir() / 'axe-report.json'}):")
        for name, result in sorted(AXE_REPORT.items()):
            terminalreporter.write_line(
                f"  {name:28} {result['path']:60} violations={result['violations']} "
                f"serious/critical={result['serious_or_critical']} {', '.join(result['rules'])}"
            )


# -- driving the pages -------------------------------------------------------------------------
def log_in(page: Page, account: Account, staff: bool = False, name: str | None = None) -> None:
    page.goto("/verwaltung/anmelden" if staff else "/konto/anmelden")
    if name:
        check_page(page, name)
    page.fill("#email", account.email)
    page.fill("#password", account.password)
    page.click("form.vr-form button[type=submit]")
    page.wait_for_load_state()


def log_out(page: Page) -> None:
    page.click("header .vr-linkbutton")
    page.wait_for_load_state()


def reload_until(page: Page, text: str, timeout: float = 60) -> None:
    """Reload until the page shows ``text`` (worklist and "Mein Rathaus" are projections,
    eventually consistent)."""
    deadline = time.monotonic() + timeout
    while text not in page.locator("main").inner_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared on {page.url}"
        time.sleep(0.5)
        page.reload()


def submit_and_open_as_clerk(page: Page, accounts: Accounts, tenant: str = VECHTA) -> str:
    """Send the checked application, log out, and open the case as a new clerk of ``tenant``."""
    page.click("#absenden button")
    reference = page.locator(".vr-reference").inner_text()
    log_out(page)
    log_in(page, accounts.staff([(tenant, "clerk", ["*"])]), staff=True)
    reload_until(page, reference)
    page.click(f"text={reference}")
    return reference


def answer(page: Page, data: dict[str, Any]) -> None:
    """Fill in the fields of ``data`` (JSON values as the gateway takes them) the page shows."""
    for key, value in data.items():
        if page.locator(f'[name="{key}-day"]').count():
            day = date.fromisoformat(value)
            page.fill(f'[name="{key}-day"]', str(day.day))
            page.fill(f'[name="{key}-month"]', str(day.month))
            page.fill(f'[name="{key}-year"]', str(day.year))
        elif page.locator(f'input[type=radio][name="{key}"]').count():
            choice = ("ja" if value else "nein") if isinstance(value, bool) else str(value)
            page.check(f'input[type=radio][name="{key}"][value="{choice}"]')
        elif page.locator(f'input[type=checkbox][name="{key}"]').count():
            page.set_checked(f'input[type=checkbox][name="{key}"]', bool(value))
        elif page.locator(f'select[name="{key}"]').count():
            page.select_option(f'select[name="{key}"]', str(value))
        elif page.locator(f'[name="{key}"]').count():
            page.fill(f'[name="{key}"]', str(value))


def fill_form(page: Page, data: dict[str, Any], name: str | None = None) -> None:
    """Answer each form page with ``data`` (JSON values as the gateway takes them) until the
    check-answers page; ``name`` checks every page (axe, reflow, screenshot)."""
    for number in range(1, 20):
        if name:
            check_page(page, f"{name}-page-{number}")
        answer(page, data)
        page.click("form.vr-form button[type=submit]")
        page.wait_for_load_state()
        if page.url.endswith("/pruefen"):
            return
        assert "/seite/" in page.url and not page.title().startswith("Fehler"), page.title()
    raise AssertionError("the form never reached the check-answers page")
