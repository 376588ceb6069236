"""The gateway follows identity's key set without a restart: a key that identity no longer
publishes stops verifying within GATEWAY_REFRESH_INTERVAL, tokens it verified before (and
cached) included. Real identity and gateway containers over real RPC and HTTP."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.service import GatewayService
from services.identity.service import IdentityService
from tests.e2e.conftest import eventually
from tests.interface.test_gateway_service import provided
from tests.support import unique_prefix


def test_a_key_removed_from_identitys_key_set_stops_verifying(
    start_container, web_base_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GATEWAY_REFRESH_INTERVAL", "1")
    monkeypatch.setenv("IDENTITY_KEYS_DIR", str(tmp_path / "keys-before"))
    identity = start_container(IdentityService)
    start_container(GatewayService)
    app = provided(identity, "app")
    email, password = f"{unique_prefix()}@example.org", "Schluesselbund-" + secrets.token_hex(6)
    token = next(m.params["token"] for m in app.register(email, password, kind="citizen").mails)
    app.verify_email(token)

    def login() -> httpx.Client:
        response = httpx.post(f"{web_base_url}/api/v1/auth/login", json={"email": email, "password": password}, timeout=30)
        assert response.status_code == 200, response.text
        return httpx.Client(base_url=web_base_url, timeout=30,
                            headers={"Authorization": f"Bearer {response.json()['access_token']}"})

    with login() as old:
        assert old.get("/api/v1/me").status_code == 200  # verified, and remembered by the gateway

        # key rotation: identity restarts with a new key directory; the old key is gone from its set
        identity.stop()
        monkeypatch.setenv("IDENTITY_KEYS_DIR", str(tmp_path / "keys-after"))
        start_container(IdentityService)

        def refused() -> Any:
            response = old.get("/api/v1/me")
            return response.status_code == 401 and response.json()["code"] == "invalid_token"

        eventually(refused, timeout=30)
        with login() as new:
            assert new.get("/api/v1/me").status_code == 200
