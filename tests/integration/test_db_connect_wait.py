"""A process that meets a full PostgreSQL (no free connection slot) waits for one up to
POSTGRES_CONNECT_TIMEOUT instead of failing its start — shown on a role whose connection
limit is 1, which the server refuses the same way as max_connections."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from services.common import db


@pytest.fixture
def limited_role(pg_env: dict[str, str]):
    role = f"vr_one_{uuid.uuid4().hex[:8]}"
    admin = make_conninfo(host=pg_env["POSTGRES_HOST"], port=pg_env["POSTGRES_PORT"],
                          user=pg_env["POSTGRES_USER"], password=pg_env.get("POSTGRES_PASSWORD", ""),
                          dbname=pg_env["POSTGRES_DBNAME"])
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN CONNECTION LIMIT 1')
    try:
        yield make_conninfo(admin, user=role, password="")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_a_connection_waits_for_a_free_slot(limited_role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "10")
    held = psycopg.connect(limited_role)
    with pytest.raises(psycopg.OperationalError):  # the server refuses a second one at once
        psycopg.connect(limited_role)
    threading.Timer(1.0, held.close).start()
    began = time.monotonic()
    with db.connect_postgres(limited_role) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert time.monotonic() - began >= 0.5  # it did wait for the slot


def test_other_connection_errors_are_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "30")
    began = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        db.connect_postgres("host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2")
    assert time.monotonic() - began < 10
