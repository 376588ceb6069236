"""Readiness on the metrics port (services/common/health.py) against real PostgreSQL and
RabbitMQ: ready with both, 503 naming the broker when it cannot be reached, 503 while stopping."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import make_wsgi_app

from services.common import health
from tests import support


@pytest.fixture
def fresh_health(monkeypatch: pytest.MonkeyPatch) -> None:
    """No result of another test's checks, not stopping."""
    monkeypatch.setattr(health, "_state", {"stopping": False, "at": 0.0, "result": None})


def test_ready_names_each_dependency_and_fails_without_the_broker(postgres, amqp_uri, monkeypatch, fresh_health) -> None:
    monkeypatch.setenv("AMQP_URI", amqp_uri)
    port = support.free_port()
    health.start("projector", port, "127.0.0.1", make_wsgi_app())
    ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    assert "vr_" in httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text

    monkeypatch.setenv("AMQP_URI", f"amqp://guest:guest@127.0.0.1:{support.free_port()}/")
    monkeypatch.setattr(health, "_state", {"stopping": False, "at": 0.0, "result": None})
    down = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=15)
    assert down.status_code == 503 and down.json()["checks"]["database"] == "ok"
    assert down.json()["checks"]["broker"] != "ok"
    assert httpx.get(f"http://127.0.0.1:{port}/live", timeout=5).status_code == 200

    health.stopping()
    assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).json()["checks"] == {"process": "stopping"}
