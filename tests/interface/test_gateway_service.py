"""GatewayService (nameko ``@http``) with the catalog, submissions and identity services in
one runner: HTTP in, the batcher's ``submit_batch`` RPC behind it, and readiness."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import eventlet
import httpx
import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container, get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided
from services.gateway.service import GatewayService
from services.identity.service import IdentityService
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import VECHTA


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
        assert http.get("/api/v1/auth/verify-email", params={"token": token}).status_code == 200
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
    [event] = provided(submissions, "app").events.get(UUID(case["case_id"]))
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
    store = provided(get_container(platform, SubmissionsService), "app").recorder
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
    started = time.monotonic()
    response = httpx.get(f"{web_base_url}/health/ready", timeout=5)  # each check gives up after 2 s
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"catalog": "unavailable", "identity": "ok", "submissions": "ok"},
    }
