"""Links in mails open the web portal's pages (WEB_PUBLIC_URL) and change nothing when
they are only fetched: mail scanners and link previews follow every link. The token is in
the fragment, which never reaches a server or a Referer; the page's form (its field filled
from the fragment by static/token.js, or pasted into) posts it with the button. API clients
post the token from the link to the API themselves."""

from __future__ import annotations

import re
import secrets
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, client_for
from tests.e2e.test_citizen_account import mail_link
from tests.support import Platform


def fetched_like_a_scanner(web: httpx.Client, link: str) -> httpx.Response:
    """GET the link as a scanner (or a browser) does: the fragment stays with the client."""
    page = web.get(link.split("#", 1)[0])
    assert page.status_code == 200, page.text
    return page


def token_of(link: str) -> str:
    parts = urlsplit(link)
    assert "token" not in parse_qs(parts.query), f"the token must not be in the query: {link}"
    return parse_qs(parts.fragment)["token"][0]


def is_page(page: httpx.Response, path: str, button: str) -> None:
    assert page.headers["Content-Type"].startswith("text/html") and page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]  # no inline script
    assert f'action="{path}"' in page.text and button in page.text and 'name="token"' in page.text
    assert '<script src="/static/token.js" defer></script>' in page.text  # fills the field from the fragment


def press_the_button(web: httpx.Client, page: httpx.Response, link: str, **fields: str) -> httpx.Response:
    """What the browser sends: the page's form with the token from the link."""
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)[1]
    return web.post(urlsplit(link).path, data={"csrf_token": csrf, "token": token_of(link), **fields})


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_the_verification_link_opens_the_portal_and_verifies_only_when_the_button_posts(
        running: Platform, client: httpx.Client) -> None:
    email, password = f"scanner-{uuid.uuid4().hex[:8]}@example.org", "Briefkasten-" + secrets.token_hex(6)
    assert client.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 202
    link = mail_link(running, email, "verify_email")
    assert urlsplit(link).path == "/konto/bestaetigen"

    with httpx.Client(base_url=running.web_url, timeout=30) as web:
        page = fetched_like_a_scanner(web, link)
        still = login(client, email, password)
        assert still.status_code == 403 and still.json()["code"] == "email_not_verified", still.text
        is_page(page, "/konto/bestaetigen", "E-Mail-Adresse bestätigen")
        assert client.get("/api/v1/auth/verify-email", params={"token": token_of(link)}).status_code == 405
        assert login(client, email, password).status_code == 403

        done = press_the_button(web, page, link)
        assert done.status_code == 303 and done.headers["location"] == "/konto/anmelden", done.text
        assert "Ihre E-Mail-Adresse ist bestätigt" in web.get("/konto/anmelden").text
    assert login(client, email, password).status_code == 200


def test_the_api_takes_the_token_of_the_link_too(running: Platform, client: httpx.Client) -> None:
    email, password = f"api-{uuid.uuid4().hex[:8]}@example.org", "Briefkasten-" + secrets.token_hex(6)
    assert client.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 202
    verified = client.post("/api/v1/auth/verify-email", json={"token": token_of(mail_link(running, email, "verify_email"))})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True, verified.text
    assert client.get("/account/verify-email").status_code == 200  # the gateway's page takes links sent before


def test_the_email_change_link_changes_only_when_the_button_posts(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    new = f"umgezogen-{uuid.uuid4().hex[:8]}@example.org"
    with client_for(running, account) as citizen, httpx.Client(base_url=running.web_url, timeout=30) as web:
        asked = citizen.post("/api/v1/me/email", json={"new_email": new, "password": account.password})
        assert asked.status_code == 202, asked.text
        link = mail_link(running, new, "confirm_email_change")

        page = fetched_like_a_scanner(web, link)
        assert citizen.get("/api/v1/me").json()["email"] == account.email
        is_page(page, "/konto/email-bestaetigen", "Neue E-Mail-Adresse bestätigen")
        assert citizen.get("/api/v1/me").json()["email"] == account.email

        assert press_the_button(web, page, link).status_code == 303
        assert citizen.get("/api/v1/me").json()["email"] == new


def test_reset_and_invitation_links_open_a_password_form(running: Platform, client: httpx.Client, accounts: Accounts) -> None:
    account = accounts.citizen()
    assert client.post("/api/v1/auth/password-reset", json={"email": account.email}).status_code == 202
    admin = accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")
    invited = f"neu-im-amt-{uuid.uuid4().hex[:8]}@example.org"
    with client_for(running, admin) as http:
        created = http.post(f"/api/v1/admin/tenants/{VECHTA}/staff", json={"email": invited, "role": "clerk"})
        assert created.status_code == 201, created.text

    for email, template in ((account.email, "password_reset"), (invited, "staff_invitation")):
        link = mail_link(running, email, template)
        with httpx.Client(base_url=running.web_url, timeout=30) as web:
            page = fetched_like_a_scanner(web, link)
            is_page(page, "/konto/passwort-neu", "Passwort setzen")
            assert 'type="password"' in page.text
            new_password = "Neues-Passwort-" + secrets.token_hex(6)
            done = press_the_button(web, page, link, password=new_password)
            assert done.status_code == 303 and done.headers["location"] == "/konto/anmelden", done.text
        assert login(client, email, new_password).status_code == 200
