"""GatewayService (nameko ``@http``) with the catalog and submissions services in one runner:
HTTP in, the batcher's ``submit_batch`` RPC behind it, and readiness."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import httpx
import pytest
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_container, get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided
from services.gateway.service import GatewayService
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import VECHTA


@pytest.fixture
def platform(start_services) -> Any:
    return start_services(CatalogService, SubmissionsService, GatewayService)


@pytest.fixture
def client(web_base_url: str) -> Any:
    with httpx.Client(base_url=web_base_url, timeout=30) as http:
        yield http


def post_case(client: httpx.Client, key: str, ags: str = VECHTA, **body: Any) -> httpx.Response:
    payload = {"service_id": "hundeanmeldung", "form_data": form(), **body}
    return client.post(
        f"/api/v1/tenants/{ags}/cases",
        json=payload,
        headers={"Idempotency-Key": key, "X-Correlation-ID": f"http-{key}"},
    )


def test_submit_case_goes_through_the_batcher(platform, client: httpx.Client) -> None:
    gateway = get_container(platform, GatewayService)
    submissions = get_container(platform, SubmissionsService)
    with (
        entrypoint_waiter(submissions, "submit_batch") as batch,
        entrypoint_waiter(gateway, "submit_case") as handled,
    ):
        response = post_case(client, "gw-1")

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
    assert batch.worker_ctx.args[0][0]["idempotency_key"] == "gw-1"

    # the HTTP correlation id is stored with the event
    app = get_extension(submissions, Provided, attr_name="app").instance
    [event] = app.events.get(UUID(case["case_id"]))
    assert (event.correlation_id, event.actor) == ("http-gw-1", "anonymous")

    # a retry with the same Idempotency-Key is the same case, marked as replayed
    with entrypoint_waiter(submissions, "submit_batch"):
        again = post_case(client, "gw-1")
    assert again.status_code == 201 and again.json()["case_id"] == case["case_id"]
    assert again.headers["Idempotent-Replayed"] == "true"

    status = client.get(f"/api/v1/cases/{case['case_id']}")  # read-your-writes before any projector
    assert status.status_code == 200 and status.json()["status"] == "submitted"


def test_concurrent_submissions_all_go_through_submit_batch(platform, client: httpx.Client, web_base_url: str) -> None:
    import eventlet

    def one(n: int) -> int:
        with httpx.Client(base_url=web_base_url, timeout=30) as own:
            return post_case(own, f"gw-many-{n}").status_code

    sizes: list[int] = []
    submissions = get_container(platform, SubmissionsService)

    def count(worker_ctx: Any, result: Any, exc_info: Any) -> bool:
        sizes.append(len(worker_ctx.args[0]))
        return sum(sizes) >= 20

    with entrypoint_waiter(submissions, "submit_batch", callback=count, timeout=60):
        statuses = list(eventlet.GreenPool(20).imap(one, range(20)))
    assert statuses == [201] * 20
    assert sum(sizes) == 20, sizes  # often fewer RPCs than requests: [10, 10], [1, 19], ...


def test_submission_errors_are_problem_documents(platform, client: httpx.Client) -> None:
    invalid = form()
    del invalid["dog_name"]
    response = post_case(client, "gw-bad-1", form_data=invalid)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "form_invalid"
    assert problem["errors"] == [{"field": "/dog_name", "code": "required", "message": "Dieses Feld ist erforderlich."}]

    response = post_case(client, "gw-bad-2", service_id="no-such-service")
    assert (response.status_code, response.json()["code"]) == (404, "unknown_service")


def test_health_ready_when_all_services_run(platform, client: httpx.Client) -> None:
    assert client.get("/health/live").json() == {"status": "ok"}
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"catalog": "ok", "submissions": "ok"}}


def test_health_ready_without_catalog(start_services, web_base_url: str) -> None:
    start_services(SubmissionsService, GatewayService)
    started = time.monotonic()
    response = httpx.get(f"{web_base_url}/health/ready", timeout=5)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"catalog": "unavailable", "submissions": "ok"}}
