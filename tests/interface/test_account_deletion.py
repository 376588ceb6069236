"""Deleting a citizen's account across services, over real RPC: identity voids the account,
the submissions service erases the personal data in the citizen's cases, the notifications
service the person's messages, identity completes the deletion — and when the submissions service is away, the deletion stays pending and the
identity service's timer finishes it once the service is back."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.utils import get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided
from services.identity.service import IdentityService
from services.notifications.application import NotificationsApp
from services.notifications.service import NotificationsService
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import VECHTA
from tests.interface.test_identity_service import remote_error, verification_token

QUESTION = "Frau Erika Mustermann, bitte den Impfpass nachreichen."
PERSONAL = (b"Erika", b"Mustermann", b"Bello", b"Impfpass")


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch, service_env: str) -> None:
    """Read by the identity container when it starts."""
    monkeypatch.setenv("IDENTITY_DELETION_RETRY_INTERVAL", "1")
    monkeypatch.setenv("IDENTITY_DELETION_ERASURE_TIMEOUT", "2")


@pytest.fixture
def rpc(nameko_config: dict[str, Any]) -> Iterator[Any]:
    with ClusterRpcProxy(nameko_config) as proxy:
        yield proxy


def app_of(container: Any) -> Any:
    return get_extension(container, Provided, attr_name="app").instance


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
    return result


def citizen_with_a_case(identity: Any, rpc: Any) -> tuple[str, str, str]:
    """A verified citizen with a case that holds a question naming them."""
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    rpc.identity.register(email, password, "citizen", "Erika Mustermann", None)
    account_id = rpc.identity.verify_email(verification_token(identity, email))["account_id"]
    [result] = rpc.submissions.submit_batch([{
        "portal": VECHTA, "service_id": "hundeanmeldung", "form_version": None, "form_data": form(),
        "applicant": {"name": "Erika Mustermann"}, "principal": account_id, "trust_level": "basic",
        "idempotency_key": uuid.uuid4().hex, "correlation_id": "cid-delete",
    }])
    case_id = result["case"]["case_id"]
    rpc.submissions.act(case_id, "start-review", {}, "clerk-1")
    rpc.submissions.act(case_id, "request-information", {"question": QUESTION}, "clerk-1")
    return account_id, password, case_id


def stored_bytes(submissions: Any, case_id: str) -> bytes:
    return b"".join(s.state for s in app_of(submissions).of_case(case_id).recorder.select_events(UUID(case_id)))


def test_deletion_is_reauthenticated_and_erases_the_cases_first(start_container, rpc) -> None:
    start_container(CatalogService)
    notifications = start_container(NotificationsService)
    submissions = start_container(SubmissionsService)
    identity = start_container(IdentityService)
    account_id, password, case_id = citizen_with_a_case(identity, rpc)
    mailed = app_of(notifications)
    assert isinstance(mailed, NotificationsApp)
    outbox = get_extension(notifications, Provided, attr_name="outbox").instance

    def messages() -> list[str]:
        outbox.catch_up(mailed)
        return outbox.messages_of(account_id)

    [verification] = eventually(messages)  # the verification mail, handed over by identity

    assert remote_error(rpc.identity.delete_account, account_id, "Falsches-Passwort-1").code == "wrong_password"
    assert app_of(identity).get_account(account_id)["status"] == "active"
    assert rpc.identity.delete_account(account_id, password) == {"status": "deleted"}
    assert app_of(identity).get_account(account_id)["status"] == "deleted"
    raw = stored_bytes(submissions, case_id)
    assert not [value for value in PERSONAL if value in raw]
    message = mailed.message(verification)  # the account mail: whose it was is gone
    assert (message.erased, message.recipient) == (True, "")
    stored = b"".join(s.state for s in mailed.recorder.select_events(message.id))
    assert account_id.encode() not in stored


def test_a_deletion_that_cannot_finish_stays_pending_and_is_retried(start_container, rpc, fast_retries) -> None:
    start_container(CatalogService)
    start_container(NotificationsService)
    submissions = start_container(SubmissionsService)
    identity = start_container(IdentityService)
    account_id, password, case_id = citizen_with_a_case(identity, rpc)
    submissions.stop()  # the submissions service is away

    assert rpc.identity.delete_account(account_id, password) == {"status": "deletion_pending"}
    assert app_of(identity).get_account(account_id)["status"] == "deletion_requested"  # unusable already
    assert app_of(identity).pending_deletions() == [{"account_id": account_id, "erase_cases": True}]
    assert rpc.identity.delete_account(account_id, password) == {"status": "deletion_pending"}  # asked again
    assert app_of(identity).get_account(account_id)["status"] == "deletion_requested"  # not without the cases

    back = start_container(SubmissionsService)
    eventually(lambda: app_of(identity).pending_deletions() == [])
    assert app_of(identity).get_account(account_id)["status"] == "deleted"
    raw = stored_bytes(back, case_id)
    assert not [value for value in PERSONAL if value in raw]
