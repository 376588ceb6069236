"""A journey with the keyboard only, escaping of hostile input on every page that shows it,
and the web's security headers, cookie and CSRF checks (over plain HTTP)."""

from __future__ import annotations

import re
import signal
from datetime import date

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.conftest import check_page, fill_form, log_in, log_out, reload_until, submit_and_open_as_clerk
from tests.e2e.accounts import Accounts
from tests.examples import form
from tests.support import Platform, eventually

HOSTILE = ['<script>window.__pwned=1</script>', '"><img src=x onerror="window.__pwned=1">']


def tab_to(page: Page, selector: str, limit: int = 120) -> None:
    """Press Tab until the focused element matches ``selector``; its focus must be visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            visible = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return s.outlineStyle !== 'none' && s.outlineWidth !== '0px' || s.boxShadow !== 'none'; }"
            )
            assert visible, f"focus on {selector} is not visible"
            return
    raise AssertionError(f"Tab never reached {selector}")


def follow(page: Page) -> None:
    """Enter on the focused link or button, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_hundeanmeldung_with_the_keyboard_only(context: BrowserContext, running: Platform, accounts: Accounts) -> None:
    citizen = accounts.citizen()
    page = context.new_page()
    page.goto("/vechta/")
    tab_to(page, "#q")
    page.keyboard.type("Hund anmelden")
    follow(page)
    tab_to(page, "a[href='/vechta/leistungen/hundeanmeldung']")
    follow(page)
    tab_to(page, "a[href$='/antrag/hundeanmeldung/start']")
    follow(page)
    tab_to(page, "#email")
    page.keyboard.type(citizen.email)
    tab_to(page, "#password")
    page.keyboard.type(citizen.password)
    follow(page)
    data = form()
    while "/seite/" in page.url:
        for key, value in data.items():
            if page.locator(f'[name="{key}-day"]').count():
                day = date.fromisoformat(value)
                for part, text in (("day", day.day), ("month", day.month), ("year", day.year)):
                    tab_to(page, f"#{key}-{part}")
                    page.keyboard.type(str(text))
            elif page.locator(f'input[type=radio][name="{key}"]').count():
                choice = ("ja" if value else "nein") if isinstance(value, bool) else str(value)
                tab_to(page, f'input[type=radio][name="{key}"]')
                while not page.evaluate("s => document.activeElement.matches(s)", f'[value="{choice}"]'):
                    page.keyboard.press("ArrowDown")
                page.keyboard.press("Space")
            elif page.locator(f'[name="{key}"]').count():
                tab_to(page, f'[name="{key}"]')
                page.keyboard.press("Control+A")
                page.keyboard.type(str(value))
        tab_to(page, "form.vr-form button[type=submit]")
        follow(page)
        assert not page.title().startswith("Fehler"), page.title()
    expect(page).to_have_url(re.compile("/pruefen$"))
    tab_to(page, "#absenden button")
    follow(page)
    expect(page.locator(".vr-reference")).to_have_text(re.compile(r"VEC-\d{4}-\d{6}"))


def test_hostile_input_is_shown_as_text_everywhere(context: BrowserContext, running: Platform, accounts: Accounts) -> None:
    citizen = accounts.citizen()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, citizen)
    page.goto("/vechta/antrag/hundeanmeldung/start")
    text_fields = ("holder_first_name", "holder_last_name", "holder_street", "holder_city", "dog_name", "dog_breed",
                   "liability_insurer", "previous_municipality")
    hostile = form(**{name: HOSTILE[i % 2] for i, name in enumerate(text_fields)})
    fill_form(page, hostile)

    def escaped(name: str) -> None:
        assert page.evaluate("window.__pwned") is None, name
        assert page.locator("img[src=x]").count() == 0, name
        for text in HOSTILE:
            expect(page.locator("main")).to_contain_text(text)
        check_page(page, name)

    escaped("xss-check-answers")
    page.goto("/vechta/antrag/hundeanmeldung/seite/1")  # shown again in the inputs' values
    assert page.locator("#holder_first_name").input_value() == HOSTILE[0]
    assert page.locator("img[src=x]").count() == 0 and page.evaluate("window.__pwned") is None
    page.goto("/vechta/antrag/hundeanmeldung/pruefen")
    reference = submit_and_open_as_clerk(page, accounts)
    escaped("xss-clerk-case")
    page.click("text=Bearbeitung beginnen")
    page.fill("#question", HOSTILE[1])
    page.click("form[action$='/request-information'] button")
    escaped_question = page.locator(".vr-panel")
    expect(escaped_question).to_contain_text(HOSTILE[1])
    log_out(page)
    log_in(page, citizen)
    reload_until(page, "Rückfrage offen")
    page.click(f"text={reference}")
    expect(page.locator(".vr-panel")).to_contain_text(HOSTILE[1])
    assert page.evaluate("window.__pwned") is None and page.locator("img[src=x]").count() == 0
    assert dialogs == []


def test_headers_cookie_and_csrf(running: Platform, accounts: Accounts) -> None:
    citizen = accounts.citizen()
    with httpx.Client(base_url=running.web_url, timeout=30) as web:
        start = web.get("/vechta/")
        csp = start.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert start.headers["cache-control"] == "no-store"
        cookie = start.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie  # plain http here
        assert "<script" not in start.text and " style=" not in start.text
        login = web.get("/konto/anmelden")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        credentials = {"email": citizen.email, "password": citizen.password}
        assert web.post("/konto/anmelden", data=credentials).status_code == 403  # no token
        assert web.post("/konto/anmelden", data={**credentials, "csrf_token": "x" + token}).status_code == 403
        foreign = web.post("/konto/anmelden", data={**credentials, "csrf_token": token}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        cross = web.post("/konto/anmelden", data={**credentials, "csrf_token": token}, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 403
        done = web.post("/konto/anmelden", data={**credentials, "csrf_token": token}, headers={"Origin": running.web_url})
        assert done.status_code == 303
        assert "access_token" not in done.text and citizen.token not in web.get("/mein-rathaus/").text
        assert web.cookies.get("vr_web") and "vr_access" not in web.cookies  # the gateway's tokens are sealed in vr_web
        assert web.post("/konto/abmelden", data={"csrf_token": token}).status_code == 403  # the token was rotated


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def serving(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def logged_out(web: httpx.Client) -> bool:
    answer = web.get("/mein-rathaus/")
    assert answer.status_code in (200, 303), answer.text
    return answer.status_code == 303 and answer.headers["location"].startswith("/konto/anmelden?next=")


def test_a_web_session_outlives_a_restart_and_ends_with_the_logout(running: Platform, accounts: Accounts) -> None:
    """The session is the encrypted cookie (services/web/sessions.py): a restarted web (or
    another replica with the same WEB_SESSION_SECRET) continues it; a changed cookie is no
    session; after logging out, a copy of the old cookie gets nothing (revoked at the gateway)."""
    citizen = accounts.citizen()
    with httpx.Client(base_url=running.web_url, timeout=30) as web:
        credentials = {"email": citizen.email, "password": citizen.password, "csrf_token": csrf_of(web.get("/konto/anmelden").text)}
        assert web.post("/konto/anmelden", data=credentials).status_code == 303
        cookie = web.cookies["vr_web"]
        assert len(cookie) < 4000

        running.kill("web", signal.SIGTERM)
        running.start("web")
        eventually(lambda: serving(running.web_url), timeout=60)
        assert not logged_out(web)  # still logged in, with the same cookie

        for tampered in (cookie[:-6] + ("A" if cookie[-6] != "A" else "B") + cookie[-5:], cookie[:100], "kein-cookie"):
            with httpx.Client(base_url=running.web_url, timeout=30, cookies={"vr_web": tampered}) as other:
                assert logged_out(other)  # a new, empty session: no 500

        csrf = csrf_of(web.get("/mein-rathaus/").text)
        assert web.post("/konto/abmelden", data={"csrf_token": csrf}).status_code == 303
        assert logged_out(web)
        with httpx.Client(base_url=running.web_url, timeout=30, cookies={"vr_web": cookie}) as replay:
            assert eventually(lambda: logged_out(replay))  # the old cookie's tokens are revoked


def test_a_form_page_with_its_styles_stays_under_100_kb(running: Platform, accounts: Accounts) -> None:
    citizen = accounts.citizen()
    with httpx.Client(base_url=running.web_url, timeout=30, headers={"Accept-Encoding": "gzip"}) as web:
        token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/konto/anmelden").text).group(1)
        web.post("/konto/anmelden", data={"email": citizen.email, "password": citizen.password, "csrf_token": token})
        web.get("/vechta/antrag/hundeanmeldung/start")
        page = web.get("/vechta/antrag/hundeanmeldung/seite/1")
        assert page.status_code == 200
        total = page.num_bytes_downloaded
        for href in re.findall(r'<(?:link[^>]+href|script[^>]+src)="([^"]+)"', page.text):
            asset = web.get(href)
            assert asset.status_code == 200, href
            total += asset.num_bytes_downloaded
        assert total < 100_000, total
