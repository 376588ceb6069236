"""No secrets or personal data in the logs: a citizen's account life and a clerk's invitation over
HTTP (register, verify, log in, a wrong password, refresh, password reset, e-mail change, logout,
staff invitation by a tenant admin) and an unusable event with form contents for the projector,
then every process log of the platform is searched for each address, password, access and refresh
token and one-time token used — none may appear. The mails themselves go over SMTP to the development SMTP
sink, which is no log."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from services.common.amqp import ConfirmingPublisher
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, eventually
from tests.support import Platform

LOGIN = "/api/v1/auth/login"


class Used:
    """Every address, password and token the run handed over, to look for in the logs."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def __call__(self, *values: str) -> str:
        self.values.update(v for v in values if v)
        return values[0]

    def needles(self) -> Iterator[str]:
        """Each value, URL-encoded too, and its telling parts: an address's local part, a
        one-time token's secret, a JWT's signature."""
        for value in self.values:
            yield from (value, quote(value, safe=""))
            if "@" in value:
                yield value.split("@")[0]
            elif value.count(".") == 1:
                yield value.split(".")[1]
            elif value.count(".") == 2:
                yield value.split(".")[2]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def token_of(mail: dict) -> str:
    parts = urlsplit(mail["link"])  # links carry the token in the fragment (never sent to a server)
    return parse_qs(parts.fragment or parts.query)["token"][0]


@pytest.fixture
def http(running: Platform) -> Iterator[httpx.Client]:
    """A client on a loopback address of its own: the per-address budgets of 127.0.0.1 (all
    other tests) stay untouched."""
    address = f"127.{random.randrange(1, 255)}.{random.randrange(0, 255)}.{random.randrange(2, 255)}"
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=running.base_url, timeout=30, transport=transport) as client:
        yield client


def log_in(http: httpx.Client, used: Used, email: str, password: str) -> dict[str, str]:
    response = http.post(LOGIN, json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    tokens = response.json()
    used(tokens["access_token"], tokens["refresh_token"])
    return {**tokens, "bearer": {"Authorization": f"Bearer {tokens['access_token']}"}}


def found_in(logs: dict[str, bytes], needles: Iterable[str]) -> list[tuple[str, str]]:
    return sorted({(name, needle) for needle in needles for name, text in logs.items() if needle.encode() in text})


def test_no_address_password_or_token_in_any_log(running: Platform, accounts: Accounts, http: httpx.Client) -> None:
    used = Used()
    email, password = used(unique("privat") + "@example.org"), used(unique("Apfelbaum"))
    registered = http.post("/api/v1/auth/register", json={"email": email, "password": password, "display_name": "Paula"})
    assert registered.status_code == 202, registered.text
    verify = used(token_of(running.mail(email, "verify_email")))
    assert http.post("/api/v1/auth/verify-email", json={"token": verify}).status_code == 200
    assert http.post(LOGIN, json={"email": email, "password": used(unique("Falsch"))}).status_code == 401
    tokens = log_in(http, used, email, password)
    refreshed = http.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    used(refreshed.json()["access_token"], refreshed.json()["refresh_token"])

    assert http.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    reset, new_password = used(token_of(running.mail(email, "password_reset"))), used(unique("Birnbaum"))
    assert http.post("/api/v1/auth/password-reset/confirm", json={"token": reset, "password": new_password}).status_code == 200
    tokens = log_in(http, used, email, new_password)

    new_email = used(unique("umgezogen") + "@example.org")
    change = http.post("/api/v1/me/email", json={"new_email": new_email, "password": new_password}, headers=tokens["bearer"])
    assert change.status_code == 202, change.text
    confirm = used(token_of(running.mail(new_email, "confirm_email_change")))
    assert http.post("/api/v1/auth/change-email/confirm", json={"token": confirm}).status_code == 200
    tokens = log_in(http, used, new_email, new_password)
    logout = http.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=tokens["bearer"])
    assert logout.status_code == 204, logout.text

    admin = accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")
    used(admin.email, admin.password, admin.token)
    clerk_email, clerk_password = used(unique("eingeladen") + "@example.org"), used(unique("Lindenallee"))
    invited = http.post(f"/api/v1/admin/tenants/{VECHTA}/staff", json={"email": clerk_email, "kind": "clerk", "role": "clerk"},
                        headers=admin.headers)
    assert invited.status_code == 201, invited.text
    invitation = used(token_of(running.mail(clerk_email, "staff_invitation")))
    accepted = http.post("/api/v1/auth/password-reset/confirm", json={"token": invitation, "password": clerk_password})
    assert accepted.status_code == 200, accepted.text
    log_in(http, used, clerk_email, clerk_password)

    # an event the projector cannot use, carrying form contents: dead-lettered, and not written out
    odd = {"event_id": uuid.uuid4().hex, "type": "case.submitted.v1",
           "data": {"form_data": {"email": used(unique("formular") + "@example.org")}}}
    publisher = ConfirmingPublisher(running.env["AMQP_URI"])
    try:
        publisher.publish_batch([odd])
    finally:
        publisher.close()
    eventually(lambda: b"malformed_event_dead_lettered" in running.logs()["projector.log"])

    logs = running.logs()
    assert {"gateway.log", "identity.log"} <= set(logs)
    assert logs["identity.log"].count(b'"mail_outbox"') >= 5  # the mails were handed over, and logged
    assert running.sink_mails(email)  # … whole only over SMTP, to the development sink
    found = found_in(logs, used.needles())
    assert not found, "in the logs:\n" + "\n".join(f"{name}: {needle}" for name, needle in found)


def test_the_gateway_warns_at_start_when_it_trusts_no_proxy(running: Platform) -> None:
    """Without TRUSTED_PROXIES every caller counts as the address it connects from: behind a
    reverse proxy, that is the proxy's for everyone, and the per-address limits hit all users."""
    lines = [json.loads(line) for line in running.logs()["gateway.log"].splitlines() if line.startswith(b"{")]
    warnings = [line for line in lines if line.get("event") == "trusted_proxies_unset"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning", warnings
    assert "TRUSTED_PROXIES" in warnings[0]["detail"] and "proxy" in warnings[0]["detail"]
