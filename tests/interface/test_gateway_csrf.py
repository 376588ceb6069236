"""Cross-site request forgery, against the gateway alone over real HTTP: every state-changing
route (enumerated from ``ROUTE_MAP``, so a new route cannot escape) refuses a request that
carries our login cookies from a foreign origin, from a cross-site fetch, or without a JSON
content type; nothing reaches a neighbour. Login refuses foreign origins too (login CSRF).
API clients with a bearer token and no cookies keep working, bodiless actions included."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from services.gateway.auth import ACCESS_COOKIE, REFRESH_COOKIE
from services.gateway.service import ROUTE_MAP
from tests.interface import test_gateway_service
from tests.interface.conftest import VECHTA
from tests.interface.test_gateway_service import Neighbours, is_problem

alone = test_gateway_service.alone  # the fixture: the gateway alone, its neighbours replaced

STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")
SAMPLES = {"ags": VECHTA, "case_id": str(uuid.uuid4()), "action": "start-review", "service_id": "hundeanmeldung",
           "account_id": str(uuid.uuid4()), "request_id": str(uuid.uuid4()), "item_id": str(uuid.uuid4()),
           "draft_id": str(uuid.uuid4()), "attachment_id": str(uuid.uuid4()), "rule_id": str(uuid.uuid4()),
           "client_id": str(uuid.uuid4())}
FOREIGN = "https://boese.example"


def state_changing_routes() -> list[tuple[str, str]]:
    """(method, concrete path) of every state-changing route of the gateway."""
    routes = []
    for rule in ROUTE_MAP.iter_rules():
        methods = sorted(set(rule.methods or ()) & set(STATE_CHANGING))
        if methods:  # a new path parameter needs a sample value
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLES[m.group(1)], rule.rule)
            routes += [(method, path) for method in methods]
    return sorted(routes)


ROUTES = state_changing_routes()


def test_the_enumeration_finds_the_routes() -> None:
    paths = {path for _, path in ROUTES}
    assert len(ROUTES) >= 20, ROUTES
    assert {"/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/me", f"/api/v1/tenants/{VECHTA}/cases"} <= paths


def browser(alone: Neighbours, token: str) -> dict[str, str]:
    """Both login cookies, as a logged-in browser sends them."""
    return {ACCESS_COOKIE: token, REFRESH_COOKIE: f"{uuid.uuid4().hex}.geheim"}


def untouched(alone: Neighbours) -> None:
    """Nothing was asked of any neighbour (the key set and revocations aside)."""
    calls = [c for c in alone.identity.mock_calls if c[0] not in ("jwks", "recent_revocations")]
    assert calls == [] and alone.submissions.mock_calls == [] and alone.catalog.mock_calls == [], calls
    assert alone.submit.mock_calls == []


@pytest.mark.parametrize("headers", [
    {"Origin": FOREIGN},
    {"Origin": "null"},  # sandboxed frames, data: URLs
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": FOREIGN, "Sec-Fetch-Site": "cross-site"},
], ids=["foreign-origin", "null-origin", "cross-site-fetch", "both"])
def test_cookie_requests_from_another_site_are_refused_on_every_route(alone: Neighbours, headers: dict[str, str]) -> None:
    cookies = browser(alone, alone.issuer.token("tenant_admin", [(VECHTA, "tenant_admin", ["*"])]))
    for method, path in ROUTES:
        response = httpx.request(method, alone.base_url + path, json={}, cookies=cookies, headers=headers, timeout=10)
        problem = is_problem(response, 403, "cross_site_request")
        assert problem["instance"] == path, (method, path)
    untouched(alone)


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x"])
def test_cookie_requests_without_json_are_refused_on_every_route(alone: Neighbours, content_type: str | None) -> None:
    """What a cross-site form or a ``no-cors`` fetch can send; bodiless actions included."""
    cookies = browser(alone, alone.issuer.token("citizen"))
    headers = {"Content-Type": content_type} if content_type else {}
    body = b"" if content_type is None else b"a=b"
    for method, path in ROUTES:
        response = httpx.request(method, alone.base_url + path, content=body, cookies=cookies, headers=headers, timeout=10)
        is_problem(response, 415, "unsupported_media_type")
    untouched(alone)


def test_login_from_another_site_is_refused_even_without_cookies(alone: Neighbours) -> None:
    """Login CSRF: a foreign page must not log the browser into the attacker's account."""
    login = alone.base_url + "/api/v1/auth/login"
    body = {"email": "angreifer@example.org", "password": "Angreifer-Passwort-1"}
    for headers in ({"Origin": FOREIGN}, {"Sec-Fetch-Site": "cross-site"}):
        is_problem(httpx.post(login, json=body, headers=headers, timeout=10), 403, "cross_site_request")
    is_problem(httpx.post(login, content=b"email=a", headers={"Content-Type": "text/plain"}, timeout=10),
               415, "unsupported_media_type")
    untouched(alone)


def eid_started(alone: Neighbours, **kwargs: Any) -> httpx.Response:
    alone.identity.start_eid_verification.return_value = {"redirect_url": "/dev/eid-simulator?state=s"}
    return httpx.post(alone.base_url + "/api/v1/me/eid/start", timeout=10, **kwargs)


def test_our_own_pages_and_bearer_clients_pass(alone: Neighbours) -> None:
    token = alone.issuer.token("citizen", subject="acc-erika")
    # an API client: bearer token, no cookies, no body, no content type
    response = eid_started(alone, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    # a browser on our own origins (PUBLIC_BASE_URL, ALLOWED_ORIGINS), with JSON
    for headers in ({"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"},
                    {"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-site"},
                    {"Sec-Fetch-Site": "none"},  # typed by the user
                    {}):  # an older browser or a script: neither header
        response = eid_started(alone, cookies={ACCESS_COOKIE: token}, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 200, (headers, response.text)
    assert [c.args[0] for c in alone.identity.start_eid_verification.call_args_list] == ["acc-erika"] * 5
    # reading stays open to links from anywhere
    alone.catalog.list_tenants.return_value = []
    assert httpx.get(alone.base_url + "/api/v1/tenants", headers={"Origin": FOREIGN, "Sec-Fetch-Site": "cross-site"},
                     cookies={ACCESS_COOKIE: token}, timeout=10).status_code == 200
