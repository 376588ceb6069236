"""Shared fixtures: real PostgreSQL (schemas per test), real RabbitMQ (a vhost per run)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import support


@pytest.fixture(scope="session")
def pg_env() -> dict[str, str]:
    """PostgreSQL connection settings as POSTGRES_* variables (from POSTGRES_DSN or the
    POSTGRES_* the Makefile sets; database vr_test if none is named); the database exists."""
    env = support.pg_env()
    support.ensure_database(env["POSTGRES_DBNAME"])
    return env


@pytest.fixture(scope="session")
def amqp_uri() -> str:
    return support.fresh_vhost("vr_test")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path, pg_env) -> Iterator[str]:
    """Run the test once on the embedded SQLite default and once on PostgreSQL."""
    prefix = support.isolate(monkeypatch, tmp_path, pg_env if request.param == "postgres" else None)
    yield request.param
    if request.param == "postgres":
        support.drop_schemas(prefix)


@pytest.fixture
def postgres(monkeypatch: pytest.MonkeyPatch, tmp_path, pg_env) -> Iterator[str]:
    """PostgreSQL only, in schemas of this test's own."""
    prefix = support.isolate(monkeypatch, tmp_path, pg_env)
    yield prefix
    support.drop_schemas(prefix)
