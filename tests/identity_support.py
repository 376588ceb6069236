"""Helpers for the identity tests: pure ones (clock, keys, passwords) for tests/unit, and
applications on every event-store backend for tests/integration.

Backends: the in-memory POPO store, an SQLite file under tmp_path, and PostgreSQL as
:mod:`tests.support` finds it (POSTGRES_DSN or POSTGRES_*; the ``pg_env`` fixture), every
test in a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from services.identity.application import IdentityApplication
from services.identity.eid import SimulatedEidProvider
from services.identity.keys import KeySet, SigningKey, generate_private_key
from services.identity.ratelimit import LoginThrottle, MailThrottle
from tests import support
from tests.support import Clock

TEST_SETTINGS = {  # cheap password hashing, a fixed secret
    "IDENTITY_ARGON2_TIME_COST": "1",
    "IDENTITY_ARGON2_MEMORY_COST": "1024",
    "IDENTITY_ARGON2_PARALLELISM": "1",
    "VR_SECRET_KEY": "identity-tests-secret-of-at-least-32-bytes",  # no secret file under var/
}
STRONG = "Kartoffel-Regenbogen-42"
STRONG_2 = "Zwiebelturm-Abendrot-77"


def new_keyset(kid: str = "test-1", algorithm: str = "EdDSA") -> KeySet:
    private = generate_private_key(algorithm)
    return KeySet(SigningKey(kid, private, algorithm))


def _postgres_env(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The test database of :mod:`tests.support` (``pg_env``), in a schema of this test's own."""
    pg_env = request.getfixturevalue("pg_env")
    schema = f"identity_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(support.conninfo(pg_env["POSTGRES_DBNAME"]), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield {
            **pg_env,
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": "2",
            "CREATE_TABLE": "y",
        }
    finally:
        support.drop_schemas(schema, pg_env["POSTGRES_DBNAME"])


def backend_env_for(name: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if name == "popo":
        yield {"PERSISTENCE_MODULE": "eventsourcing.popo"}
    elif name == "sqlite":
        tmp_path = request.getfixturevalue("tmp_path")
        yield {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(tmp_path / "identity-events.sqlite"),
            "CREATE_TABLE": "y",
        }
    elif name == "postgres":
        yield from _postgres_env(request)
    else:  # pragma: no cover
        raise ValueError(name)


class AppFactory:
    """Builds applications on one backend; several instances share its storage
    (except POPO, which lives in one process object)."""

    def __init__(self, env: dict[str, str], clock: Clock, keyset: KeySet) -> None:
        self.env = env
        self.clock = clock
        self.keyset = keyset
        self.apps: list[IdentityApplication] = []

    def __call__(self, *, throttle: LoginThrottle | None = None, shared_throttle: bool = False, **env: str) -> IdentityApplication:
        """``shared_throttle``: the application's own counters in its store (as in production),
        instead of in-memory ones on the test clock."""
        memory = not shared_throttle
        app = IdentityApplication(
            env={**TEST_SETTINGS, **self.env, **env},
            clock=self.clock,
            keyset=self.keyset,
            eid_provider=SimulatedEidProvider(),
            throttle=throttle or (LoginThrottle(clock=self.clock.monotonic) if memory else None),
            mail_throttle=MailThrottle(clock=self.clock.monotonic) if memory else None,
        )
        self.apps.append(app)
        return app

    def close(self) -> None:
        for app in self.apps:
            app.close()


def only_mail(result: Any, template: str) -> Any:
    matching = [m for m in result.mails if m.template == template]
    assert len(matching) == 1, [m.template for m in result.mails]
    return matching[0]


def register_verified(app: IdentityApplication, email: str, password: str = STRONG, **kwargs: Any) -> str:
    result = app.register(email, password, **kwargs)
    token = only_mail(result, "verify_email").params["token"]
    return str(app.verify_email(token)["account_id"])


def all_stored_bytes(app: IdentityApplication, personal_data_ids: list[uuid.UUID]) -> bytes:
    """Every stored event of the application log, plus the given PersonalData streams."""
    blobs = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start=start, limit=500)
        if not batch:
            break
        blobs.extend(n.state for n in batch)
        start = batch[-1].id + 1
    for pid in personal_data_ids:
        blobs.extend(s.state for s in app.personal_recorder.select_events(pid))
    return b"\n".join(blobs)


def open_factory(request: pytest.FixtureRequest, backend: str, clock: Clock, keyset: KeySet) -> Iterator[AppFactory]:
    """Generator body for an ``apps`` fixture on ``backend``."""
    env_gen = backend_env_for(backend, request)
    env = next(env_gen)
    factory = AppFactory(env, clock, keyset)
    try:
        yield factory
    finally:
        factory.close()
        for _ in env_gen:  # run the backend's teardown
            pass
