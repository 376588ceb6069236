"""A service whose database is away answers the gateway's RPC with psycopg's/eventsourcing's
connection errors: the edge says 503 service_unavailable with Retry-After (try again), never
a 500 — while a remote error that is a bug stays a 500."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from nameko.exceptions import RemoteError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.http import endpoint


class Gateway:
    config = SimpleNamespace(gateway_request_timeout=5)
    auth = SimpleNamespace(principal=lambda request, identity: None)
    identity = None

    def __init__(self, exc_type: str) -> None:
        self.exc_type = exc_type

    def correlation(self, given: str | None) -> str:
        return given or "cid"

    @endpoint("case_get")
    def handler(self, request: Request, **kwargs: object) -> None:
        raise RemoteError(self.exc_type, "couldn't get a connection after 5.00 sec")


@pytest.mark.parametrize("exc_type", ["OperationalError", "ConnectionUnavailableError", "AdminShutdown", "PoolTimeout"])
def test_database_unavailable_is_503_with_retry_after(exc_type: str) -> None:
    response = Gateway(exc_type).handler(Request(EnvironBuilder(path="/api/v1/cases/x").get_environ()))
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json" and int(response.headers["Retry-After"]) > 0
    assert json.loads(response.get_data())["code"] == "service_unavailable"


def test_a_remote_bug_is_still_a_500() -> None:
    response = Gateway("KeyError").handler(Request(EnvironBuilder(path="/api/v1/cases/x").get_environ()))
    assert response.status_code == 500
    assert json.loads(response.get_data())["code"] == "internal_error"
