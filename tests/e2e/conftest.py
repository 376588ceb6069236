"""The whole platform as real processes on PostgreSQL and RabbitMQ, reached over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests import support

VECHTA, LOHNE, LK_VECHTA, BAKUM = "03460009", "03460006", "03460000", "03460001"


@pytest.fixture(scope="session")
def platform_env(pg_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """Own schemas and an own vhost: nothing another test published can reach the platform."""
    prefix = support.unique_prefix()
    yield {**pg_env, "AMQP_URI": support.fresh_vhost("vr_e2e"), "VR_SCHEMA_PREFIX": prefix}
    support.drop_schemas(prefix)


@pytest.fixture(scope="session")
def running(platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
    with support.platform(platform_env, tmp_path_factory.mktemp("platform-logs")) as plat:
        yield plat


@pytest.fixture
def client(running: support.Platform) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield http


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until ``check`` returns a truthy value (projections are eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        time.sleep(interval)
