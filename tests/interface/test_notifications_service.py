"""NotificationsService with identity and catalog on RabbitMQ and PostgreSQL, and the
development SMTP sink as a process: identity's verification mail arrives over SMTP and its
link works; a case's confirmation goes to the address identity knows for the applicant,
names the authority catalog knows, and its state is on record."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.utils import get_container

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided
from services.identity.service import IdentityService
from services.notifications.application import NotificationsApp
from services.notifications.service import NotificationsService
from tests import support
from tests.interface.conftest import VECHTA


@pytest.fixture(scope="module")
def interface_amqp_uri() -> str:
    """A vhost of this module's own: the account mails other modules' identity services handed
    over (``call_async``) wait in ``rpc-notifications`` and must not reach this service."""
    return support.fresh_vhost("vr_notifications_if")


@pytest.fixture
def sink(monkeypatch: pytest.MonkeyPatch, service_env: str) -> Iterator[str]:
    """The development SMTP sink as its own process; the URL of its JSON API."""
    smtp_port, http_port = support.free_port(), support.free_port()
    monkeypatch.setenv("SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("MAIL_SINK_PORT", str(http_port))
    monkeypatch.setenv("NOTIFICATIONS_SEND_INTERVAL", "1")
    proc = subprocess.Popen([sys.executable, "-m", "services.notifications.sink"], cwd=support.ROOT)
    url = f"http://127.0.0.1:{http_port}/api/messages"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def provided(container: Any, kind: type) -> Any:
    return next(e.instance for e in container.extensions if isinstance(e, Provided) and isinstance(e.instance, kind))


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_the_confirmation_goes_to_the_address_identity_knows(start_services, nameko_config, sink) -> None:
    runner = start_services(NotificationsService, IdentityService, CatalogService)
    email = f"citizen-{uuid4().hex[:10]}@example.org"
    with ServiceRpcProxy("identity", nameko_config) as identity:  # the verification mail goes over SMTP too
        identity.register(email, "Gartenzaun-" + uuid4().hex[:8], "citizen", "Erika", None)
        [verification] = wait_for(lambda: httpx.get(sink, params={"to": email, "kind": "verify_email"}, timeout=3).json())
        token = verification["text"].split("#token=")[1].split()[0]
        account_id = identity.verify_email(token)["account_id"]

    app = provided(get_container(runner, NotificationsService), NotificationsApp)
    case_id = str(uuid4())
    assert app.accept({
        "event_id": str(uuid4()), "type": "case.submitted.v1", "tenant": VECHTA, "aggregate_id": case_id,
        "position": 1, "actor": account_id, "correlation_id": "c-1",
        "data": {"applicant_ref": account_id, "reference": "VEC-2026-000077"},
    }) == 1

    mails = wait_for(lambda: httpx.get(sink, params={"to": email, "kind": "case_submitted"}, timeout=3).json())
    assert [m["subject"] for m in mails] == ["Ihr Antrag VEC-2026-000077 ist eingegangen"]
    assert "Vechta" in mails[0]["text"]
    with ServiceRpcProxy("notifications", nameko_config) as rpc:
        [row] = wait_for(lambda: [r for r in rpc.case_messages(case_id) if r["status"] == "delivered"])
    assert (row["kind"], row["attempts"], row["template_version"]) == ("case_submitted", 1, 2)
