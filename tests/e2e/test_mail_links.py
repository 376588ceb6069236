"""Links in mails change nothing when they are only fetched: mail scanners and link
previews follow every link. A link opens a page of the platform (token in the fragment,
which never reaches a server or a Referer); the page's button POSTs the token as JSON."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, client_for
from tests.e2e.test_citizen_account import mail_link
from tests.support import Platform


def fetched_like_a_scanner(client: httpx.Client, link: str) -> httpx.Response:
    """GET the link as a scanner does: the fragment stays with the client."""
    page = client.get(link.split("#", 1)[0])
    assert page.status_code == 200, page.text
    return page


def token_of(link: str) -> str:
    parts = urlsplit(link)
    assert "token" not in parse_qs(parts.query), f"the token must not be in the query: {link}"
    return parse_qs(parts.fragment)["token"][0]


def is_page(page: httpx.Response, action: str, button: str) -> None:
    assert page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    assert button in page.text and action in page.text
    # the page's own script is the only one a browser runs on it (CSP hash of exactly that script)
    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in page.headers["Content-Security-Policy"]


def login(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def test_the_verification_link_verifies_only_when_the_button_posts(running: Platform, client: httpx.Client) -> None:
    email, password = f"scanner-{uuid.uuid4().hex[:8]}@example.org", "Briefkasten-" + secrets.token_hex(6)
    assert client.post("/api/v1/auth/register", json={"email": email, "password": password}).status_code == 202
    link = mail_link(running, email, "verify_email")

    page = fetched_like_a_scanner(client, link)
    still = login(client, email, password)
    assert still.status_code == 403 and still.json()["code"] == "email_not_verified", still.text
    is_page(page, "/api/v1/auth/verify-email", "E-Mail-Adresse bestätigen")
    token = token_of(link)
    assert client.get("/api/v1/auth/verify-email", params={"token": token}).status_code == 405  # GET changes nothing
    assert login(client, email, password).status_code == 403

    verified = client.post("/api/v1/auth/verify-email", json={"token": token})  # what the button sends
    assert verified.status_code == 200 and verified.json()["email_verified"] is True, verified.text
    assert login(client, email, password).status_code == 200


def test_the_email_change_link_changes_only_when_the_button_posts(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    new = f"umgezogen-{uuid.uuid4().hex[:8]}@example.org"
    with client_for(running, account) as citizen:
        asked = citizen.post("/api/v1/me/email", json={"new_email": new, "password": account.password})
        assert asked.status_code == 202, asked.text
        link = mail_link(running, new, "confirm_email_change")

        page = fetched_like_a_scanner(citizen, link)
        assert citizen.get("/api/v1/me").json()["email"] == account.email
        is_page(page, "/api/v1/auth/change-email/confirm", "E-Mail-Adresse bestätigen")
        token = token_of(link)
        assert citizen.get("/api/v1/auth/change-email/confirm", params={"token": token}).status_code == 405
        assert citizen.get("/api/v1/me").json()["email"] == account.email

        changed = citizen.post("/api/v1/auth/change-email/confirm", json={"token": token})
        assert changed.status_code == 200 and changed.json()["email"] == new, changed.text
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
        page = fetched_like_a_scanner(client, link)
        is_page(page, "/api/v1/auth/password-reset/confirm", "Passwort speichern")
        assert 'type="password"' in page.text
        new_password = "Neues-Passwort-" + secrets.token_hex(6)
        done = client.post("/api/v1/auth/password-reset/confirm", json={"token": token_of(link), "password": new_password})
        assert done.status_code == 200, done.text
        assert login(client, email, new_password).status_code == 200
