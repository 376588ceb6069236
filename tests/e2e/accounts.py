"""Real accounts for end-to-end tests: created through the identity application on the
platform's own store (as an administrator or the demo seeding would), verified and
logged in over HTTP like any client."""

from __future__ import annotations

import os
import secrets
import uuid
from dataclasses import dataclass, field
from unittest import mock
from urllib.parse import parse_qs, urlparse

import httpx

from services.common.db import open_application
from services.identity.application import IdentityApplication


@dataclass
class Account:
    email: str
    password: str
    account_id: str
    kind: str
    token: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class Accounts:
    def __init__(self, env: dict[str, str], client: httpx.Client):
        self.env = {k: v for k, v in env.items() if k.startswith(("POSTGRES", "VR_", "IDENTITY_"))}
        self.client = client
        with mock.patch.dict(os.environ, self.env):
            self.app = open_application(IdentityApplication, "identity")

    def _verify(self, mails) -> str:
        token = next(m.params["token"] for m in mails if m.template == "verify_email")
        response = self.client.post("/api/v1/auth/verify-email", json={"token": token})
        assert response.status_code == 200, response.text
        return response.json()["account_id"]

    def citizen(self, kind: str = "citizen", domain: str = "example.org") -> Account:
        email = f"{kind}-{uuid.uuid4().hex[:10]}@{domain}"
        password = "Gartenzaun-" + secrets.token_hex(6)
        extra = {"organisation_name": "Muster GmbH"} if kind == "organisation" else {}
        mails = self.app.register(email, password, kind=kind, display_name="Erika Muster", **extra).mails
        return self.login(Account(email, password, self._verify(mails), kind))

    def proven_citizen(self) -> Account:
        """A citizen proven by the (simulated) online ID at level high (the Führungszeugnis needs it)."""
        account = self.citizen()
        started = self.client.post("/api/v1/me/eid/start", json={}, headers=account.headers).json()
        state = parse_qs(urlparse(started["redirect_url"]).query)["state"][0]
        proof = {"state": state, "given_name": "Erika", "family_name": "Muster", "birth_date": "1980-04-12", "level": "high"}
        assert self.client.post("/api/v1/me/eid/complete", json=proof, headers=account.headers).status_code == 200
        return self.login(account)

    def staff(self, grants: list[tuple[str, str, list[str]]], kind: str = "clerk") -> Account:
        email = f"{kind}-{uuid.uuid4().hex[:10]}@example.org"
        password = "Aktenzeichen-" + secrets.token_hex(6)
        created = self.app.create_staff_account(email, kind=kind, display_name="Sachbearbeitung", password=password)
        account_id = self._verify(created.mails)
        for tenant, role, keys in grants:
            self.app.grant_role(account_id, tenant, role, keys, granted_by="tests")
        return self.login(Account(email, password, account_id, kind))

    def login(self, account: Account) -> Account:
        response = self.client.post("/api/v1/auth/login", json={"email": account.email, "password": account.password})
        assert response.status_code == 200, response.text
        account.token = response.json()["access_token"]
        account.headers = {"Authorization": f"Bearer {account.token}"}
        return account
