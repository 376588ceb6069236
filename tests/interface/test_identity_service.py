"""IdentityService in a nameko container on RabbitMQ and PostgreSQL, called over real RPC:
an account from registration to logout, the ``sessions_revoked`` broadcast every gateway
listens to, errors as remote DomainErrors, and the public keys."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import jwt
import pytest
from nameko.events import BROADCAST, event_handler
from nameko.exceptions import MethodNotFound, RemoteError
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import entrypoint_waiter
from nameko.testing.utils import get_extension

from services.common import amqp
from services.common.nameko_deps import Provided
from services.common.problems import DomainError
from services.identity.service import IdentityService
from tests.interface.conftest import VECHTA

ISSUER, AUDIENCE = "virtuelles-rathaus/identity", "virtuelles-rathaus"  # the IDENTITY_TOKEN_* defaults


class RevocationListener:
    """Hears identity's broadcast the way the gateway does (one queue per instance)."""

    name = "revocation_listener"

    @event_handler("identity", "sessions_revoked", handler_type=BROADCAST, reliable_delivery=False)
    def on_sessions_revoked(self, payload: dict[str, Any]) -> dict[str, Any]:
        return payload


@pytest.fixture
def identity(start_container, interface_amqp_uri: str) -> Any:
    """Identity, with the notifications service's RPC queue in place (no consumer): identity
    hands its mails over with ``call_async``, which a deployment's queue holds while that
    service is away — without the queue the hand-over is refused as an unknown service, and
    whether an earlier test had declared it decided the outcome."""
    conn = amqp.connect(interface_amqp_uri)
    try:
        channel = conn.channel()
        channel.exchange_declare("nameko-rpc", "topic", durable=True, auto_delete=False)
        channel.queue_declare("rpc-notifications", durable=True, auto_delete=False)
        channel.queue_bind("rpc-notifications", "nameko-rpc", routing_key="notifications.*")
    finally:
        conn.close()
    return start_container(IdentityService)


@pytest.fixture
def listener(start_container, identity) -> Any:
    return start_container(RevocationListener)


@pytest.fixture
def rpc(identity, nameko_config: dict[str, Any]) -> Any:
    with ServiceRpcProxy("identity", nameko_config) as proxy:
        yield proxy


def remote_error(call: Any, *args: Any) -> DomainError:
    """The DomainError a remote call answered (recognised by the marker in its value)."""
    with pytest.raises(RemoteError) as remote:
        call(*args)
    error = DomainError.from_json(str(remote.value.value))
    assert error is not None, remote.value
    return error


def login_refusal(rpc: Any, email: str, password: str) -> DomainError:
    """Why a login was refused. The service answers a refusal as a remote DomainError; an
    ``{"ok": false, "error": code}`` result (its earlier form) is read the same way."""
    try:
        answer = rpc.login(email, password, None)
    except RemoteError as remote:
        error = DomainError.from_json(str(remote.value))
        assert error is not None, remote
        return error
    assert answer["ok"] is False and "tokens" not in answer, answer
    return DomainError(answer["error"])


def verification_token(container: Any, email: str) -> str:
    """The token of a verification mail, from the container's own identity application
    (until the notifications service exists no mail leaves it; the development mail sink,
    DEV_MAIL_SINK, is not set here)."""
    app = get_extension(container, Provided, attr_name="app").instance
    mails = app.resend_verification(email).mails
    return next(m.params["token"] for m in mails if m.template == "verify_email")


def verified_claims(jwks: dict[str, Any], token: str) -> dict[str, Any]:
    """Check an access token with nothing but the published JWK Set (as a verifier does)."""
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [key for key in jwks["keys"] if key["kid"] == kid]
    key = jwt.PyJWK(jwk)
    return jwt.decode(token, key.key, algorithms=[jwk["alg"]], audience=AUDIENCE, issuer=ISSUER)


def test_jwks_publishes_public_keys_only(rpc) -> None:
    jwks = rpc.jwks()
    assert jwks["keys"], jwks
    for key in jwks["keys"]:
        assert key["kid"] and key["use"] == "sig" and key["alg"] in ("EdDSA", "ES256")
        assert "d" not in key  # no private part


def test_register_verify_login_refresh_logout(identity, listener, rpc) -> None:
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    assert rpc.register(email, password, "citizen", "Erika Muster", None) == {"status": "accepted"}
    assert login_refusal(rpc, email, password).code == "email_not_verified"

    verified = rpc.verify_email(verification_token(identity, email))
    account_id = verified["account_id"]
    assert verified["email_verified"] is True

    login = rpc.login(email, password, "203.0.113.7")
    assert login["ok"] is True
    tokens = login["tokens"]
    jwks = rpc.jwks()
    claims = verified_claims(jwks, tokens["access_token"])
    assert (claims["sub"], claims["kind"], claims["trust_level"]) == (account_id, "citizen", "basic")
    assert claims["sid"] == tokens["session_id"]

    refreshed = rpc.refresh(tokens["refresh_token"])
    assert refreshed["session_id"] == tokens["session_id"]
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert verified_claims(jwks, refreshed["access_token"])["sid"] == tokens["session_id"]

    # logout needs the refresh token's secret; then the session ends and every gateway hears it at once
    assert remote_error(rpc.logout, account_id, f"{uuid.UUID(claims['sid']).hex}.geraten").code == "session_invalid"
    with entrypoint_waiter(listener, "on_sessions_revoked", timeout=10) as broadcast:
        assert rpc.logout(account_id, refreshed["refresh_token"]) is None
    revoked = broadcast.get()
    assert revoked["session_id"] == tokens["session_id"]
    assert revoked["until"] >= claims["exp"]  # until every access token of the session has expired

    assert remote_error(rpc.refresh, refreshed["refresh_token"]).code == "session_invalid"
    assert list(rpc.recent_revocations()["sessions"]) == [tokens["session_id"]]  # also for gateways not listening


def test_a_replayed_refresh_token_and_a_password_reset_are_broadcast(identity, listener, rpc) -> None:
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    rpc.register(email, password, "citizen", None, None)
    account_id = rpc.verify_email(verification_token(identity, email))["account_id"]
    tokens = rpc.login(email, password, None)["tokens"]
    rpc.refresh(tokens["refresh_token"])
    with entrypoint_waiter(listener, "on_sessions_revoked", timeout=10) as broadcast:
        assert remote_error(rpc.refresh, tokens["refresh_token"]).code == "session_invalid"
    assert broadcast.get()["session_id"] == tokens["session_id"]

    app = get_extension(identity, Provided, attr_name="app").instance
    reset = next(m.params["token"] for m in app.request_password_reset(email).mails)
    with entrypoint_waiter(listener, "on_sessions_revoked", timeout=10) as broadcast:
        rpc.reset_password(reset, password + "-neu")
    assert broadcast.get()["account_id"] == account_id


def test_wrong_password_is_invalid_credentials(identity, rpc) -> None:
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    rpc.register(email, password, "citizen", None, None)
    rpc.verify_email(verification_token(identity, email))

    # one answer for a wrong password and an unknown address
    for address in (email, f"nobody-{uuid.uuid4().hex[:8]}@example.org"):
        refused = login_refusal(rpc, address, "Falsches-Passwort-1")
        assert (refused.code, refused.status) == ("invalid_credentials", 401)


def test_errors_cross_rpc_as_domain_errors(rpc) -> None:
    assert remote_error(rpc.verify_email, f"{uuid.uuid4().hex}.not-a-token").code == "token_invalid"
    assert remote_error(rpc.refresh, "garbage").code == "session_invalid"
    refused = remote_error(rpc.register, "not-an-address", "Gartenzaun-42-Regen", "citizen", None, None)
    assert refused.code == "invalid_email"


def test_registration_and_resend_are_rate_limited_per_address(rpc) -> None:
    email, password = f"citizen-{uuid.uuid4().hex[:10]}@example.org", "Gartenzaun-" + secrets.token_hex(6)
    for _ in range(3):  # new or not, the address gets three mails; then it waits
        assert rpc.register(email, password, "citizen", None, None, "203.0.113.9") == {"status": "accepted"}
    for call, args in ((rpc.register, (email, password, "citizen", None, None, "198.51.100.1")),
                       (rpc.resend_verification, (email, "198.51.100.1"))):
        refused = remote_error(call, *args)
        assert (refused.code, refused.status, refused.params) == ("rate_limited", 429, {"retry_after": 60})


def test_roles_are_requested_and_approved_by_a_second_person(identity, rpc) -> None:
    """Issue #9: no RPC gives a role in one step; a request needs another person's approval."""
    alias = rpc.create_staff_account(f"alias-{uuid.uuid4().hex[:10]}@example.org", "clerk", None, "admin-a")["account_id"]
    with pytest.raises(MethodNotFound):
        rpc.grant_role(alias, VECHTA, "clerk", ["*"], "admin-a")
    request = rpc.request_grant(alias, VECHTA, "clerk", ["*"], "admin-a")
    assert rpc.get_account(alias)["grants"] == []
    assert rpc.staff_grants(alias, VECHTA)["pending"] == [request]
    assert remote_error(rpc.approve_grant, alias, VECHTA, request["request_id"], "admin-a").code == "four_eyes_required"
    assert remote_error(rpc.approve_grant, alias, VECHTA, "erfunden", "admin-b").code == "grant_request_not_found"
    approved = rpc.approve_grant(alias, VECHTA, request["request_id"], "admin-b")
    assert approved["grants"] == [{"tenant": VECHTA, "role": "clerk", "service_keys": ["*"]}]
    rejected = rpc.reject_grant(alias, VECHTA, rpc.request_grant(alias, VECHTA, "team_lead", ["*"], "admin-b")["request_id"], "admin-a")
    assert rejected["pending"] == []
    history = rpc.grant_history(alias, VECHTA)["items"]
    assert [(e["action"], e["by"]) for e in history] == [
        ("requested", "admin-a"), ("approved", "admin-b"), ("requested", "admin-b"), ("rejected", "admin-a"),
    ]


def test_staff_with_role_names_the_tenants_verified_team_leads_over_rpc(identity, rpc) -> None:
    """Issue #16: the rules consumer asks who gets an overdue case's notice; a role given
    four-eyes counts once approved, an invited lead whose address is unverified does not."""
    app = get_extension(identity, Provided, attr_name="app").instance
    email = f"lead-{uuid.uuid4().hex[:10]}@example.org"
    created = app.create_staff_account(email, kind="clerk", password="Kartoffel-Regenbogen-42", created_by="admin-a")
    app.verify_email(next(m.params["token"] for m in created.mails if m.template == "verify_email"))
    invited = app.create_staff_account(f"invited-{uuid.uuid4().hex[:10]}@example.org", kind="clerk", created_by="admin-a").account_id
    for account_id in (created.account_id, invited):
        request = rpc.request_grant(account_id, VECHTA, "team_lead", ["*"], "admin-a")
        assert rpc.staff_with_role(VECHTA, "team_lead").count({"account_id": account_id, "email": email}) == 0
        rpc.approve_grant(account_id, VECHTA, request["request_id"], "admin-b")
    leads = rpc.staff_with_role(VECHTA, "team_lead")
    assert {"account_id": created.account_id, "email": email} in leads
    assert invited not in [lead["account_id"] for lead in leads]
    assert created.account_id not in [lead["account_id"] for lead in rpc.staff_with_role("03460006", "team_lead")]
    assert remote_error(rpc.staff_with_role, VECHTA, "mayor").code == "invalid_grant"
