"""GatewayService (nameko ``@http``) over real HTTP, two ways:

* with the catalog, submissions and identity services in one runner: HTTP in, the
  batcher's ``submit_batch`` RPC behind it, and readiness;
* alone, its neighbours replaced (``replace_dependencies``): what it asks them for
  (the worklist filter the authorisation rules allow, the submit command) and how it
  answers what they say (remote DomainErrors as problem+json), unknown routes, tokens."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from unittest.mock import MagicMock
from uuid import UUID

import eventlet
import httpx
import pytest
from nameko.exceptions import RemoteError
from nameko.testing.services import entrypoint_waiter, replace_dependencies
from nameko.testing.utils import get_container, get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided
from services.common.problems import DomainError
from services.gateway.service import GatewayService
from services.identity.service import IdentityService
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import LK_VECHTA, LOHNE, VECHTA

try:  # issuing tokens is identity's (its keys and token service may move to services.common)
    from services.identity.keys import KeySet, SigningKey, generate_private_key
except ImportError:  # pragma: no cover
    from services.common.keys import KeySet, SigningKey, generate_private_key
try:
    from services.identity.tokens import TokenService
except ImportError:  # pragma: no cover
    from services.common.tokens import TokenService


def provided(container: Any, attr_name: str) -> Any:
    return get_extension(container, Provided, attr_name=attr_name).instance


@pytest.fixture
def platform(start_services) -> Any:
    return start_services(CatalogService, SubmissionsService, IdentityService, GatewayService)


@pytest.fixture
def citizen(platform, web_base_url: str) -> Iterator[httpx.Client]:
    """A citizen registered with the identity application (which hands out the mail's
    token), then verified and logged in over HTTP like any client."""
    identity = provided(get_container(platform, IdentityService), "app")
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    mails = identity.register(email, password, kind="citizen", display_name="Erika Muster").mails
    token = next(m.params["token"] for m in mails if m.template == "verify_email")
    with httpx.Client(base_url=web_base_url, timeout=30) as http:
        assert http.post("/api/v1/auth/verify-email", json={"token": token}).status_code == 200
        login = http.post("/api/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        http.cookies.clear()  # the bearer token only
        yield http


def post_case(client: httpx.Client, key: str, ags: str = VECHTA, **body: Any) -> httpx.Response:
    payload = {"service_id": "hundeanmeldung", "form_data": form(), **body}
    return client.post(
        f"/api/v1/tenants/{ags}/cases",
        json=payload,
        headers={"Idempotency-Key": key, "X-Correlation-ID": f"http-{key}"},
    )


def test_submit_case_goes_through_the_batcher(platform, citizen: httpx.Client) -> None:
    gateway = get_container(platform, GatewayService)
    submissions = get_container(platform, SubmissionsService)
    with (
        entrypoint_waiter(submissions, "submit_batch") as batch,
        entrypoint_waiter(gateway, "submit_case") as handled,
    ):
        response = post_case(citizen, "gw-1")

    assert response.status_code == 201, response.text
    case = response.json()
    assert handled.get().status_code == 201  # the HTTP entrypoint ran in the gateway container
    assert response.headers["Location"] == f"/api/v1/cases/{case['case_id']}"
    assert response.headers["X-Correlation-ID"] == "http-gw-1"
    assert "Idempotent-Replayed" not in response.headers
    assert case["links"] == {"self": f"/api/v1/cases/{case['case_id']}"}
    assert (case["tenant"], case["status"]) == (VECHTA, "submitted") and case["reference"].startswith("VEC-")

    # the batcher carried it to the submissions service in one submit_batch RPC
    [result] = batch.get()
    assert result["case"]["case_id"] == case["case_id"]
    [command] = batch.worker_ctx.args[0]
    assert (command["idempotency_key"], command["correlation_id"]) == ("gw-1", "http-gw-1")

    # the HTTP correlation id and the logged-in citizen are stored with the event
    [event] = provided(submissions, "app").of_case(case["case_id"]).events.get(UUID(case["case_id"]))
    assert event.correlation_id == "http-gw-1"
    assert event.actor == event.applicant_ref == command["principal"] != "anonymous"

    # a retry with the same Idempotency-Key is the same case, marked as replayed
    with entrypoint_waiter(submissions, "submit_batch"):
        again = post_case(citizen, "gw-1")
    assert again.status_code == 201 and again.json()["case_id"] == case["case_id"]
    assert again.headers["Idempotent-Replayed"] == "true"

    status = citizen.get(f"/api/v1/cases/{case['case_id']}")  # read-your-writes before any projector
    assert status.status_code == 200, status.text
    assert status.json()["status"] == "submitted"


def test_anonymous_submission_is_refused(platform, web_base_url: str) -> None:
    store = provided(get_container(platform, SubmissionsService), "app").primary.recorder  # one partition: the whole store
    head = store.max_notification_id()
    with entrypoint_waiter(get_container(platform, GatewayService), "submit_case"):
        response = httpx.post(
            f"{web_base_url}/api/v1/tenants/{VECHTA}/cases",
            json={"service_id": "hundeanmeldung", "form_data": form()},
            timeout=30,
        )
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    assert store.max_notification_id() == head  # nothing was stored


def test_concurrent_submissions_all_go_through_submit_batch(platform, citizen: httpx.Client, web_base_url: str) -> None:
    headers = dict(citizen.headers)

    def one(n: int) -> int:
        with httpx.Client(base_url=web_base_url, timeout=30, headers=headers) as own:
            return post_case(own, f"gw-many-{n}").status_code

    sizes: list[int] = []

    def count(worker_ctx: Any, result: Any, exc_info: Any) -> bool:
        sizes.append(len(worker_ctx.args[0]))
        return sum(sizes) >= 20

    with entrypoint_waiter(get_container(platform, SubmissionsService), "submit_batch", callback=count, timeout=60):
        statuses = list(eventlet.GreenPool(20).imap(one, range(20)))
    assert statuses == [201] * 20
    assert sum(sizes) == 20, sizes  # usually fewer RPCs than requests: [10, 10], [1, 19], ...


def test_submission_errors_are_problem_documents(platform, citizen: httpx.Client) -> None:
    invalid = form()
    del invalid["dog_name"]
    response = post_case(citizen, "gw-bad-1", form_data=invalid)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "form_invalid"
    assert problem["errors"] == [{"field": "/dog_name", "code": "required", "message": "Dieses Feld ist erforderlich."}]

    response = post_case(citizen, "gw-bad-2", service_id="no-such-service")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_service")


def test_health_ready_when_all_services_run(platform, web_base_url: str) -> None:
    with httpx.Client(base_url=web_base_url, timeout=10) as client:
        assert client.get("/health/live").json() == {"status": "ok"}
        response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"catalog": "ok", "identity": "ok", "submissions": "ok"},
    }


def test_health_ready_without_catalog(start_services, web_base_url: str) -> None:
    start_services(SubmissionsService, IdentityService, GatewayService)
    # each check gives up after 2 s: an answer at all (not a read timeout) shows it did
    response = httpx.get(f"{web_base_url}/health/ready", timeout=60)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"catalog": "unavailable", "identity": "ok", "submissions": "ok"},
    }


# -------------------------------------------------------------- the gateway alone
ISSUER, AUDIENCE = "vr-test/identity", "vr-test"
TENANT_ROWS = [
    {"ags": VECHTA, "code": "VEC", "name": "Vechta", "kind": "gemeinde", "district_ags": LK_VECHTA},
    {"ags": LOHNE, "code": "LOH", "name": "Lohne", "kind": "gemeinde", "district_ags": LK_VECHTA},
]


class Issuer:
    """Signs access tokens as the identity service does, with a key pair of the test's own;
    the replaced identity proxy publishes the public half (``identity.jwks()``)."""

    def __init__(self, kid: str = "gw-test-1") -> None:
        self.keyset = KeySet(SigningKey(kid, generate_private_key("EdDSA"), "EdDSA"))
        self.tokens = TokenService(self.keyset, issuer=ISSUER, audience=AUDIENCE)

    def jwks(self) -> dict[str, Any]:
        return self.keyset.jwks()

    def token(self, kind: str = "citizen", grants: tuple[tuple[str, str, list[str]], ...] = (), **claims: Any) -> str:
        token, _ = self.tokens.issue_access_token(
            subject=claims.get("subject", f"acc-{uuid.uuid4().hex[:8]}"),
            kind=kind,
            grants=[{"tenant": t, "role": r, "service_keys": keys} for t, r, keys in grants],
            trust_level=claims.get("trust_level", "basic"),
            session_id=uuid.uuid4().hex,
        )
        return token


class Neighbours:
    """The gateway container and the MagicMocks standing in for its neighbours."""

    def __init__(self, container: Any, base_url: str, issuer: Issuer, mocks: list[MagicMock]) -> None:
        self.container, self.base_url, self.issuer = container, base_url, issuer
        self.submissions, self.catalog, self.identity, self.submit = mocks

    def get(self, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, token, **kwargs)

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.base_url + path, headers=headers, timeout=10, **kwargs)


@pytest.fixture
def alone(container_factory, nameko_config: dict[str, Any], web_base_url: str, monkeypatch) -> Iterator[Neighbours]:
    """The gateway in its own container; submissions, catalog, identity and the submit
    batcher are MagicMocks (no other service runs)."""
    monkeypatch.setenv("IDENTITY_TOKEN_ISSUER", ISSUER)  # what the gateway's verifier expects
    monkeypatch.setenv("IDENTITY_TOKEN_AUDIENCE", AUDIENCE)
    GatewayService.tenants.forget()  # the tenant cache is the class's: reload from this catalog
    issuer = Issuer()
    container = container_factory(GatewayService, nameko_config)
    mocks = list(replace_dependencies(container, "submissions", "catalog", "identity", "submit"))
    neighbours = Neighbours(container, web_base_url, issuer, mocks)
    neighbours.identity.jwks.return_value = issuer.jwks()
    neighbours.identity.recent_revocations.return_value = {"horizon": 630, "sessions": {}, "subjects": {}}
    neighbours.catalog.list_tenants.return_value = TENANT_ROWS
    container.start()
    yield neighbours
    container.stop()
    GatewayService.tenants.forget()


def remote(code: str, **params: Any) -> RemoteError:
    """What a neighbour's DomainError looks like to its RPC caller."""
    return RemoteError("DomainError", DomainError(code, **params).to_json())


def is_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    return problem


WORKLIST_DEFAULTS = {"state": "open", "status": None, "assignee": None, "sort": "submitted_at",
                     "order": "asc", "limit": 50, "cursor": None, "as_of": None}


def test_worklist_asks_for_what_the_grants_allow(alone: Neighbours) -> None:
    page = {"items": [{"case_id": str(uuid.uuid4()), "service_id": "hund.steuer"}], "next_cursor": None}
    alone.submissions.worklist.return_value = page
    clerk = alone.issuer.token("clerk", [(VECHTA, "clerk", ["hund.steuer", "gewerbe.anmeldung"])])

    response = alone.get(f"/api/v1/tenants/{VECHTA}/worklist", clerk)
    assert response.status_code == 200, response.text
    assert response.json() == {"tenant": VECHTA, **page}
    (ags, query), _ = alone.submissions.worklist.call_args
    assert ags == VECHTA
    assert sorted(query.pop("service_ids")) == ["gewerbe.anmeldung", "hund.steuer"]  # only the granted keys
    assert query == WORKLIST_DEFAULTS

    # a service filter inside the grants narrows it; one outside asks for nothing
    alone.get(f"/api/v1/tenants/{VECHTA}/worklist", clerk, params={"service_id": "hund.steuer", "limit": "5"})
    assert alone.submissions.worklist.call_args.args[1] == {
        **WORKLIST_DEFAULTS, "service_ids": ["hund.steuer"], "limit": 5}
    alone.get(f"/api/v1/tenants/{VECHTA}/worklist", clerk, params={"service_id": "baugenehmigung"})
    assert alone.submissions.worklist.call_args.args[1]["service_ids"] == []

    # every service key: no filter at all
    lead = alone.issuer.token("clerk", [(VECHTA, "team_lead", ["*"])])
    assert alone.get(f"/api/v1/tenants/{VECHTA}/worklist", lead, params={"state": "all"}).status_code == 200
    assert alone.submissions.worklist.call_args.args[1] == {**WORKLIST_DEFAULTS, "service_ids": None, "state": "all"}


def test_worklist_refusals_never_reach_submissions(alone: Neighbours) -> None:
    clerk = alone.issuer.token("clerk", [(LOHNE, "clerk", ["*"])])
    is_problem(alone.get(f"/api/v1/tenants/{VECHTA}/worklist", clerk), 403, "forbidden")  # another authority's
    is_problem(alone.get(f"/api/v1/tenants/{VECHTA}/worklist", alone.issuer.token("citizen")), 403, "forbidden")
    is_problem(alone.get(f"/api/v1/tenants/{VECHTA}/worklist"), 401, "unauthenticated")
    is_problem(alone.get(f"/api/v1/tenants/{LOHNE}/worklist", clerk, params={"limit": "0"}), 400, "invalid_parameter")
    is_problem(alone.get("/api/v1/tenants/09999999/worklist", clerk), 404, "unknown_tenant")

    # a token signed with another key under the same key id
    forged = Issuer(kid="gw-test-1").token("clerk", [(VECHTA, "team_lead", ["*"])])
    response = alone.get(f"/api/v1/tenants/{VECHTA}/worklist", forged)
    is_problem(response, 401, "invalid_token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    alone.submissions.worklist.assert_not_called()


def test_remote_domain_errors_become_problem_documents(alone: Neighbours) -> None:
    clerk = alone.issuer.token("clerk", [(VECHTA, "clerk", ["*"])])
    alone.submissions.worklist.side_effect = remote("invalid_cursor")
    is_problem(alone.get(f"/api/v1/tenants/{VECHTA}/worklist", clerk, params={"cursor": "x"}), 400, "invalid_cursor")

    alone.catalog.get_definition.side_effect = remote("unknown_service", service_id="nope")
    response = alone.get("/api/v1/services/nope", headers={"Accept-Language": "en", "X-Correlation-ID": "gw-alone-1"})
    problem = is_problem(response, 404, "unknown_service")
    assert "nope" in problem["detail"] and response.headers["Content-Language"] == "en"
    assert response.headers["X-Correlation-ID"] == "gw-alone-1"

    # anything else from a neighbour is a bug there: 500, no details
    alone.catalog.list_services.side_effect = RemoteError("KeyError", "'tenant'")
    problem = is_problem(alone.get("/api/v1/services"), 500, "internal_error")
    assert "tenant" not in problem["detail"]


def test_submit_hands_one_command_to_the_batcher(alone: Neighbours) -> None:
    case_id = str(uuid.uuid4())
    alone.submit.return_value = {"case": {"case_id": case_id, "tenant": VECHTA, "status": "submitted"}}
    citizen = alone.issuer.token("citizen", subject="acc-erika", trust_level="substantial")
    response = alone.request(
        "POST", f"/api/v1/tenants/{VECHTA}/cases", citizen,
        json={"service_id": "hundeanmeldung", "form_data": form()},
        headers={"Idempotency-Key": "gw-alone-1", "X-Correlation-ID": "cid-alone-1"},
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/api/v1/cases/{case_id}"
    [(command,)] = [c.args for c in alone.submit.call_args_list]
    assert command["portal"] == VECHTA and command["service_id"] == "hundeanmeldung"
    assert command["form_data"] == form() and command["principal"] == "acc-erika"
    assert (command["trust_level"], command["idempotency_key"], command["correlation_id"]) == (
        "substantial", "gw-alone-1", "cid-alone-1")

    # the submissions service's verdict on one command is that request's problem
    alone.submit.return_value = {"error": {"code": "unknown_service", "params": {"service_id": "nope"}}}
    response = alone.request("POST", f"/api/v1/tenants/{VECHTA}/cases", citizen,
                             json={"service_id": "nope", "form_data": {}})
    is_problem(response, 404, "unknown_service")


def test_unknown_routes_and_methods(alone: Neighbours) -> None:
    is_problem(alone.get("/api/v1/nothing-here"), 404, "not_found")
    response = alone.request("DELETE", "/api/v1/tenants")
    is_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"] and "DELETE" not in response.headers["Allow"]
    assert alone.get("/health/live").json() == {"status": "ok"}
    for neighbour in (alone.submissions, alone.catalog, alone.submit):
        assert neighbour.mock_calls == []


def test_deeply_nested_json_is_a_clear_400(alone: Neighbours) -> None:
    """``[[[[…`` 100,000 deep used to exhaust the parser's stack: a 500 with a stack trace."""
    citizen = alone.issuer.token("citizen", subject="acc-erika")
    path = f"/api/v1/tenants/{VECHTA}/cases"
    headers = {"Content-Type": "application/json"}
    for body in ("[" * 100_000, "[" * 100_000 + "]" * 100_000, '{"a":' * 33 + "1" + "}" * 33):
        response = alone.request("POST", path, citizen, content=body, headers=headers)
        problem = is_problem(response, 400, "malformed_json")
        assert "32" in problem["detail"]
    assert alone.submit.mock_calls == []

    alone.submit.return_value = {"case": {"case_id": str(uuid.uuid4()), "tenant": VECHTA, "status": "submitted"}}
    nested = {"service_id": "hundeanmeldung", "form_data": {**form(), "x": [[[[1]]]]}}  # deep enough for any form
    assert alone.request("POST", path, citizen, json=nested).status_code == 201
