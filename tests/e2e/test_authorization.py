"""Authorisation end to end: every gateway route as every kind of caller, forged and revoked
tokens, and password guessing — all over HTTP against the real platform.

The expected outcomes are the table in ``tests/e2e/authz_matrix.py``. This module knows
how to send each row's request (``RECIPES``) and judges the answer. A gateway route
without a row fails the run (``test_every_gateway_route_is_in_the_matrix``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import random
import re
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from services.common.config import IdentitySettings
from services.identity.keys import KeySet, SigningKey, generate_private_key
from services.identity.tokens import TokenService
from tests.e2e import authz_matrix as m
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import eventually, own_platform
from tests.examples import form
from tests.support import Platform

with warnings.catch_warnings():  # importing nameko imports eventlet, which warns that it is deprecated
    warnings.simplefilter("ignore")
    from nameko.web.handlers import HttpRequestHandler

    from services.gateway.auth import ACCESS_COOKIE, REFRESH_COOKIE
    from services.gateway.service import CATCH_ALL, GatewayService

LOGIN = "/api/v1/auth/login"
PASSWORD = "Kirschbaum-am-Markt-7"
MIN_ROUTES = 100  # (method, URL) pairs when this matrix was last extended; fewer means introspection broke


# -- the routes ---------------------------------------------------------------------------------
def gateway_routes() -> set[tuple[str, str]]:
    """(method, URL rule) of every @http entrypoint of GatewayService but the catch-all —
    found the way services.gateway.service.route_map finds them."""
    routes = set()
    for _, function in inspect.getmembers(GatewayService, inspect.isfunction):
        for entrypoint in getattr(function, "nameko_entrypoints", ()):
            if isinstance(entrypoint, HttpRequestHandler) and entrypoint.url != CATCH_ALL:
                routes.update((method.strip().upper(), entrypoint.url) for method in entrypoint.method.split(","))
    return routes


def assert_the_matrix_covers_every_route() -> set[tuple[str, str]]:
    routes = gateway_routes()
    assert len(routes) >= MIN_ROUTES, f"introspection found only {len(routes)} routes: {sorted(routes)}"
    covered = {(row.method, row.url) for row in m.MATRIX}
    missing = sorted(routes - covered)
    assert not missing, f"gateway routes without a row in tests/e2e/authz_matrix.py: {missing}"
    stale = sorted(covered - routes)
    assert not stale, f"rows in tests/e2e/authz_matrix.py for routes that do not exist: {stale}"
    for row in m.MATRIX:
        assert set(row.expect) == set(m.PRINCIPALS), f"{row.variant}: every principal needs an outcome"
    variants = [row.variant for row in m.MATRIX]
    assert len(variants) == len(set(variants)), "variant names must be unique"
    assert set(variants) == set(RECIPES), f"rows and recipes differ: {set(variants) ^ set(RECIPES)}"
    return routes


def test_every_gateway_route_is_in_the_matrix() -> None:
    assert_the_matrix_covers_every_route()


# -- a platform of this module's own ----------------------------------------------------------------
# The matrix changes Vechta's profile and offerings and adds ~100 cases to its worklist, and the
# guessing tests leave throttles behind — no other module should meet them. Both matrices register
# from one address; the worlds' logins must outlive both matrices and the tests after them (over ten
# minutes on a busy machine): access tokens live 30 minutes here.
platform_env, running, accounts = own_platform(
    "module", "vr_authz", IDENTITY_MAIL_FREE_PER_IP="1000", IDENTITY_ACCESS_TOKEN_TTL="1800")


# -- the world: principals, a case, helpers -------------------------------------------------------
@dataclass
class Actor:
    name: str
    account: Account | None
    http: httpx.Client


def submit(http: httpx.Client, ags: str = m.VECHTA, service_id: str = m.CASE_SERVICE, **body: Any) -> httpx.Response:
    payload = {"service_id": service_id, "form_data": form(service_id), **body}
    return http.post(f"/api/v1/tenants/{ags}/cases", json=payload, headers={"Idempotency-Key": uuid.uuid4().hex})


PDF = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def upload(http: httpx.Client, content: bytes = PDF, media_type: str = "application/pdf") -> httpx.Response:
    return http.post("/api/v1/attachments", content=content,
                     headers={"Content-Type": media_type, "X-Filename": "Ausweis%20Kopie.pdf"})


def problem_code(response: httpx.Response) -> str | None:
    if response.headers.get("Content-Type", "").startswith("application/problem+json"):
        return response.json().get("code")
    return None


# the transitions (by a set-up clerk) that bring a new case into the status an action needs
CASE_PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "submitted": [],
    "payment_pending": [("request-payment", {"amount_cents": 1500})],
    "in_review": [("start-review", {"clerk": "Frau Meyer"})],
    "information_requested": [
        ("start-review", {"clerk": "Frau Meyer"}),
        ("request-information", {"question": "Bitte Impfpass nachreichen.", "due_date": "2027-12-31"}),
    ],
}
# action -> (status it needs, payload, status after it; None = not a transition)
ACTION_PLAN: dict[str, tuple[str, dict[str, Any], str | None]] = {
    "withdraw": ("submitted", {"reason": "Umzug"}, "withdrawn"),
    "supply-information": ("information_requested", {"answer": "Impfpass ist hochgeladen."}, "in_review"),
    "start-review": ("submitted", {"clerk": "Frau Meyer"}, "in_review"),
    "request-information": ("in_review", {"question": "Bitte Impfpass nachreichen.", "due_date": "2027-12-31"}, "information_requested"),
    "request-payment": ("submitted", {"amount_cents": 1500}, "payment_pending"),
    "approve": ("in_review", {"decision": "Die Hundesteuermarke wird zugesandt."}, "approved"),
    "reject": ("in_review", {"reason": "Unterlagen unvollständig."}, "rejected"),
    "reassign": ("submitted", {"clerk": "Herr Schulte"}, "submitted"),
    "record-payment": ("payment_pending", {"amount_cents": 1500, "payment_ref": "PAY-4711"}, "paid"),
    "reverse-automatic-decision": ("submitted", {}, None),
    "fly": ("submitted", {}, None),
}


MODES = ("bearer", "cookie")  # how the matrix's callers prove who they are


class World:
    """Every principal of the matrix as a real account logged in over HTTP, citizen A's
    Hundeanmeldung in Vechta and Sperrmüll collection asked for on Bakum's portal (the
    Landkreis is responsible), the roles asked for but never approved (``m.PENDING``), and
    fresh copies wherever a request changes state.

    ``mode`` is how every caller authenticates: ``bearer`` (the access token in the
    Authorization header, as API clients do) or ``cookie`` (the cookies a login sets, with
    ``Content-Type: application/json`` and the gateway's own ``Origin``, as its web pages do)."""

    def __init__(self, running: Platform, accounts: Accounts, mode: str = "bearer") -> None:
        assert mode in MODES, mode
        self.running, self.accounts, self.mode = running, accounts, mode
        self.clients: list[httpx.Client] = []
        self.anonymous = self.client()
        self.actors = {name: self.new_actor(name) for name in m.PRINCIPALS}
        self.setup = self.new_actor(m.CLERK)  # moves fresh cases along; never under test itself
        self.other_admin = self.new_actor(m.ADMIN)  # the second person of four-eyes; never under test itself
        self.login_target = accounts.citizen()  # logs in on the public login/refresh rows
        self.grant_target = accounts.staff([(m.VECHTA, "clerk", ["*"])])  # of the grant rows
        for name, (requester, grants) in m.PENDING.items():
            for tenant, role, keys in grants:
                asked = self.http(requester).post(grants_url(tenant, self.account(name).account_id),
                                                  json={"role": role, "service_keys": keys})
                assert asked.status_code == 202, asked.text
        self.case_id = self.new_case()
        self.district_case_id = self.new_district_case()
        self.draft_id = self.new_draft({"dog_name": "Bello"})
        self.attachment_id, self.attachment_case_id = self.new_attachment_case()
        themenfeld = self.anonymous.get("/api/v1/themenfelder").json()["items"][0]["id"]
        lebenslage = self.anonymous.get(f"/api/v1/themenfelder/{themenfeld}/lebenslagen").json()["items"][0]["id"]
        self.ids = {
            "ags": m.VECHTA, "service_id": m.CASE_SERVICE, "case_id": self.case_id,
            "themenfeld_id": themenfeld, "lebenslage_id": lebenslage, "ozg_id": "10160",
        }
        clerk, district = self.actors[m.CLERK].http, self.actors[m.DISTRICT_CLERK].http
        eventually(lambda: self.case_id in worklist_ids(clerk), timeout=30)  # the projection caught up
        eventually(lambda: self.district_case_id in worklist_ids(district, m.LK_VECHTA), timeout=30)

    def client(self, credentials: dict[str, str] | None = None) -> httpx.Client:
        """A client that keeps no cookies it is sent: who calls is decided by ``credentials``
        alone (a login answer's cookie would otherwise log the anonymous client in)."""
        headers = dict(credentials or {})
        if self.mode == "cookie":
            headers.update({"Origin": self.running.base_url, "Content-Type": "application/json"})
        http = httpx.Client(base_url=self.running.base_url, timeout=30, headers=headers,
                            event_hooks={"response": [lambda _: http.cookies.clear()]})
        self.clients.append(http)
        return http

    def credentials(self, account: Account) -> dict[str, str]:
        """The headers that make a request ``account``'s: its bearer token, or the cookies a
        new login sets."""
        return dict(account.headers) if self.mode == "bearer" else self.login_credentials(account)

    def login_credentials(self, account: Account) -> dict[str, str]:
        """The headers of a new login of ``account`` (its token carries the current grants)."""
        response = self.anonymous.post(LOGIN, json={"email": account.email, "password": account.password})
        assert response.status_code == 200, response.text
        if self.mode == "bearer":
            return self.session_credentials(response.json()["access_token"], response.json()["refresh_token"])
        return self.session_credentials(response.cookies[ACCESS_COOKIE], response.cookies[REFRESH_COOKIE])

    def session_credentials(self, access_token: str, refresh_token: str) -> dict[str, str]:
        if self.mode == "bearer":
            return {"Authorization": f"Bearer {access_token}"}
        return {"Cookie": f"{ACCESS_COOKIE}={access_token}; {REFRESH_COOKIE}={refresh_token}"}

    def new_actor(self, name: str) -> Actor:
        """A new account with the kind and grants of principal ``name``, logged in."""
        spec = m.PRINCIPALS[name]
        if spec is None:
            return Actor(name, None, self.client())
        kind, grants = spec
        if kind in ("citizen", "organisation"):
            account = self.accounts.citizen(kind)
        else:
            account = self.accounts.staff(grants, kind=kind)
        return Actor(name, account, self.client(self.credentials(account)))

    def http(self, who: str) -> httpx.Client:
        return self.actors[who].http

    def account(self, who: str) -> Account:
        account = self.actors[who].account
        assert account is not None
        return account

    def tokens(self, account: Account) -> dict[str, Any]:
        """A new session of ``account`` (access and refresh token)."""
        response = self.anonymous.post(LOGIN, json={"email": account.email, "password": account.password})
        assert response.status_code == 200, response.text
        return response.json()

    def new_case(self, status: str = "submitted") -> str:
        """A new Hundeanmeldung of citizen A in Vechta, moved to ``status`` by a clerk."""
        response = submit(self.http(m.CIT_A))
        assert response.status_code == 201, response.text
        case_id = response.json()["case_id"]
        for action, payload in CASE_PATHS[status]:
            moved = self.setup.http.post(f"/api/v1/cases/{case_id}/actions/{action}", json=payload)
            assert moved.status_code == 200, moved.text
        return case_id

    def new_district_case(self) -> str:
        """A new Sperrmüll collection of citizen A, asked for on Bakum's portal: Landkreis Vechta's case."""
        response = submit(self.http(m.CIT_A), m.BAKUM, m.DISTRICT_SERVICE)
        assert response.status_code == 201, response.text
        case = response.json()
        assert (case["portal"], case["tenant"]) == (m.BAKUM, m.LK_VECHTA), case
        return case["case_id"]

    def new_draft(self, form_data: dict[str, Any]) -> str:
        """A new draft of citizen A's (a Hundeanmeldung in Vechta)."""
        response = self.http(m.CIT_A).post(f"/api/v1/tenants/{m.VECHTA}/drafts",
                                           json={"service_id": m.CASE_SERVICE, "form_data": form_data})
        assert response.status_code == 201, response.text
        return response.json()["draft_id"]

    def new_attachment_case(self) -> tuple[str, str]:
        """Citizen A uploads a PDF; a Vechta clerk submits her Gewerbeanmeldung referring to it."""
        uploaded = upload(self.http(m.CIT_A))
        assert uploaded.status_code == 201, uploaded.text
        attachment_id = uploaded.json()["attachment_id"]
        response = submit(self.setup.http, m.VECHTA, "gewerbeanmeldung", on_behalf_of=self.account(m.CIT_A).account_id,
                          form_data=form("gewerbeanmeldung", ausweiskopie={"attachment_id": attachment_id}))
        assert response.status_code == 201, response.text
        return attachment_id, response.json()["case_id"]

    def close(self) -> None:
        for http in self.clients:
            http.close()


@pytest.fixture(scope="module")
def worlds(running: Platform, accounts: Accounts) -> Iterator[Callable[[str], World]]:
    """The world of each mode, made when first asked for (tokens live 10 minutes)."""
    made: dict[str, World] = {}

    def world_of(mode: str) -> World:
        if mode not in made:
            made[mode] = World(running, accounts, mode)
        return made[mode]

    yield world_of
    for each in made.values():
        each.close()


@pytest.fixture(scope="module")
def world(worlds: Callable[[str], World]) -> World:
    return worlds("bearer")


def grants_url(tenant: str, account_id: str, tail: str = "") -> str:
    return m.GRANTS.replace("<ags>", tenant).replace("<account_id>", account_id) + tail


def worklist_ids(http: httpx.Client, ags: str = m.VECHTA, **params: Any) -> list[str]:
    return [item["case_id"] for item in worklist_items(http, ags, **params)]


def worklist_items(http: httpx.Client, ags: str = m.VECHTA, **params: Any) -> list[dict[str, Any]]:
    """Every item of the tenant's worklist for this caller, all pages."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 500, **params}
    for _ in range(50):
        response = http.get(f"/api/v1/tenants/{ags}/worklist", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        if not page.get("next_cursor"):
            return items
        query["cursor"] = page["next_cursor"]
    raise AssertionError("worklist paging did not end")


# -- how to send each row's request ------------------------------------------------------------------
Check = Callable[[httpx.Response], "str | None"]


@dataclass
class Call:
    response: httpx.Response
    case_id: str | None = None  # the case the request was about (for the existence-leak check)
    resend: Callable[[str], httpx.Response] | None = None  # the same request for another case id
    check: Check | None = None  # more to verify when the outcome is "allowed"; returns a problem


Recipe = Callable[[World, str], Call]
RECIPES: dict[str, Recipe] = {}


def recipe(variant: str) -> Callable[[Recipe], Recipe]:
    def register(function: Recipe) -> Recipe:
        RECIPES[variant] = function
        return function

    return register


def simple(variant: str, method: str, path: str, params: dict[str, Any] | None = None,
           body: dict[str, Any] | None = None, check: Check | None = None) -> None:
    def send(w: World, who: str) -> Call:
        response = w.http(who).request(method, path.format(**w.ids), params=params, json=body)
        return Call(response, check=check)

    RECIPES[variant] = send


def expect_json(key: str) -> Check:
    return lambda r: None if key in r.json() else f"no {key!r} in {r.text[:200]}"


def fresh_email(prefix: str = "authz") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.org"


simple("payment_webhook", "POST", "/api/v1/payments/webhooks/psp", body={"id": "evt_1", "type": "payment.succeeded"})
simple("list_payments", "GET", "/api/v1/tenants/{ags}/payments", check=expect_json("items"))
simple("payments_reconciliation", "GET", "/api/v1/tenants/{ags}/payments/reconciliation", params={"day": "2026-01-05"})
simple("payments_export", "GET", "/api/v1/tenants/{ags}/payments/export", params={"from": "2026-01-05"})
simple("kpis", "GET", "/api/v1/tenants/{ags}/kpis", check=expect_json("services"))
simple("kpis:other_tenant", "GET", f"/api/v1/tenants/{m.LOHNE}/kpis", check=expect_json("services"))
simple("kpis_all", "GET", "/api/v1/kpis", check=expect_json("services"))
simple("kpis_csv", "GET", "/api/v1/tenants/{ags}/kpis.csv",
       check=lambda r: None if r.text.startswith("date,tenant,service_id") else f"no CSV: {r.text[:200]}")
simple("preferences:get", "GET", "/api/v1/me/preferences", check=expect_json("email"))
simple("preferences:put", "PUT", "/api/v1/me/preferences", body={"language": "de"}, check=expect_json("email"))
simple("health_live", "GET", "/health/live")
simple("health_ready", "GET", "/health/ready")
simple("list_tenants", "GET", "/api/v1/tenants", check=expect_json("items"))
simple("get_tenant", "GET", "/api/v1/tenants/{ags}")
simple("list_services", "GET", "/api/v1/services", check=expect_json("items"))
simple("get_service", "GET", "/api/v1/services/{service_id}")
simple("search_services", "GET", "/api/v1/tenants/{ags}/services", params={"q": "Hund anmelden"}, check=expect_json("items"))
simple("search_all", "GET", "/api/v1/search", params={"q": "dog tax", "lang": "en"}, check=expect_json("items"))
simple("get_offering", "GET", "/api/v1/tenants/{ags}/offerings/{service_id}")
simple("themenfelder", "GET", "/api/v1/themenfelder")
simple("council_overview", "GET", "/api/v1/tenants/{ags}/council", check=expect_json("sync"))
simple("council_meetings", "GET", "/api/v1/tenants/{ags}/council/meetings", check=expect_json("items"))
simple("council_meeting", "GET", "/api/v1/tenants/{ags}/council/meetings/" + "0" * 20)
simple("council_paper", "GET", "/api/v1/tenants/{ags}/council/papers/" + "0" * 20)
simple("council_search", "GET", "/api/v1/tenants/{ags}/council/search", params={"q": "Rat"}, check=expect_json("items"))
simple("lebenslagen", "GET", "/api/v1/themenfelder/{themenfeld_id}/lebenslagen")
simple("leistungen", "GET", "/api/v1/lebenslagen/{lebenslage_id}/leistungen")
simple("leistung", "GET", "/api/v1/leistungen/{ozg_id}")
simple("eid_simulator", "GET", "/dev/eid-simulator", params={"state": "abc"})
simple("verify_email:post", "POST", "/api/v1/auth/verify-email", body={"token": "ungueltig"})
simple("reset_password", "POST", "/api/v1/auth/password-reset/confirm", body={"token": "ungueltig", "password": PASSWORD})
simple("confirm_email_change:post", "POST", "/api/v1/auth/change-email/confirm", body={"token": "ungueltig"})
simple("account_page", "GET", "/account/verify-email")
simple("eid_start", "POST", "/api/v1/me/eid/start", check=expect_json("redirect_url"))
simple("eid_complete", "POST", "/api/v1/me/eid/complete", body={})


@recipe("register")
def _register(w: World, who: str) -> Call:
    return Call(w.http(who).post("/api/v1/auth/register", json={"email": fresh_email(), "password": PASSWORD}))


@recipe("resend_verification")
def _resend(w: World, who: str) -> Call:
    return Call(w.http(who).post("/api/v1/auth/verify-email/resend", json={"email": fresh_email()}))


@recipe("request_password_reset")
def _password_reset(w: World, who: str) -> Call:
    return Call(w.http(who).post("/api/v1/auth/password-reset", json={"email": fresh_email()}))


@recipe("login")
def _login(w: World, who: str) -> Call:
    target = w.login_target
    response = w.http(who).post(LOGIN, json={"email": target.email, "password": target.password})
    return Call(response, check=expect_json("access_token"))


@recipe("refresh")
def _refresh(w: World, who: str) -> Call:
    refresh_token = w.tokens(w.login_target)["refresh_token"]
    if w.mode == "cookie":  # a browser sends the refresh cookie (replacing the caller's own cookies here)
        response = w.http(who).post("/api/v1/auth/refresh", headers={"Cookie": f"{REFRESH_COOKIE}={refresh_token}"})
    else:
        response = w.http(who).post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
    return Call(response, check=expect_json("access_token"))


def _own(w: World, who: str, attribute: str, default: str) -> str:
    account = w.actors[who].account
    return getattr(account, attribute) if account else default


@recipe("me:get")
def _me(w: World, who: str) -> Call:
    mine = _own(w, who, "account_id", "")
    return Call(w.http(who).get("/api/v1/me"),
                check=lambda r: None if r.json()["account_id"] == mine else f"someone else's account: {r.text[:200]}")


@recipe("export_my_data")
def _export(w: World, who: str) -> Call:
    def check(response: httpx.Response) -> str | None:
        if response.json()["account"].get("account_id", _own(w, who, "account_id", "")) != _own(w, who, "account_id", ""):
            return "the export is of another account"
        has_case = w.case_id in response.text
        if has_case != (who == m.CIT_A):
            return f"citizen A's case {'in' if has_case else 'missing from'} the export"
        return None

    return Call(w.http(who).get("/api/v1/me/export"), check=check)


@recipe("change_password")
def _change_password(w: World, who: str) -> Call:
    body = {"current_password": _own(w, who, "password", PASSWORD), "new_password": "kurz"}
    return Call(w.http(who).post("/api/v1/me/password", json=body))


@recipe("change_email")
def _change_email(w: World, who: str) -> Call:
    body = {"new_email": _own(w, who, "email", fresh_email()), "password": _own(w, who, "password", PASSWORD)}
    return Call(w.http(who).post("/api/v1/me/email", json=body))


@recipe("my_cases")
def _my_cases(w: World, who: str) -> Call:
    def check(response: httpx.Response) -> str | None:
        ids = {case["case_id"] for case in response.json()["items"]}
        for case_id in (w.case_id, w.district_case_id):
            if (case_id in ids) != (who == m.CIT_A):
                return f"citizen A's case {case_id} {'in' if case_id in ids else 'missing from'} the list"
        return None

    return Call(w.http(who).get("/api/v1/me/cases"), check=check)


@recipe("submit:self")
def _submit_self(w: World, who: str) -> Call:
    return Call(submit(w.http(who)), check=lambda r: None if r.json()["tenant"] == m.VECHTA else r.text[:200])


@recipe("submit:on_behalf_of_citizen_a")
def _submit_for(w: World, who: str) -> Call:
    citizen_a = w.account(m.CIT_A).account_id
    return Call(submit(w.http(who), on_behalf_of=citizen_a))


def _case_call(w: World, who: str, method: str, path: str, case_id: str,
               body: dict[str, Any] | None = None, check: Check | None = None, placeholder: str = "<case_id>") -> Call:
    """The request about ``case_id`` (or another resource named by ``placeholder``), and how
    to send it again for another id (the existence-leak check)."""
    http = w.http(who)

    def send(target: str) -> httpx.Response:
        return http.request(method, path.replace(placeholder, target), json=body)

    return Call(send(case_id), case_id, send, check)


@recipe("get_case")
def _get_case(w: World, who: str) -> Call:
    return _case_call(w, who, "GET", m.CASE, w.case_id,
                      check=lambda r: None if r.json()["case_id"] == w.case_id else r.text[:200])


@recipe("get_case:portal_differs")
def _get_district_case(w: World, who: str) -> Call:
    def check(response: httpx.Response) -> str | None:
        body = response.json()
        if (body["case_id"], body["tenant"], body["portal"]) != (w.district_case_id, m.LK_VECHTA, m.BAKUM):
            return f"not the district's case: {response.text[:200]}"
        return None

    return _case_call(w, who, "GET", m.CASE, w.district_case_id, check=check)


def _audit_of(case_id: Callable[[World], str]) -> Recipe:
    def send(w: World, who: str) -> Call:
        def check(response: httpx.Response) -> str | None:
            body = response.json()
            if body["case_id"] != case_id(w) or not body["items"]:
                return f"not the case's audit trail: {response.text[:200]}"
            if "form_data" in response.text or "dog_name" in response.text:
                return "the audit trail carries case contents"
            return None

        return _case_call(w, who, "GET", m.AUDIT, case_id(w), check=check)

    return send


def _draft_call(w: World, who: str, method: str, path: str, draft_id: str,
                body: dict[str, Any] | None = None, check: Check | None = None) -> Call:
    return _case_call(w, who, method, path, draft_id, body, check, placeholder="<draft_id>")


@recipe("start_draft")
def _start_draft(w: World, who: str) -> Call:
    response = w.http(who).post(f"/api/v1/tenants/{m.VECHTA}/drafts", json={"service_id": m.CASE_SERVICE, "page": 1})
    return Call(response, check=lambda r: None if r.json()["form_version"] >= 1 else r.text[:200])


@recipe("my_drafts")
def _my_drafts(w: World, who: str) -> Call:
    def check(response: httpx.Response) -> str | None:
        ids = {draft["draft_id"] for draft in response.json()["items"]}
        if (w.draft_id in ids) != (who == m.CIT_A):
            return f"citizen A's draft {'in' if w.draft_id in ids else 'missing from'} the list"
        return None

    return Call(w.http(who).get("/api/v1/me/drafts"), check=check)


RECIPES["draft:get"] = lambda w, who: _draft_call(
    w, who, "GET", m.DRAFT, w.draft_id, check=lambda r: None if r.json()["form_data"] == {"dog_name": "Bello"} else r.text[:200])
RECIPES["draft:put"] = lambda w, who: _draft_call(
    w, who, "PUT", m.DRAFT, w.draft_id, {"form_data": {"dog_name": "Bello"}, "page": "dog"})
RECIPES["draft:delete"] = lambda w, who: _draft_call(w, who, "DELETE", m.DRAFT, w.new_draft({}))
RECIPES["submit_draft"] = lambda w, who: _draft_call(
    w, who, "POST", f"{m.DRAFT}/submit", w.new_draft(form(m.CASE_SERVICE)),
    check=lambda r: None if r.json()["reference"].startswith("VEC-") else r.text[:200])
RECIPES["my_profile:get"] = lambda w, who: Call(w.http(who).get("/api/v1/me/profile"), check=expect_json("postal_code"))
RECIPES["my_profile:put"] = lambda w, who: Call(w.http(who).put("/api/v1/me/profile", json={
    "given_name": "Erika", "family_name": "Mustermann", "street": "Große Straße", "house_number": "1",
    "postal_code": "49377", "city": "Vechta"}), check=lambda r: None if r.json()["city"] == "Vechta" else r.text[:200])
RECIPES["upload_attachment"] = lambda w, who: Call(upload(w.http(who)), check=expect_json("sha256"))
RECIPES["case_attachment"] = lambda w, who: _case_call(
    w, who, "GET", m.CASE_ATTACHMENT.replace("<attachment_id>", w.attachment_id), w.attachment_case_id,
    check=lambda r: None if r.content == PDF and r.headers["Content-Type"] == "application/pdf" else r.text[:200])
RECIPES["get_payment"] = lambda w, who: _case_call(w, who, "GET", m.PAYMENT, w.case_id)
RECIPES["start_payment"] = lambda w, who: _case_call(w, who, "POST", m.PAYMENT, w.case_id, {})
RECIPES["refund_payment"] = lambda w, who: _case_call(w, who, "POST", m.REFUND, w.case_id, {"reason": "Prüfung"})
RECIPES["case_audit"] = _audit_of(lambda w: w.case_id)
RECIPES["case_messages"] = lambda w, who: _case_call(w, who, "GET", m.MESSAGES, w.case_id, check=expect_json("items"))
RECIPES["case_audit:portal_differs"] = _audit_of(lambda w: w.district_case_id)


def _decided(w: World) -> dict[str, str]:
    """Citizen A's approved Hundeanmeldung, once per world, and what it left: the decision's
    message in A's postbox, its letter (attachment) and the case's document."""
    found = getattr(w, "decided", None)
    if found is None:
        case_id = w.new_case("in_review")
        approved = w.setup.http.post(f"/api/v1/cases/{case_id}/actions/approve", json={"decision": "Marke folgt."})
        assert approved.status_code == 200, approved.text

        def letter() -> dict[str, Any] | None:
            items = w.http(m.CIT_A).get(m.POSTBOX).json()["items"]
            return next((i for i in items if i["case_id"] == case_id and i["attachments"]), None)

        item = eventually(letter, timeout=60)
        found = {"case_id": case_id, "item_id": item["item_id"], "attachment_id": item["attachments"][0]["attachment_id"]}
        w.decided = found  # type: ignore[attr-defined]
    return found


def _postbox_call(w: World, who: str, method: str, tail: str = "", body: dict[str, Any] | None = None) -> Call:
    decided, http = _decided(w), w.http(who)
    tail = tail.replace("<attachment_id>", decided["attachment_id"])

    def send(target: str) -> httpx.Response:
        return http.request(method, f"{m.POSTBOX}/{target}{tail}", json=body)

    return Call(send(decided["item_id"]), decided["item_id"], send)


def _is_pdf(response: httpx.Response) -> str | None:
    ok_pdf = response.headers.get("Content-Type") == "application/pdf" and response.content.startswith(b"%PDF-")
    return None if ok_pdf else f"not a PDF: {response.headers.get('Content-Type')}"


RECIPES["postbox"] = lambda w, who: Call(w.http(who).get(m.POSTBOX), check=expect_json("items"))
RECIPES["postbox_item"] = lambda w, who: _postbox_call(w, who, "GET")
RECIPES["mark_postbox_item"] = lambda w, who: _postbox_call(w, who, "POST", "/read", {"read": True})


@recipe("postbox_attachment")
def _postbox_attachment(w: World, who: str) -> Call:
    call = _postbox_call(w, who, "GET", "/attachments/<attachment_id>")
    call.check = _is_pdf
    return call


RECIPES["case_documents"] = lambda w, who: _case_call(w, who, "GET", m.DOCUMENTS, _decided(w)["case_id"],
                                                      check=lambda r: None if r.json()["items"] else "no document")


@recipe("case_document")
def _case_document(w: World, who: str) -> Call:
    decided = _decided(w)
    path = f"{m.DOCUMENTS}/{decided['attachment_id']}"
    return _case_call(w, who, "GET", path, decided["case_id"], check=_is_pdf)


def _action(action: str) -> Recipe:
    def send(w: World, who: str) -> Call:
        needs, payload, after = ACTION_PLAN[action]
        case_id = w.new_case(needs)  # a case of its own: the action may change it

        def check(response: httpx.Response) -> str | None:
            status = response.json().get("status")
            return None if after is None or status == after else f"status {status!r}, expected {after!r}"

        return _case_call(w, who, "POST", m.ACTION.replace("<action>", action), case_id, payload, check)

    return send


for _name in m.ACTION_RULES:
    RECIPES[f"action:{_name}"] = _action(_name)


@recipe("action:start-review:portal_differs")
def _review_district_case(w: World, who: str) -> Call:
    case_id = w.new_district_case()  # a case of its own: the action changes it
    return _case_call(w, who, "POST", m.ACTION.replace("<action>", "start-review"), case_id, {"clerk": "Herr Kreis"},
                      check=lambda r: None if r.json().get("status") == "in_review" else r.text[:200])


def _district_worklist(variant: str, ags: str, holds_the_case: bool) -> None:
    def send(w: World, who: str) -> Call:
        http = w.http(who)

        def check(response: httpx.Response) -> str | None:
            seen = w.district_case_id in worklist_ids(http, ags, state="all")
            return None if seen == holds_the_case else f"the district's case {'in' if seen else 'missing from'} {ags}'s worklist"

        return Call(http.get(f"/api/v1/tenants/{ags}/worklist", params={"limit": 50}), check=check)

    RECIPES[variant] = send


_district_worklist("worklist:portal", m.BAKUM, holds_the_case=False)
_district_worklist("worklist:responsible", m.LK_VECHTA, holds_the_case=True)


@recipe("worklist")
def _worklist(w: World, who: str) -> Call:
    http = w.http(who)

    def check(response: httpx.Response) -> str | None:
        items = worklist_items(http, state="all")
        if who == m.NO_KEY_CLERK:
            leaked = [i for i in items if i["case_id"] == w.case_id or i.get("service_id") == m.CASE_SERVICE]
            asked = worklist_items(http, state="all", service_id=m.CASE_SERVICE)
            if leaked or asked:
                return f"a clerk without the key sees {m.CASE_SERVICE}: {(leaked or asked)[:2]}"
        elif w.case_id not in {i["case_id"] for i in items}:
            return "citizen A's case is missing from the worklist"
        return None

    return Call(http.get(f"/api/v1/tenants/{m.VECHTA}/worklist", params={"limit": 50}), check=check)


@recipe("register_tenant")
def _register_tenant(w: World, who: str) -> Call:
    number = random.randrange(10_000)
    tenant = {"ags": f"0998{number:04d}", "name": f"Prüfdorf {number}", "kind": "gemeinde",
              "code": "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))}
    response = w.http(who).post("/api/v1/admin/tenants", json=tenant)
    return Call(response, check=lambda r: None if r.headers.get("Location") == f"/api/v1/tenants/{tenant['ags']}" else r.text[:200])


def _tenant_of(variant: str) -> str:
    return m.LOHNE if variant.endswith(":other_tenant") else m.VECHTA


def _admin(variant: str, method: str, path: str, body: Callable[[World], Any] | None = None,
           params: dict[str, str] | None = None, check: Check | None = None) -> None:
    def send(w: World, who: str) -> Call:
        url = path.replace("<ags>", _tenant_of(variant)).replace("<service_id>", m.OFFERING_SERVICE)
        url = url.replace("<account_id>", w.grant_target.account_id)
        return Call(w.http(who).request(method, url, json=body(w) if body else None, params=params), check=check)

    RECIPES[variant] = send


def _active(expected: bool) -> Check:
    return lambda r: None if r.json().get("active") is expected else f"active is not {expected}: {r.text[:200]}"


def _new_staff(w: World) -> dict[str, Any]:
    return {"email": fresh_email("staff"), "kind": "clerk", "role": "clerk", "service_keys": [m.CASE_SERVICE]}


for _variant in ("update_tenant:own", "update_tenant:other_tenant"):
    _admin(_variant, "PATCH", m.TENANT_ADMIN, lambda w: {"phone": "+49 4441 886-0"})
for _variant in ("withdraw_offering:own", "withdraw_offering:other_tenant"):
    _admin(_variant, "DELETE", m.OFFERING_ADMIN, params={"reason": "Prüfung"}, check=_active(False))
for _variant in ("put_offering:own", "put_offering:other_tenant"):
    _admin(_variant, "PUT", m.OFFERING_ADMIN, check=_active(True))
for _variant in ("put_offering_retention:own", "put_offering_retention:other_tenant"):  # back to the default
    _admin(_variant, "PUT", m.OFFERING_ADMIN + "/retention", lambda w: {"retention_months": None},
           check=expect_json("retention_months_in_force"))
for _variant in ("council_source:own", "council_source:other_tenant"):
    _admin(_variant, "GET", m.COUNCIL_SOURCE, check=expect_json("history"))
for _variant in ("put_council_source:own", "put_council_source:other_tenant"):  # none: nothing to sync
    _admin(_variant, "PUT", m.COUNCIL_SOURCE, lambda w: {"url": None}, check=expect_json("configured_by"))
for _variant in ("grants:own", "grants:other_tenant"):
    _admin(_variant, "GET", m.GRANTS, check=expect_json("pending"))
for _variant in ("grant_history:own", "grant_history:other_tenant"):
    _admin(_variant, "GET", m.HISTORY, check=expect_json("items"))
for _variant in ("handover_clients:own", "handover_clients:other_tenant"):
    _admin(_variant, "GET", m.HANDOVER_CLIENTS, check=expect_json("queue"))
_admin("issue_handover_client:own", "POST", m.HANDOVER_CLIENTS, lambda w: {"name": "Fachverfahren", "service_keys": ["*"]},
       check=lambda r: None if r.json().get("status") == "pending" and r.json().get("client_secret") else r.text[:200])
_SUBMISSION = m.HANDOVER_SUBMISSION.replace("<case_id>", str(uuid.uuid4()))
simple("handover_fetch", "POST", "/api/v1/handover/fetch", body={"limit": 1})
simple("handover_submission", "GET", _SUBMISSION)
simple("handover_attachment", "GET", f"{_SUBMISSION}/attachments/{uuid.uuid4()}")
simple("handover_ack", "POST", f"{_SUBMISSION}/ack")


def _issued_by_the_admin(w: World) -> str:
    """A fresh back-office client of Vechta, issued by its tenant admin (pending)."""
    url = m.HANDOVER_CLIENTS.replace("<ags>", m.VECHTA)
    response = w.http(m.ADMIN).post(url, json={"name": "Fachverfahren", "service_keys": [m.CASE_SERVICE]})
    assert response.status_code == 202, response.text
    return f"{url}/{response.json()['client_id']}"


RECIPES["approve_handover_client"] = lambda w, who: Call(
    w.http(who).post(_issued_by_the_admin(w) + "/approve"), check=lambda r: None if r.json()["status"] == "active" else r.text)
RECIPES["revoke_handover_client"] = lambda w, who: Call(
    w.http(who).delete(_issued_by_the_admin(w)), check=lambda r: None if r.json()["status"] == "revoked" else r.text)


def _holds_nothing_yet(w: World, account_id: str, tenant: str, role: str) -> Check:
    """A role asked for is a pending request: the account holds no such role yet."""
    def check(response: httpx.Response) -> str | None:
        held = [g for g in w.accounts.app.staff_grants(account_id, tenant)["grants"] if g["role"] == role]
        pending = [p for p in w.accounts.app.staff_grants(account_id, tenant)["pending"] if p["role"] == role]
        if held or not pending:
            return f"held at once: {held}, pending: {pending} ({response.text[:160]})"
        return None

    return check


def _create_staff(variant: str) -> None:
    def send(w: World, who: str) -> Call:
        tenant = _tenant_of(variant)
        response = w.http(who).post(m.STAFF.replace("<ags>", tenant), json=_new_staff(w))
        if response.status_code != 201:
            return Call(response)
        return Call(response, check=_holds_nothing_yet(w, response.json()["account_id"], tenant, "clerk"))

    RECIPES[variant] = send


def _grant(variant: str) -> None:
    def send(w: World, who: str) -> Call:
        tenant, target = _tenant_of(variant), w.grant_target.account_id
        keys = [probe_key()]  # a request of this cell alone (an identical pending one would be returned)
        response = w.http(who).post(grants_url(tenant, target), json={"role": "team_lead", "service_keys": keys})
        return Call(response, check=_holds_nothing_yet(w, target, tenant, "team_lead"))

    RECIPES[variant] = send


for _variant in ("create_staff:own", "create_staff:other_tenant"):
    _create_staff(_variant)
for _variant in ("grant:own", "grant:other_tenant"):
    _grant(_variant)


def _new_rule(name: str = "Hundeabmeldung: verstorben") -> dict[str, Any]:
    return {"service_id": "hundeabmeldung", "kind": "decision", "name": name,
            "when": {"field": "reason", "op": "eq", "value": "died"},
            "then": {"outcome": "approve", "reason": "Abmeldung wegen Tod des Hundes."}}


def _rule_call(variant: str, method: str, suffix: str = "", body: dict[str, Any] | None = None) -> None:
    """A fresh rule of Vechta, defined by its admin; then ``who`` asks for it."""
    def send(w: World, who: str) -> Call:
        rules = m.RULES.replace("<ags>", m.VECHTA)
        if not suffix and method in ("GET", "POST") and variant.startswith(("rules:", "define_rule")):
            url = m.RULES.replace("<ags>", _tenant_of(variant))
        else:
            defined = w.http(m.ADMIN).post(rules, json=_new_rule())
            assert defined.status_code == 201, defined.text
            url = f"{rules}/{defined.json()['rule_id']}{suffix}"
        return Call(w.http(who).request(method, url, json=body))

    RECIPES[variant] = send


for _variant in ("rules:own", "rules:other_tenant"):
    _rule_call(_variant, "GET")
_rule_call("define_rule:own", "POST", body=_new_rule("Neue Regel"))
_rule_call("rule:get", "GET")
_rule_call("rule:put", "PUT", body={k: v for k, v in _new_rule("Geändert").items() if k in ("name", "when", "then")})
_rule_call("rule:activate", "POST", "/activate")
_rule_call("rule:deactivate", "POST", "/deactivate")
_rule_call("rule:shadow_run", "POST", "/shadow-runs", {"from": "2026-01-01", "to": "2027-01-01"})
_rule_call("rule:shadow_report", "GET", "/shadow-runs")


def probe_key() -> str:
    return f"probe-{uuid.uuid4().hex[:10]}"


def _decide(variant: str, decision: str, requester: Callable[[World, str], httpx.Client | None]) -> None:
    """POST .../grants/<request_id>/<decision> on a request of ``requester`` (None: set-up code)."""
    def send(w: World, who: str) -> Call:
        tenant, target, keys = _tenant_of(variant), w.grant_target.account_id, [probe_key()]
        asking = requester(w, who)
        if asking is None:
            request_id = w.accounts.app.request_grant(target, tenant, "team_lead", keys, requested_by="tests")["request_id"]
        else:
            asked = asking.post(grants_url(tenant, target), json={"role": "team_lead", "service_keys": keys})
            assert asked.status_code == 202, asked.text
            request_id = asked.json()["request_id"]
        response = w.http(who).post(grants_url(tenant, target, f"/{request_id}/{decision}"))

        def check(r: httpx.Response) -> str | None:
            held = {"tenant": tenant, "role": "team_lead", "service_keys": keys} in r.json()["grants"]
            waiting = request_id in {p["request_id"] for p in r.json()["pending"]}
            return None if (held, waiting) == (decision == "approve", False) else f"held {held}, pending {waiting}"

        return Call(response, check=check)

    RECIPES[variant] = send


def _own_or_other_admin(w: World, who: str) -> httpx.Client:
    """The caller itself if the matrix lets it ask for roles in Vechta, else the other admin."""
    may_ask = next(row for row in m.MATRIX if row.variant == "grant:own").expect[who].label == "allowed"
    return w.http(who) if may_ask else w.other_admin.http


_decide("approve:own_request", "approve", _own_or_other_admin)
_decide("approve:second_person", "approve", lambda w, who: w.other_admin.http)
_decide("approve:other_tenant", "approve", lambda w, who: None)
_decide("reject:own", "reject", lambda w, who: w.other_admin.http)


@recipe("revoke:own")
def _revoke(w: World, who: str) -> Call:
    # the role to revoke must exist for every cell, whoever revoked it before
    w.accounts.app.grant_role(w.grant_target.account_id, m.VECHTA, "team_lead", [m.CASE_SERVICE], granted_by="tests")
    url = m.GRANTS.replace("<ags>", m.VECHTA).replace("<account_id>", w.grant_target.account_id)
    response = w.http(who).request("DELETE", url, json={"role": "team_lead"})

    def check(r: httpx.Response) -> str | None:
        left = [g for g in r.json() if g["tenant"] == m.VECHTA and g["role"] == "team_lead"]
        return f"the role is still granted: {left}" if left else None

    return Call(response, check=check)


@recipe("logout")
def _logout(w: World, who: str) -> Call:
    account = w.actors[who].account
    if account is None:
        return Call(w.http(who).post("/api/v1/auth/logout", json={}))
    session = w.tokens(account)  # a session of its own: the principal's own token stays usable
    credentials = w.session_credentials(session["access_token"], session["refresh_token"])
    body = {} if w.mode == "cookie" else {"refresh_token": session["refresh_token"]}  # a browser has the cookie
    response = w.http(who).post("/api/v1/auth/logout", json=body, headers=credentials)

    def check(_: httpx.Response) -> str | None:
        again = w.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        return None if again.status_code == 401 else f"the logged-out refresh token still works: {again.status_code}"

    return Call(response, check=check)


@recipe("me:delete")
def _delete_me(w: World, who: str) -> Call:
    actor = w.new_actor(who) if m.PRINCIPALS[who] else w.actors[who]  # a fresh account of the same kind and grants
    password = actor.account.password if actor.account else "Gartenzaun-42"  # deletion is re-authenticated
    response = actor.http.request("DELETE", "/api/v1/me", json={"password": password})

    def check(_: httpx.Response) -> str | None:
        assert actor.account is not None
        with from_address(w.running, loopback()) as elsewhere:  # a failed login: not on 127.0.0.1's budget
            again = elsewhere.post(LOGIN, json={"email": actor.account.email, "password": actor.account.password})
        return None if again.status_code == 401 else f"a deleted account can log in: {again.status_code}"

    return Call(response, check=check)


# -- judging one answer ------------------------------------------------------------------------------
def _without(text: str, *ids: str) -> str:
    for value in ids:
        text = text.replace(value, "<id>")
    return text


def judge(expected: m.Outcome, call: Call) -> str | None:
    """None if the answer is of the expected class, else what is wrong."""
    response = call.response
    code = problem_code(response)
    got = f"{response.status_code} {code or ''}".strip()
    if response.status_code >= 500:
        return f"server error {got}: {response.text[:200]}"
    if response.status_code not in expected.statuses or (expected.code and code != expected.code):
        return f"expected {expected}, got {got}: {response.text[:160]}"
    if expected.label == "unauthenticated" and "WWW-Authenticate" not in response.headers:
        return "401 without WWW-Authenticate"
    if expected.label == "hidden":
        assert call.case_id and call.resend, "a hidden outcome needs a case request"
        unknown_id = str(uuid.uuid4())
        baseline = call.resend(unknown_id)
        mine = (response.status_code, response.headers.get("Content-Type"), _without(response.text, call.case_id))
        theirs = (baseline.status_code, baseline.headers.get("Content-Type"), _without(baseline.text, unknown_id))
        if mine != theirs:
            return f"existence leak: {mine} differs from the answer for an unknown case {theirs}"
    if expected.label == "allowed" and call.check and response.status_code < 300:
        return call.check(response)
    return None


@dataclass
class Report:
    routes: int
    cells: int = 0
    violations: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def run_matrix(w: World) -> Report:
    report = Report(routes=len(assert_the_matrix_covers_every_route()))
    header = f"{'method':6} {'route / variant':74} " + " ".join(f"{m.SHORT[p]:>6}" for p in m.PRINCIPALS)
    report.lines.append(header)
    for row in m.MATRIX:
        cells = []
        for who in m.PRINCIPALS:
            expected = row.expect[who]
            try:
                call = RECIPES[row.variant](w, who)
                problem = judge(expected, call)
                shown = str(call.response.status_code)
            except Exception as exc:  # noqa: BLE001 - one broken cell must not hide the others
                problem, shown = f"{type(exc).__name__}: {exc}", "ERR"
            report.cells += 1
            if problem:
                report.violations.append(f"{row.method} {row.url} [{row.variant}] as {who}: {problem}")
                shown += "!"
            elif expected.label == "hidden":
                shown += "h"
            cells.append(f"{shown:>6}")
        label = row.url if row.variant.replace("_", "") in row.url.replace("_", "") else f"{row.url} [{row.variant}]"
        label = label if len(label) <= 74 else "…" + label[-73:]  # the variant at the end stays readable
        report.lines.append(f"{row.method:6} {label:74} " + " ".join(cells))
    return report


@pytest.mark.parametrize("mode", MODES)
def test_authorisation_matrix(worlds: Callable[[str], World], mode: str) -> None:
    """Every route as every principal: allowed, 401, 403, or a 404 that leaks nothing —
    once with bearer tokens, once with the cookies of a browser login."""
    report = run_matrix(worlds(mode))
    principals = len(m.PRINCIPALS)
    print()
    print("\n".join(report.lines))
    print("(h = 404 identical to the answer for an unknown case; ! = not the expected outcome)")
    print(
        f"authorisation matrix ({mode}): {report.routes} routes (method × URL) × {principals} principals = "
        f"{report.routes * principals} route/principal pairs, sent as {len(m.MATRIX)} request variants × "
        f"{principals} = {report.cells} cells; {len(report.violations)} violations"
    )
    assert report.routes >= MIN_ROUTES
    assert report.cells >= report.routes * principals
    assert not report.violations, "authorisation violations:\n" + "\n".join(report.violations)


@pytest.mark.parametrize("mode", MODES)
def test_no_admin_reaches_case_contents_without_a_second_person(worlds: Callable[[str], World], mode: str) -> None:
    """Issue #9, separation of duties: a tenant admin asks for a clerk role for an alias and
    for itself; neither reads citizen A's case until another admin approves, and the
    requester and the grantee cannot approve. Every step is in the grant history."""
    w = worlds(mode)
    admin, second = w.http(m.ADMIN), w.other_admin.http
    case = f"/api/v1/cases/{w.case_id}"

    def reads_the_case(account: Account) -> int:
        return w.client(w.login_credentials(account)).get(case).status_code  # a new login: the current grants

    def approve(http: httpx.Client, account: Account, request_id: str) -> httpx.Response:
        return http.post(grants_url(m.VECHTA, account.account_id, f"/{request_id}/approve"))

    # an alias: an account the admin may control; the admin asks for a clerk role for it
    alias = w.accounts.staff([])
    asked = admin.post(grants_url(m.VECHTA, alias.account_id), json={"role": "clerk", "service_keys": ["*"]})
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]
    assert reads_the_case(alias) == 404
    own = approve(admin, alias, request_id)
    assert (own.status_code, problem_code(own)) == (403, "four_eyes_required"), own.text
    by_grantee = approve(w.client(w.credentials(alias)), alias, request_id)
    assert (by_grantee.status_code, problem_code(by_grantee)) == (403, "forbidden"), by_grantee.text
    assert reads_the_case(alias) == 404
    approved = approve(second, alias, request_id)
    assert approved.status_code == 200, approved.text
    assert approved.json()["grants"] == [{"tenant": m.VECHTA, "role": "clerk", "service_keys": ["*"]}]
    assert reads_the_case(alias) == 200
    history = second.get(grants_url(m.VECHTA, alias.account_id, "/history")).json()["items"]
    other_admin = w.other_admin.account
    assert other_admin is not None
    assert [(e["action"], e["by"]) for e in history] == [
        ("requested", w.account(m.ADMIN).account_id), ("approved", other_admin.account_id),
    ]

    # itself: an admin asks for a clerk role for itself
    actor = w.new_actor(m.ADMIN)
    assert actor.account is not None
    mine = actor.http.post(grants_url(m.VECHTA, actor.account.account_id), json={"role": "clerk", "service_keys": ["*"]})
    assert mine.status_code == 202, mine.text
    assert reads_the_case(actor.account) == 404
    refused = approve(actor.http, actor.account, mine.json()["request_id"])
    assert (refused.status_code, problem_code(refused)) == (403, "four_eyes_required"), refused.text
    assert reads_the_case(actor.account) == 404
    assert approve(second, actor.account, mine.json()["request_id"]).status_code == 200
    assert reads_the_case(actor.account) == 200

    # one call creating an account with a clerk role creates a request, not a clerk
    created = admin.post(m.STAFF.replace("<ags>", m.VECHTA), json=_new_staff(w))
    assert created.status_code == 201, created.text
    assert created.json()["grants"] == [] and [p["role"] for p in created.json()["pending"]] == ["clerk"]
    assert w.accounts.app.resolve_principal(created.json()["account_id"]).grants == ()


# -- tokens -------------------------------------------------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


def assert_refused(response: httpx.Response, what: str, codes: tuple[str, ...] = ("invalid_token",)) -> None:
    assert response.status_code == 401, f"{what}: {response.status_code} {response.text[:200]}"
    assert problem_code(response) in codes, f"{what}: {response.text[:200]}"
    assert "WWW-Authenticate" in response.headers, what


@pytest.fixture(scope="module")
def platform_keys(platform_env: dict[str, str]) -> KeySet:
    """The platform's development signing key (what identity signs with in the tests)."""
    return KeySet.from_directory(Path(platform_env["VR_VAR_DIR"]) / "keys")


@pytest.fixture(scope="module")
def settings(platform_env: dict[str, str]) -> IdentitySettings:
    return IdentitySettings.from_env(platform_env)


def mint(keys: KeySet, settings: IdentitySettings, subject: str, *, clock: Callable[[], float] = time.time,
         issuer: str | None = None, audience: str | None = None) -> str:
    service = TokenService(keys, issuer=issuer or settings.token_issuer, audience=audience or settings.token_audience,
                           access_ttl=settings.access_token_ttl, clock=clock)
    token, _ = service.issue_access_token(subject=subject, kind="citizen", grants=[], trust_level="basic")
    return token


def test_forged_tampered_and_expired_tokens_are_refused(world: World, platform_keys: KeySet, settings: IdentitySettings) -> None:
    citizen_a, citizen_b = world.account(m.CIT_A), world.account(m.CIT_B)
    case = f"/api/v1/cases/{world.case_id}"
    assert platform_keys.signing is not None, "the platform has no development signing key"
    kid, algorithm = platform_keys.signing.kid, platform_keys.signing.algorithm

    def with_bearer(token: str, path: str = case) -> httpx.Response:
        return world.anonymous.get(path, headers={"Authorization": f"Bearer {token}"})

    # control: citizen B's real token is accepted but does not open A's case; a token minted
    # for A with the platform's key right now is accepted — so the refusals below are not
    # about the key file or the claims, only about what was changed
    assert with_bearer(citizen_b.token, "/api/v1/me").status_code == 200
    assert with_bearer(citizen_b.token).status_code == 404
    assert with_bearer(mint(platform_keys, settings, citizen_a.account_id)).status_code == 200

    header, payload, signature = citizen_b.token.split(".")
    claims = json.loads(unb64(payload))
    as_a = {**claims, "sub": citizen_a.account_id}  # B's own claims, but A's account

    def flip(part: str) -> str:  # one character in the middle (the last one may only carry padding bits)
        middle = len(part) // 2
        return part[:middle] + ("A" if part[middle] != "A" else "B") + part[middle + 1:]

    hs_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": kid}, as_a)
    public_pem = platform_keys.verification[kid].public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    impostor_key = generate_private_key(algorithm)
    impostor = KeySet(SigningKey(kid, impostor_key, algorithm))
    now = time.time()
    forged = {
        "payload changed (sub → citizen A), signature kept": f"{header}.{b64(json.dumps(as_a).encode())}.{signature}",
        "one character of the payload flipped": f"{header}.{flip(payload)}.{signature}",
        "one character of the signature flipped": f"{header}.{payload}.{flip(signature)}",
        "signature removed": f"{header}.{payload}.",
        "expired (platform key, issued an hour ago)": mint(platform_keys, settings, citizen_a.account_id, clock=lambda: now - 3600),
        "not yet valid (platform key, issued in an hour)": mint(platform_keys, settings, citizen_a.account_id, clock=lambda: now + 3600),
        "signed by another key under the platform's kid": mint(impostor, settings, citizen_a.account_id),
        "alg none": unsigned({"alg": "none", "typ": "at+jwt", "kid": kid}, as_a) + ".",
        "alg HS256 keyed with the public key": f"{hs_input}.{b64(hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest())}",
        "wrong audience": mint(platform_keys, settings, citizen_a.account_id, audience="ein-anderer-dienst"),
        "wrong issuer": mint(platform_keys, settings, citizen_a.account_id, issuer="https://evil.example"),
        "unknown kid": mint(KeySet(SigningKey("unknown-kid", impostor_key, algorithm)), settings, citizen_a.account_id),
        "not a JWT": "ganz-und-gar-kein-token",
    }
    for what, token in forged.items():
        assert_refused(with_bearer(token), what)
        with httpx.Client(base_url=world.running.base_url, timeout=30, cookies={"vr_access": token}) as browser:
            # a bad cookie counts as no login (services/gateway/auth.py), so: 401 either way
            assert_refused(browser.get(case), f"{what} (cookie)", ("invalid_token", "unauthenticated"))


def test_a_logged_out_token_is_refused(world: World, accounts: Accounts) -> None:
    account = accounts.citizen()
    session = world.tokens(account)  # a second session; the first (account.token) stays
    with httpx.Client(base_url=world.running.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {session['access_token']}"}) as http:
        assert http.get("/api/v1/me").status_code == 200
        out = http.post("/api/v1/auth/logout", json={"refresh_token": session["refresh_token"]})
        assert out.status_code == 204, out.text
        # revocation reaches the gateway as a broadcast event
        refused = eventually(lambda: (r := http.get("/api/v1/me")).status_code == 401 and r, timeout=10)
        assert_refused(refused, "the access token of a logged-out session")
    again = world.anonymous.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert again.status_code == 401 and problem_code(again) == "session_invalid", again.text
    with httpx.Client(base_url=world.running.base_url, timeout=30, headers=account.headers) as other:
        assert other.get("/api/v1/me").status_code == 200  # only that session ended


def _revoke_clerk_role(world: World, clerk: Account) -> None:
    url = m.GRANTS.replace("<ags>", m.VECHTA).replace("<account_id>", clerk.account_id)
    response = world.http(m.ADMIN).request("DELETE", url, json={"role": "clerk"})
    assert response.status_code == 200, response.text


def test_a_revoked_grant_voids_the_tokens_that_carry_it(world: World, accounts: Accounts) -> None:
    clerk = accounts.staff([(m.VECHTA, "clerk", ["*"])])
    case = f"/api/v1/cases/{world.case_id}"
    with httpx.Client(base_url=world.running.base_url, timeout=30, headers=clerk.headers) as http:
        assert http.get(case).status_code == 200
        time.sleep(1.1)  # revocation is "tokens issued before <second>"; see the same-second test below
        _revoke_clerk_role(world, clerk)
        refused = eventually(lambda: (r := http.get(case)).status_code == 401 and r, timeout=10)
        assert_refused(refused, "a token carrying a revoked grant")
    fresh = world.tokens(clerk)
    with httpx.Client(base_url=world.running.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {fresh['access_token']}"}) as http:
        assert http.get(case).json()["code"] == "case_not_found"


def test_a_grant_revoked_in_the_second_the_token_was_issued_voids_it_too(world: World, accounts: Accounts) -> None:
    """Revocation broadcasts a time ``at`` and the gateway voids the account's tokens with
    ``iat < at``: a token issued earlier within the same second must not survive (neither
    time may be cut to whole seconds)."""
    clerk = accounts.staff([(m.VECHTA, "clerk", ["*"])])
    case = f"/api/v1/cases/{world.case_id}"
    deadline = time.monotonic() + 120  # a busy machine may need many tries; it fails, never skips
    while True:
        time.sleep(1 - time.time() % 1 + 0.01)  # start right after a second begins
        started = time.time()
        token = world.tokens(clerk)["access_token"]
        _revoke_clerk_role(world, clerk)
        if int(time.time()) == int(started):
            break
        assert time.monotonic() < deadline, "could not log in and revoke within one second in 120 s"
        accounts.app.grant_role(clerk.account_id, m.VECHTA, "clerk", ["*"], granted_by="tests")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        refused = eventually(lambda: (r := world.anonymous.get(case, headers=headers)).status_code == 401 and r, timeout=5)
    except AssertionError:
        pytest.fail("a token issued in the same second as the revocation of its grant still opens the case "
                    "(iat or the revocation time cut to whole seconds? services/identity/tokens.py, "
                    "services/identity/service.py _revoked, services/gateway/auth.py)")
    assert_refused(refused, "a token issued in the second its grant was revoked")


# -- guessing passwords -----------------------------------------------------------------------------
def loopback() -> str:
    """A loopback address of its own, so the per-IP budget of 127.0.0.1 (all other tests) is untouched."""
    return f"127.{random.randrange(1, 255)}.{random.randrange(0, 255)}.{random.randrange(2, 255)}"


def from_address(running: Platform, address: str) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30, transport=httpx.HTTPTransport(local_address=address))


def retry_after(response: httpx.Response, findings: list[str]) -> float:
    value = response.headers.get("Retry-After")
    if value is None:
        findings.append(f"{response.status_code} {problem_code(response)} without Retry-After")
        return 1.0
    if not re.fullmatch(r"\d+", value):
        findings.append(f"Retry-After {value!r} is not delay-seconds (RFC 9110 §10.2.3: 1*DIGIT)")
    return float(value)


def test_wrong_passwords_for_one_account_are_slowed_down_never_locked(running: Platform, accounts: Accounts) -> None:
    """A stranger's guesses slow the stranger down: they neither lock the owner out nor end the
    owner's sessions, and while the stranger waits the right password is answered like a wrong one."""
    victim = accounts.citizen()  # logged in: the owner's session must outlive the guessing
    wrong = {"email": victim.email, "password": "Falsch-" + uuid.uuid4().hex[:8]}
    right = {"email": victim.email, "password": victim.password}
    findings: list[str] = []
    with from_address(running, loopback()) as attacker, \
            httpx.Client(base_url=running.base_url, timeout=30, headers=victim.headers) as owner:
        first = [attacker.post(LOGIN, json=wrong) for _ in range(3)]
        assert [(r.status_code, problem_code(r)) for r in first] == [(401, "invalid_credentials")] * 3
        throttled = attacker.post(LOGIN, json=wrong)
        assert throttled.status_code == 429 and problem_code(throttled) == "rate_limited", throttled.text
        wait = retry_after(throttled, findings)
        assert wait > 0
        during = attacker.post(LOGIN, json=right)  # the right password does not get in while throttled …
        assert (during.status_code, problem_code(during)) == (429, "rate_limited"), during.text  # … nor stands out
        retry_after(during, findings)

        counted, deadline, early = 3, time.monotonic() + 420, 0
        while counted < 10 and time.monotonic() < deadline:  # 10 wrong passwords used to lock the account
            time.sleep(wait + 0.05)  # wait exactly as told
            answer = attacker.post(LOGIN, json=wrong)
            if answer.status_code == 429:
                early += 1
                wait = retry_after(answer, findings)
                continue
            assert answer.status_code == 401 and problem_code(answer) == "invalid_credentials", answer.text
            counted += 1
            wait = retry_after(answer, findings) if "Retry-After" in answer.headers else 0.0
        assert counted == 10, f"only {counted} guesses counted before the deadline"
        if early:
            findings.append(f"{early} guesses after waiting the advertised Retry-After were still throttled")
        still = attacker.post(LOGIN, json=right)
        assert (still.status_code, problem_code(still)) == (429, "rate_limited"), still.text
        mine = owner.get("/api/v1/me")
        assert mine.status_code == 200, f"the guessing ended the owner's session: {mine.text}"
        assert mine.json()["locked"] is False, f"locked by a stranger's guesses: {mine.json()}"
        with from_address(running, loopback()) as elsewhere:
            assert elsewhere.post(LOGIN, json=right).status_code == 200, "the owner is locked out"
    assert not findings, "\n".join(findings)


def test_wrong_logins_from_one_address_across_accounts_are_slowed_down(running: Platform, accounts: Accounts) -> None:
    real = accounts.citizen()
    findings: list[str] = []

    def spray(http: httpx.Client, **kwargs: Any) -> httpx.Response:
        return http.post(LOGIN, json={"email": fresh_email("spray"), "password": "Sommer2026!"}, **kwargs)

    with from_address(running, loopback()) as attacker, from_address(running, loopback()) as bystander:
        answers = []
        for _ in range(60):  # each guess on another address: the per-account limit never triggers
            answers.append(spray(attacker))
            if answers[-1].status_code != 401:
                break
        last = answers[-1]
        assert last.status_code == 429 and problem_code(last) == "rate_limited", (len(answers), last.text)
        assert len(answers) > 4, "per-address limiting should be more lenient than per account"
        wait = retry_after(last, findings)
        for _ in range(3):  # keep going as told: the wait grows
            time.sleep(wait + 0.05)
            answer = spray(attacker)
            assert answer.status_code == 401, answer.text
            wait = retry_after(answer, findings)
        assert wait >= 4
        assert spray(attacker).status_code == 429
        inside = attacker.post(LOGIN, json={"email": real.email, "password": real.password})
        assert inside.status_code == 429, "a right password from a throttled address must wait as well"
        spoofed = spray(attacker, headers={"X-Forwarded-For": "203.0.113.7", "X-Real-IP": "203.0.113.7"})
        assert spoofed.status_code == 429, "X-Forwarded-For must not reset the per-address budget"
        elsewhere = bystander.post(LOGIN, json={"email": real.email, "password": real.password})
        assert elsewhere.status_code == 200, elsewhere.text  # other addresses are not affected
    assert not findings, "\n".join(findings)


def test_wrong_current_passwords_on_my_account_are_slowed_down_too(running: Platform, accounts: Accounts) -> None:
    """Changing the password or e-mail asks for the current password (so that a stolen access
    token alone cannot take the account over). That check must be throttled like a login,
    or the token turns it into an unlimited password oracle."""
    account = accounts.citizen()
    with httpx.Client(base_url=running.base_url, timeout=30, headers=account.headers) as http:
        answers = []
        for attempt in range(12):
            guess = {"current_password": f"Falsch-{attempt}-{uuid.uuid4().hex[:6]}", "new_password": PASSWORD + "-neu"}
            answers.append(http.post("/api/v1/me/password", json=guess))
            if answers[-1].status_code == 429:
                break
        seen = [(r.status_code, problem_code(r)) for r in answers]
        assert answers[-1].status_code == 429, f"{len(answers)} wrong current passwords, never slowed down: {seen}"
        assert "Retry-After" in answers[-1].headers
