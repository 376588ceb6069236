"""The whole platform as real processes on PostgreSQL and RabbitMQ, reached over HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests import support
from tests.e2e.accounts import Account, Accounts
from tests.support import eventually  # noqa: F401 - the e2e tests import it from here

VECHTA, LOHNE, LK_VECHTA, BAKUM = "03460009", "03460006", "03460000", "03460001"
PARTITIONS = os.environ.get("VR_E2E_CASE_PARTITIONS", "1")


@pytest.fixture(scope="session")
def platform_env(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Own schemas, files and vhost: nothing another test published can reach the platform."""
    prefix = support.unique_prefix()
    var = tmp_path_factory.mktemp("platform-var")
    yield {
        **pg_env, "AMQP_URI": support.fresh_vhost("vr_e2e"), "VR_SCHEMA_PREFIX": prefix, "VR_VAR_DIR": str(var),
        "IDENTITY_EID_PROVIDER": "simulated", "IDENTITY_ARGON2_TIME_COST": "1", "IDENTITY_ARGON2_MEMORY_COST": "8192",
        "IDENTITY_DELETION_RETRY_INTERVAL": "1", "IDENTITY_DELETION_ERASURE_TIMEOUT": "3",
        "HANDOVER_LEASE_SECONDS": "3",  # a crashed back-office client's lease runs out within the test
        # one case partition: a second one's relay and stores cost ~8 PostgreSQL connections,
        # and this platform runs beside the unit and integration tests within CI's 100 (two
        # partitions are proven in tests/integration/test_partitions.py; for a run of the e2e
        # tests on two: VR_E2E_CASE_PARTITIONS=2 — Vechta in 1, Lohne and Bakum in 0, since
        # test_resilience stops partition 0's relay)
        "CASE_PARTITIONS": PARTITIONS,
        "CASE_PARTITION_MAP": "03460009:1,03460006:0,03460001:0" if PARTITIONS == "2" else "",
    }
    support.drop_schemas(prefix)


@pytest.fixture(scope="session")
def running(platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
    with support.platform(platform_env, tmp_path_factory.mktemp("platform-logs")) as plat:
        yield plat


@pytest.fixture
def client(running: support.Platform) -> Iterator[httpx.Client]:
    """An anonymous client."""
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def accounts(running: support.Platform, platform_env: dict[str, str]) -> Iterator[Accounts]:
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield Accounts(platform_env, http)


def client_for(running: support.Platform, account: Account) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30, headers=account.headers)


@pytest.fixture(scope="session")
def citizen(running: support.Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    """A logged-in citizen (basic trust level)."""
    with client_for(running, accounts.citizen()) as http:
        yield http


@pytest.fixture(scope="session")
def clerk(running: support.Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    """A clerk of Vechta with every service key."""
    with client_for(running, accounts.staff([(VECHTA, "clerk", ["*"])])) as http:
        yield http


@pytest.fixture(scope="session")
def lohne_clerk(running: support.Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(running, accounts.staff([(LOHNE, "clerk", ["*"])])) as http:
        yield http


@pytest.fixture(scope="session")
def district_clerk(running: support.Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(running, accounts.staff([(LK_VECHTA, "clerk", ["*"])])) as http:
        yield http


def own_platform(scope: str, vhost: str, **extra: str) -> tuple[Callable[..., Any], ...]:
    """``platform_env``, ``running`` and ``accounts`` fixtures of a module's or package's own
    platform (assign them to those names there): for tests that leave throttles, extra cases or
    changed settings behind that no other module should meet. Each whole platform costs about
    two PostgreSQL connections per process, so only a few may run at once."""

    @pytest.fixture(scope=scope, name="platform_env")
    def _env(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
        with support.own_platform_env(pg_env, tmp_path_factory.mktemp(f"{vhost}-var"), vhost, **extra) as env:
            yield env

    @pytest.fixture(scope=scope, name="running")
    def _running(platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
        with support.platform(platform_env, tmp_path_factory.mktemp(f"{vhost}-logs")) as plat:
            yield plat

    @pytest.fixture(scope=scope, name="accounts")
    def _accounts(running: support.Platform, platform_env: dict[str, str]) -> Iterator[Accounts]:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            yield Accounts(platform_env, http)

    return _env, _running, _accounts
