"""Interface tests: each nameko service in a real container (nameko's ``container_factory`` /
``runner_factory``) on a real RabbitMQ vhost and real PostgreSQL schemas of the test's own.

These need eventlet's monkey-patching before anything else is imported, so they run in
their own pytest process::

    POSTGRES_DBNAME=vr_test ... python -m nameko test tests/interface

A plain ``pytest`` run that collects them stops with that command instead of skipping
them (``make test`` passes ``--ignore=tests/interface`` to pytest and runs them so).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eventlet import patcher

from tests import support

HERE = Path(__file__).resolve().parent
MONKEY_PATCHED = patcher.is_monkey_patched("socket")

VECHTA, LOHNE, BAKUM, LK_VECHTA = "03460009", "03460006", "03460001", "03460000"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if MONKEY_PATCHED:
        return
    if any(HERE in Path(str(item.path)).resolve().parents for item in items):
        raise pytest.UsageError(
            "interface tests need eventlet: run `python -m nameko test tests/interface` "
            "(or leave them out with `--ignore=tests/interface`)"
        )


@pytest.fixture(scope="session")
def interface_amqp_uri() -> str:
    """One clean RabbitMQ vhost for the whole interface run."""
    return support.fresh_vhost("vr_interface")


@pytest.fixture
def service_env(postgres: str, monkeypatch: pytest.MonkeyPatch, interface_amqp_uri: str) -> str:
    """The environment the services read at container setup: PostgreSQL schemas and a var
    directory of this test's own (from the ``postgres`` fixture), no /metrics port, the
    test vhost."""
    monkeypatch.delenv("POSTGRES_DSN", raising=False)
    monkeypatch.setenv("METRICS_PORT", "0")
    monkeypatch.setenv("AMQP_URI", interface_amqp_uri)
    # identity: cheap password hashing for tests, the simulated eID provider
    monkeypatch.setenv("IDENTITY_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("IDENTITY_ARGON2_MEMORY_COST", "8192")
    monkeypatch.setenv("IDENTITY_EID_PROVIDER", "simulated")
    return postgres


@pytest.fixture
def nameko_config(interface_amqp_uri: str, service_env: str) -> dict[str, Any]:
    return {
        "AMQP_URI": interface_amqp_uri,
        "serializer": "json",
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{support.free_port()}",
    }


@pytest.fixture
def web_base_url(nameko_config: dict[str, Any]) -> str:
    return f"http://{nameko_config['WEB_SERVER_ADDRESS']}"


@pytest.fixture
def start_services(runner_factory: Callable[..., Any], nameko_config: dict[str, Any]) -> Iterator[Callable[..., Any]]:
    """Start service classes together in one runner; stopped gracefully (dependencies
    closed) before the schemas are dropped. ``runner_factory`` kills whatever is left."""
    runners: list[Any] = []

    def start(*service_classes: type, config: dict[str, Any] | None = None) -> Any:
        runner = runner_factory(config or nameko_config, *service_classes)
        runners.append(runner)
        runner.start()
        return runner

    yield start
    for runner in reversed(runners):
        runner.stop()


@pytest.fixture
def start_container(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> Iterator[Callable[..., Any]]:
    """Start one service class in its own container; stopped gracefully at teardown."""
    containers: list[Any] = []

    def start(service_class: type, config: dict[str, Any] | None = None) -> Any:
        container = container_factory(service_class, config or nameko_config)
        containers.append(container)
        container.start()
        return container

    yield start
    for container in reversed(containers):
        container.stop()
