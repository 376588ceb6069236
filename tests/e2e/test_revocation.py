"""Revocation that survives: a voided access token stays refused after the gateway restarts
(revocations come from identity's event store, not from the gateway's memory); refresh-token
reuse and a password reset void the access tokens at once, like a logout; a logout needs the
refresh token's secret, not only the session id an access token names."""

from __future__ import annotations

import signal
import uuid

import httpx

from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import eventually
from tests.support import Platform


def session_of(running: Platform, account: Account) -> tuple[httpx.Client, dict]:
    """A new login of the account: a bearer client (no cookies) and its tokens."""
    login = httpx.post(f"{running.base_url}/api/v1/auth/login", json={"email": account.email, "password": account.password}, timeout=30)
    assert login.status_code == 200, login.text
    tokens = login.json()
    return httpx.Client(base_url=running.base_url, timeout=30, headers={"Authorization": f"Bearer {tokens['access_token']}"}), tokens


def refused(client: httpx.Client) -> bool:
    response = client.get("/api/v1/me")
    return response.status_code == 401 and response.json()["code"] == "invalid_token"


def test_a_logged_out_token_stays_refused_after_the_gateway_restarts(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    client, tokens = session_of(running, account)
    other, _ = session_of(running, account)
    with client, other:
        assert client.get("/api/v1/me").status_code == 200
        out = client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert out.status_code == 204, out.text
        eventually(lambda: refused(client), timeout=10)

        running.kill("gateway", signal.SIGTERM)  # its memory of the broadcast is gone
        running.start("gateway")
        running.wait_ready()
        assert refused(client)  # at once: the gateway loaded the revocations before answering
        assert other.get("/api/v1/me").status_code == 200  # the account's other session is fine


def test_refresh_token_reuse_voids_the_sessions_access_token(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    first, tokens = session_of(running, account)
    first.close()

    def refresh() -> httpx.Response:
        return httpx.post(f"{running.base_url}/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, timeout=30)

    rotated = refresh()
    assert rotated.status_code == 200, rotated.text
    with httpx.Client(base_url=running.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {rotated.json()['access_token']}"}) as current:
        assert current.get("/api/v1/me").status_code == 200
        replay = refresh()  # a stolen copy of the rotated-out refresh token
        assert replay.status_code == 401 and replay.json()["code"] == "session_invalid"
        eventually(lambda: refused(current), timeout=10)  # the session's newest access token too


def test_a_password_reset_voids_the_old_access_tokens(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    client, _ = session_of(running, account)
    with client:
        assert client.get("/api/v1/me").status_code == 200
        mails = accounts.app.request_password_reset(account.email).mails
        token = next(m.params["token"] for m in mails if m.template == "password_reset")
        reset = httpx.post(f"{running.base_url}/api/v1/auth/password-reset/confirm",
                           json={"token": token, "password": account.password + "-neu"}, timeout=30)
        assert reset.status_code == 200, reset.text
        eventually(lambda: refused(client), timeout=10)


def test_logout_needs_the_refresh_tokens_secret(running: Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    client, tokens = session_of(running, account)
    with client:
        missing = client.post("/api/v1/auth/logout", json={})  # the access token's session id is not enough
        assert missing.status_code == 400 and missing.json()["code"] == "refresh_token_required", missing.text
        session_hex = tokens["refresh_token"].split(".")[0]
        guessed = client.post("/api/v1/auth/logout", json={"refresh_token": f"{session_hex}.{uuid.uuid4().hex}"})
        assert guessed.status_code == 401 and guessed.json()["code"] == "session_invalid", guessed.text
        assert client.get("/api/v1/me").status_code == 200
        refresh = httpx.post(f"{running.base_url}/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}, timeout=30)
        assert refresh.status_code == 200  # the session lives on
