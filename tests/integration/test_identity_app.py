"""The identity application on every event-store backend (in-memory POPO, SQLite and
PostgreSQL, see :mod:`tests.identity_support`): sessions and refresh tokens; registration,
login, password reset, e-mail change, trust levels, staff, privacy; durability across
application instances on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

import pytest

from services.common.authz import principal_from_claims
from services.common.tokens import TokenError
from services.identity.demo import seed_demo
from services.identity.domain import (
    EmailAlreadyInUse,
    EmailIndex,
    FourEyesRequired,
    GrantRequestExpired,
    GrantRequestNotFound,
    InvalidCredentials,
    InvalidGrant,
    InvalidInput,
    NotPermitted,
    OneTimeTokenInvalid,
    PasswordRejected,
    RefreshTokenReused,
    SessionInvalid,
)
from services.identity.domain.errors import RateLimited, WrongPassword
from services.identity.eid import EidError
from services.identity.passwords import PasswordService
from services.identity.ratelimit import account_key
from tests.identity_support import (
    STRONG,
    STRONG_2,
    AppFactory,
    all_stored_bytes,
    only_mail,
    open_factory,
    register_verified,
)
from tests.support import Clock


@pytest.fixture
def clock():
    return Clock()


# ------------------------------------------------------------- sessions in the app
class TestSessions:
    def test_refresh_rotates_and_detects_reuse(self, app):
        register_verified(app, "demo.buerger@example.org")
        first = app.login("demo.buerger@example.org", STRONG).tokens
        second = app.refresh(first.refresh_token)
        assert second.refresh_token != first.refresh_token
        assert second.session_id == first.session_id
        assert app.tokens.verify_access_token(second.access_token)["sid"] == first.session_id
        with pytest.raises(RefreshTokenReused) as reused:
            app.refresh(first.refresh_token)  # replay of a rotated token …
        assert reused.value.session_id == first.session_id  # (for the revocation broadcast)
        with pytest.raises(SessionInvalid):
            app.refresh(second.refresh_token)  # … revoked the whole session
        assert app.introspect(second.access_token) == {"active": False}

    def test_logout_needs_the_refresh_tokens_secret(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        intruder = register_verified(app, "other@example.org", STRONG_2)
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        other = app.login("demo.buerger@example.org", STRONG).tokens
        session_hex = uuid.UUID(tokens.session_id).hex
        for wrong in (f"{session_hex}.geraten", session_hex, "garbage"):  # the session id alone is not enough
            with pytest.raises(SessionInvalid):
                app.logout(wrong, account_id)
        with pytest.raises(SessionInvalid):
            app.logout(tokens.refresh_token, intruder)  # not the caller's session
        assert app.introspect(tokens.access_token)["active"] is True
        assert app.logout(tokens.refresh_token, account_id) == tokens.session_id
        assert app.logout(tokens.refresh_token, account_id) == tokens.session_id  # again: still ended, no error
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        assert app.introspect(tokens.access_token) == {"active": False}
        # The access token itself stays cryptographically valid until exp (≤ 10 min):
        assert app.tokens.verify_access_token(tokens.access_token)["sid"] == tokens.session_id
        assert app.refresh(other.refresh_token)  # other sessions unaffected

    def test_logout_with_a_rotated_out_token_is_a_replay(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        first = app.login("demo.buerger@example.org", STRONG).tokens
        second = app.refresh(first.refresh_token)
        with pytest.raises(RefreshTokenReused) as reused:
            app.logout(first.refresh_token, account_id)
        assert reused.value.session_id == first.session_id
        with pytest.raises(SessionInvalid):
            app.refresh(second.refresh_token)

    def test_logout_everywhere(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        a = app.login("demo.buerger@example.org", STRONG).tokens
        c = app.login("demo.buerger@example.org", STRONG).tokens
        app.logout_everywhere(account_id)
        for tokens in (a, c):
            assert app.introspect(tokens.access_token) == {"active": False}
        fresh = app.login("demo.buerger@example.org", STRONG).tokens
        assert app.refresh(fresh.refresh_token)

    def test_idle_timeout_and_absolute_lifetime(self, app, clock):
        register_verified(app, "demo.buerger@example.org")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        assert tokens.refresh_expires_in == 2 * 3600
        clock.advance(2 * 3600 + 1)
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        for _ in range(6):  # keep refreshing every 110 minutes
            clock.advance(110 * 60)
            tokens = app.refresh(tokens.refresh_token)
        assert tokens.refresh_expires_in <= 2 * 3600
        clock.advance(tokens.refresh_expires_in)
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)  # 12 h absolute limit reached

    def test_access_token_expires_with_the_app_clock(self, app, clock):
        register_verified(app, "demo.buerger@example.org")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        clock.advance(631)
        assert app.introspect(tokens.access_token) == {"active": False}
        with pytest.raises(TokenError):
            app.tokens.verify_access_token(tokens.access_token)

    def test_principal_from_token_matches_account(self, app):
        created = app.create_staff_account("sb@vechta.example", kind="clerk", password=STRONG)
        app.verify_email(created.mails[0].params["token"])
        app.grant_role(created.account_id, "03460009", "clerk", ["hund.steuer"])
        tokens = app.login("sb@vechta.example", STRONG).tokens
        from_token = principal_from_claims(app.tokens.verify_access_token(tokens.access_token))
        assert from_token == app.resolve_principal(created.account_id)


# --------------------------------------------- accounts, credentials, privacy in the app
class TestRegistration:
    def test_register_verify_login(self, app):
        result = app.register("Neu.Buerger@Example.org", STRONG, display_name="Neu Bürger")
        assert result.public_response() == {"status": "accepted"}
        mail = only_mail(result, "verify_email")
        assert mail.to == "neu.buerger@example.org"
        assert app.login("neu.buerger@example.org", STRONG).error == "email_not_verified"
        verified = app.verify_email(mail.params["token"])
        assert verified["email_verified"] is True
        login = app.login(" NEU.buerger@example.org", STRONG, client_ip="192.0.2.10")
        assert login.ok and login.tokens is not None
        claims = app.tokens.verify_access_token(login.tokens.access_token)
        assert claims["sub"] == verified["account_id"]
        assert (claims["kind"], claims["trust_level"], claims["grants"]) == ("citizen", "basic", [])
        view = app.get_account(verified["account_id"])
        assert view["email"] == "neu.buerger@example.org" and view["display_name"] == "Neu Bürger"

    def test_existing_address_same_response_other_mail(self, app):
        register_verified(app, "demo.buerger@example.org")
        again = app.register(" Demo.Buerger@example.org", STRONG_2)
        assert again.public_response() == {"status": "accepted"}
        assert [(m.template, m.to, dict(m.params)) for m in again.mails] == [
            ("account_exists", "demo.buerger@example.org", {})
        ]
        assert app.login("demo.buerger@example.org", STRONG).ok  # untouched
        assert not app.login("demo.buerger@example.org", STRONG_2).ok

    def test_policy_errors_do_not_depend_on_existence(self, app):
        register_verified(app, "demo.buerger@example.org")
        for email in ("demo.buerger@example.org", "nobody@example.org"):
            with pytest.raises(PasswordRejected):
                app.register(email, "passwort123")
        with pytest.raises(NotPermitted):
            app.register("x@example.org", STRONG, kind="clerk")
        with pytest.raises(InvalidInput):
            app.register("firma@example.org", STRONG, kind="organisation")

    def test_organisation_account(self, app):
        account_id = register_verified(app, "firma@example.org", kind="organisation", organisation_name="Muster GmbH")
        assert app.get_account(account_id)["organisation_name"] == "Muster GmbH"
        assert app.get_account(account_id)["kind"] == "organisation"

    def test_verification_tokens(self, app, clock):
        first = only_mail(app.register("v@example.org", STRONG), "verify_email").params["token"]
        with pytest.raises(OneTimeTokenInvalid):
            app.verify_email(first[:-2] + ("AA" if not first.endswith("AA") else "BB"))
        with pytest.raises(OneTimeTokenInvalid):
            app.verify_email("garbage")
        clock.advance(48 * 3600 + 1)
        with pytest.raises(OneTimeTokenInvalid):
            app.verify_email(first)
        resent = only_mail(app.resend_verification("v@example.org"), "verify_email").params["token"]
        app.verify_email(resent)
        with pytest.raises(OneTimeTokenInvalid):
            app.verify_email(resent)  # single use
        assert app.resend_verification("v@example.org").mails == ()
        assert app.resend_verification("unknown@example.org").mails == ()


class TestLogin:
    def test_unknown_and_wrong_password_look_the_same(self, app):
        register_verified(app, "demo.buerger@example.org")
        wrong = app.login("demo.buerger@example.org", STRONG_2)
        unknown = app.login("niemand@example.org", STRONG_2)
        malformed = app.login("not an address", STRONG_2)
        assert wrong.error == unknown.error == malformed.error == "invalid_credentials"
        assert wrong.tokens is unknown.tokens is None
        assert wrong.mails == unknown.mails == ()

    def test_rate_limit_backoff_also_for_unknown_addresses(self, app, clock):
        for email in ("demo.buerger@example.org", "niemand@example.org"):
            if email.startswith("demo"):
                register_verified(app, email)
            results = [app.login(email, "falsch-falsch-falsch") for _ in range(4)]
            assert [r.error for r in results] == ["invalid_credentials"] * 3 + ["rate_limited"]
            assert results[2].retry_after == 1 and results[3].retry_after == 1
            clock.advance(1)
            assert app.login(email, "falsch-falsch-falsch").retry_after == 2
        clock.advance(2)
        assert app.login("demo.buerger@example.org", STRONG).ok

    def test_admin_lock_and_unlock(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        app.lock_account(account_id, by="admin-1", reason="fraud_suspicion")
        assert app.login("demo.buerger@example.org", STRONG).error == "account_locked"
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        token = only_mail(app.request_password_reset("demo.buerger@example.org"), "password_reset").params["token"]
        app.reset_password(token, STRONG_2)
        assert app.login("demo.buerger@example.org", STRONG_2).error == "account_locked"  # reset ≠ unlock
        app.unlock_account(account_id, by="admin-1")
        assert app.login("demo.buerger@example.org", STRONG_2).ok

    def test_rehash_after_parameter_change(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        app.passwords = PasswordService(time_cost=2, memory_cost=2048, parallelism=1)
        assert app.login("demo.buerger@example.org", STRONG).ok
        personal = app.personal_repository.get(app._get_account(account_id).personal_data_id)
        assert not app.passwords.needs_rehash(personal.password_hash)
        assert "t=2" in personal.password_hash
        assert app.login("demo.buerger@example.org", STRONG).ok


class TestRevocations:
    """What a gateway that missed the broadcasts asks for: tokens voided within an access
    token's lifetime, derived from the event store."""

    def test_recent_revocations(self, app, clock):
        citizen = register_verified(app, "demo.buerger@example.org")
        other = register_verified(app, "other@example.org", STRONG_2)
        clerk = app.create_staff_account("sb@vechta.example", kind="clerk", password=STRONG, created_by="op").account_id
        app.grant_role(clerk, "03460009", "clerk", ["*"])
        aged = app.login("demo.buerger@example.org", STRONG).tokens
        app.logout(aged.refresh_token, citizen)
        app.change_password(other, STRONG_2, STRONG)
        horizon = app.recent_revocations()["horizon"]
        assert horizon >= app.settings.access_token_ttl
        clock.advance(horizon + 1)  # the access tokens those voided have expired by now

        since = clock().timestamp()
        ended = app.login("demo.buerger@example.org", STRONG).tokens
        app.logout(ended.refresh_token, citizen)
        replayed = app.login("demo.buerger@example.org", STRONG).tokens
        app.refresh(replayed.refresh_token)
        with pytest.raises(RefreshTokenReused):
            app.refresh(replayed.refresh_token)
        clock.advance(5)
        app.revoke_role(clerk, "03460009", "clerk")
        app.lock_account(other, by="admin")
        app.logout_everywhere(citizen)
        listed = app.recent_revocations()
        assert listed["sessions"] == {ended.session_id: since, replayed.session_id: since}
        assert listed["subjects"] == {clerk: since + 5, other: since + 5, citizen: since + 5}

        token = only_mail(app.request_password_reset("other@example.org"), "password_reset").params["token"]
        clock.advance(5)
        app.reset_password(token, STRONG_2)
        assert app.recent_revocations()["subjects"][other] == since + 10

        clock.advance(horizon + 1)
        assert app.recent_revocations() == {"horizon": horizon, "sessions": {}, "subjects": {}}


class TestPasswordReset:
    def test_reset_flow(self, app, clock):
        register_verified(app, "demo.buerger@example.org")
        session = app.login("demo.buerger@example.org", STRONG).tokens
        unknown = app.request_password_reset("niemand@example.org")
        result = app.request_password_reset("Demo.Buerger@example.org")
        assert unknown.public_response() == result.public_response()
        assert unknown.mails == ()
        token = only_mail(result, "password_reset").params["token"]
        assert app.request_password_reset("demo.buerger@example.org").mails == ()  # throttled
        with pytest.raises(PasswordRejected):
            app.reset_password(token, "passwort123")
        changed = app.reset_password(token, STRONG_2)  # token survived the rejected attempt
        assert changed.account_id == app.lookup_account_id("demo.buerger@example.org")  # (for the broadcast)
        assert only_mail(changed, "password_changed").to == "demo.buerger@example.org"
        with pytest.raises(OneTimeTokenInvalid):
            app.reset_password(token, "Noch-ein-anderes-Passwort-1")
        assert not app.login("demo.buerger@example.org", STRONG).ok
        assert app.login("demo.buerger@example.org", STRONG_2).ok
        with pytest.raises(SessionInvalid):
            app.refresh(session.refresh_token)  # reset ended old sessions
        clock.advance(61)
        late = only_mail(app.request_password_reset("demo.buerger@example.org"), "password_reset").params["token"]
        clock.advance(3601)
        with pytest.raises(OneTimeTokenInvalid):
            app.reset_password(late, "Noch-ein-anderes-Passwort-1")

    def test_reset_verifies_unverified_address(self, app):
        app.register("v@example.org", STRONG)
        token = only_mail(app.request_password_reset("v@example.org"), "password_reset").params["token"]
        app.reset_password(token, STRONG_2)
        assert app.login("v@example.org", STRONG_2).ok

    def test_change_password(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        session = app.login("demo.buerger@example.org", STRONG).tokens
        with pytest.raises(InvalidCredentials):
            app.change_password(account_id, "falsch-falsch-falsch", STRONG_2)
        app.change_password(account_id, STRONG, STRONG_2)
        with pytest.raises(SessionInvalid):
            app.refresh(session.refresh_token)
        assert app.login("demo.buerger@example.org", STRONG_2).ok


class TestEmailChange:
    def test_change_and_release(self, app):
        account_id = register_verified(app, "alt@example.org")
        with pytest.raises(InvalidCredentials):
            app.request_email_change(account_id, "neu@example.org", "falsch-falsch-falsch")
        result = app.request_email_change(account_id, "Neu@example.org", STRONG)
        assert only_mail(result, "email_change_notice").to == "alt@example.org"
        confirm = only_mail(result, "confirm_email_change")
        assert confirm.to == "neu@example.org"
        assert app.login("alt@example.org", STRONG).ok  # nothing changed yet
        assert app.confirm_email_change(confirm.params["token"]) == {"account_id": account_id, "email": "neu@example.org"}
        assert app.login("neu@example.org", STRONG).ok
        assert app.login("alt@example.org", STRONG).error == "invalid_credentials"
        assert app.lookup_account_id("alt@example.org") is None
        other = register_verified(app, "alt@example.org", STRONG_2)  # released address is reusable
        assert other != account_id
        with pytest.raises(OneTimeTokenInvalid):
            app.confirm_email_change(confirm.params["token"])

    def test_address_in_use(self, app):
        first = register_verified(app, "eins@example.org")
        register_verified(app, "zwei@example.org")
        result = app.request_email_change(first, "zwei@example.org", STRONG)
        assert [m.template for m in result.mails] == ["email_in_use", "email_change_notice"]
        assert result.public_response() == {"status": "accepted"}

    def test_crash_between_the_two_writes_is_repaired_on_read(self, app):
        # Simulate a process dying after the event-log write of confirm_email_change
        # and before the PersonalData write: the next read catches up.
        account_id = register_verified(app, "alt@example.org")
        token = only_mail(app.request_email_change(account_id, "neu@example.org", STRONG), "confirm_email_change")
        account = app._get_account(account_id)
        account.confirm_email_change(app._secret_hash(token.params["token"]), app.clock())
        new_index = EmailIndex.claim_new(app._index_id("neu@example.org"), account.id, app.clock())
        old_index = app._get_index("alt@example.org")
        old_index.release(account.id, app.clock())
        app.save(account, new_index, old_index)  # … and no PersonalData write
        assert app.get_account(account_id)["email"] == "neu@example.org"
        assert app.login("neu@example.org", STRONG).ok

    def test_race_for_the_same_new_address(self, app):
        first = register_verified(app, "eins@example.org")
        second = register_verified(app, "zwei@example.org")
        t1 = only_mail(app.request_email_change(first, "ziel@example.org", STRONG), "confirm_email_change")
        t2 = only_mail(app.request_email_change(second, "ziel@example.org", STRONG), "confirm_email_change")
        app.confirm_email_change(t1.params["token"])
        with pytest.raises(EmailAlreadyInUse):
            app.confirm_email_change(t2.params["token"])
        assert app.lookup_account_id("ziel@example.org") == first
        assert app.login("zwei@example.org", STRONG).ok


class TestTrustLevels:
    def test_simulated_eid_raises_trust(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        start = app.start_eid_verification(account_id, "https://rathaus.example/eid/return")
        assert start["provider"] == "simulated-eid" and "state=" in start["redirect_url"]
        state = start["redirect_url"].split("state=")[1].split("&")[0]
        callback = {"state": state, "level": "substantial", "given_name": "Erika",
                    "family_name": "Mustermann", "birth_date": "1964-08-12", "city": "Vechta"}
        assert app.complete_eid_verification(account_id, callback) == {"trust_level": "substantial", "raised": True}
        with pytest.raises(OneTimeTokenInvalid):
            app.complete_eid_verification(account_id, callback)  # single use
        refreshed = app.refresh(tokens.refresh_token)
        assert app.tokens.verify_access_token(refreshed.access_token)["trust_level"] == "substantial"
        export = app.export_account_data(account_id)
        assert export["personal_data"]["eid"]["attributes"]["family_name"] == "Mustermann"
        assert "TrustLevelRaised" in [e["event"] for e in export["history"]]
        # never lowered
        start = app.start_eid_verification(account_id, "https://rathaus.example/eid/return")
        state = start["redirect_url"].split("state=")[1].split("&")[0]
        lower = app.complete_eid_verification(account_id, {**callback, "state": state, "level": "substantial"})
        assert lower == {"trust_level": "substantial", "raised": False}

    def test_state_is_bound_to_account_and_expires(self, app, clock):
        alice = register_verified(app, "alice@example.org")
        bob = register_verified(app, "bob@example.org")
        start = app.start_eid_verification(alice, "/return")
        state = start["redirect_url"].split("state=")[1].split("&")[0]
        callback = {"state": state, "level": "high", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01"}
        with pytest.raises(OneTimeTokenInvalid):
            app.complete_eid_verification(bob, callback)
        with pytest.raises(OneTimeTokenInvalid):
            app.complete_eid_verification(alice, {**callback, "state": "forged"})
        with pytest.raises(EidError):
            app.complete_eid_verification(alice, {**callback, "level": "basic"})
        clock.advance(15 * 60 + 1)
        with pytest.raises(OneTimeTokenInvalid):
            app.complete_eid_verification(alice, callback)
        assert app.get_account(alice)["trust_level"] == "basic"

    def test_without_provider(self, apps):
        app = apps()
        app.eid_provider = None
        account_id = register_verified(app, "demo.buerger@example.org")
        with pytest.raises(NotPermitted):
            app.start_eid_verification(account_id, "/return")


class TestStaffAndRoles:
    def test_grant_and_revoke(self, app):
        created = app.create_staff_account("sb@vechta.example", kind="clerk", password=STRONG, created_by="op")
        app.verify_email(only_mail(created, "verify_email").params["token"])
        tokens = app.login("sb@vechta.example", STRONG).tokens
        assert app.tokens.verify_access_token(tokens.access_token)["grants"] == []
        grants = app.grant_role(created.account_id, "03460009", "clerk", ["gewerbe.anmeldung", "hund.steuer"])
        assert grants == [{"tenant": "03460009", "role": "clerk", "service_keys": ["gewerbe.anmeldung", "hund.steuer"]}]
        app.grant_role(created.account_id, "03460006", "team_lead", ["*"], granted_by="admin")
        refreshed = app.refresh(tokens.refresh_token)
        claims = app.tokens.verify_access_token(refreshed.access_token)
        assert claims["kind"] == "clerk"
        assert {(g["tenant"], g["role"]) for g in claims["grants"]} == {("03460009", "clerk"), ("03460006", "team_lead")}
        assert app.revoke_role(created.account_id, "03460009", "clerk") == [
            {"tenant": "03460006", "role": "team_lead", "service_keys": ["*"]}
        ]
        with pytest.raises(InvalidGrant):
            app.revoke_role(created.account_id, "03460009", "clerk")
        principal = app.resolve_principal(created.account_id)
        assert principal.kind == "clerk" and [g.tenant for g in principal.grants] == ["03460006"]

    def test_a_requested_role_needs_a_second_person(self, app):
        """Issue #9: an admin who creates an account (an alias, perhaps) and asks for a clerk
        role for it reaches no case through it until another admin approves."""
        vechta, lohne = "03460009", "03460006"
        created = app.create_staff_account("alias@vechta.example", kind="clerk", password=STRONG, created_by="admin-a")
        app.verify_email(only_mail(created, "verify_email").params["token"])
        alias = created.account_id
        tokens = app.login("alias@vechta.example", STRONG).tokens
        request = app.request_grant(alias, vechta, "clerk", ["*"], requested_by="admin-a")
        assert request["requested_by"] == "admin-a" and request["requested_at"].endswith("+00:00")
        assert app.resolve_principal(alias).grants == ()
        tokens = app.refresh(tokens.refresh_token)
        assert app.tokens.verify_access_token(tokens.access_token)["grants"] == []
        overview = app.staff_grants(alias, vechta)
        assert overview["grants"] == [] and [p["request_id"] for p in overview["pending"]] == [request["request_id"]]
        assert app.staff_grants(alias, lohne)["pending"] == []
        for same_person in ("admin-a", alias):
            with pytest.raises(FourEyesRequired):
                app.approve_grant(alias, vechta, request["request_id"], approved_by=same_person)
        with pytest.raises(GrantRequestNotFound):
            app.approve_grant(alias, lohne, request["request_id"], approved_by="admin-b")
        with pytest.raises(GrantRequestNotFound):
            app.approve_grant(alias, vechta, "erfunden", approved_by="admin-b")
        assert app.resolve_principal(alias).grants == ()

        approved = app.approve_grant(alias, vechta, request["request_id"], approved_by="admin-b")
        assert approved["grants"] == [{"tenant": vechta, "role": "clerk", "service_keys": ["*"]}] and approved["pending"] == []
        claims = app.tokens.verify_access_token(app.refresh(tokens.refresh_token).access_token)
        assert claims["grants"] == [{"tenant": vechta, "role": "clerk", "service_keys": ["*"]}]

        lead = app.request_grant(alias, vechta, "team_lead", ["hundeanmeldung"], requested_by="admin-b")
        app.reject_grant(alias, vechta, lead["request_id"], rejected_by="admin-a")
        app.revoke_role(alias, vechta, "clerk", revoked_by="admin-b")
        history = app.grant_history(alias, vechta)
        assert [(e["action"], e["role"], e["by"]) for e in history["items"]] == [
            ("requested", "clerk", "admin-a"),
            ("approved", "clerk", "admin-b"),
            ("requested", "team_lead", "admin-b"),
            ("rejected", "team_lead", "admin-a"),
            ("revoked", "clerk", "admin-b"),
        ]
        assert history["account_id"] == alias and all(e["at"].endswith("+00:00") for e in history["items"])
        assert app.grant_history(alias, lohne)["items"] == []
        assert app.resolve_principal(alias).grants == ()

    def test_invitation_without_password(self, app):
        created = app.create_staff_account("admin@lohne.example", kind="tenant_admin", display_name="Admin Lohne")
        invitation = only_mail(created, "staff_invitation")
        assert app.login("admin@lohne.example", STRONG).error == "invalid_credentials"
        app.reset_password(invitation.params["token"], STRONG)
        assert app.login("admin@lohne.example", STRONG).ok
        with pytest.raises(EmailAlreadyInUse):
            app.create_staff_account("admin@lohne.example", kind="clerk")
        with pytest.raises(NotPermitted):
            app.create_staff_account("b@example.org", kind="citizen")

    def test_citizens_cannot_hold_roles(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        with pytest.raises(InvalidGrant):
            app.grant_role(account_id, "03460009", "clerk", ["*"])


class TestPrivacy:
    def test_export_then_delete_erases_personal_data(self, app):
        account_id = register_verified(app, "demo.buerger@example.org", display_name="Erika Mustermann")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        export = app.export_account_data(account_id)
        json.dumps(export)  # JSON-able
        assert export["personal_data"]["email"] == "demo.buerger@example.org"
        assert export["account"]["display_name"] == "Erika Mustermann"
        assert [s["session_id"] for s in export["sessions"]] == [tokens.session_id]
        assert [e["event"] for e in export["history"]][:3] == [
            "AccountRegistered", "EmailVerificationRequested", "EmailVerified"
        ]
        text = json.dumps(export)
        assert "argon2" not in text and "_hash" not in text
        personal_id = app._get_account(account_id).personal_data_id
        assert b"demo.buerger@example.org" in all_stored_bytes(app, [personal_id])

        app.request_deletion(account_id, STRONG)
        deleted = app.complete_deletion(account_id)
        assert only_mail(deleted, "account_deleted").to == "demo.buerger@example.org"
        stored = all_stored_bytes(app, [personal_id])
        for needle in (b"demo.buerger@example.org", b"Erika", b"Mustermann", b"$argon2"):
            assert needle not in stored
        assert app.login("demo.buerger@example.org", STRONG).error == "invalid_credentials"
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        assert app.introspect(tokens.access_token) == {"active": False}
        after = app.export_account_data(account_id)
        assert after["personal_data"] is None and after["account"]["status"] == "deleted"
        assert after["account"]["email"] is None
        assert app.complete_deletion(account_id).mails == ()  # idempotent
        assert register_verified(app, "demo.buerger@example.org") != account_id  # address released


class TestDeletion:
    """Deleting an account is two steps with the applicant's cases erased in between (by
    the service): the request makes the account unusable at once and is kept until the
    deletion is completed."""

    def test_the_request_needs_the_current_password_like_every_reauthentication(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        with pytest.raises(WrongPassword):
            app.request_deletion(account_id, "falsch-und-lang-genug")
        for _ in range(4):
            with pytest.raises((WrongPassword, RateLimited)):
                app.request_deletion(account_id, "falsch-und-lang-genug")
        with pytest.raises(RateLimited):  # throttled like a login
            app.request_deletion(account_id, STRONG)
        assert app.get_account(account_id)["status"] == "active" and app.pending_deletions() == []

    def test_a_requested_deletion_voids_the_account_at_once_and_stays_pending(self, app):
        email = "demo.buerger@example.org"
        account_id = register_verified(app, email, display_name="Erika Mustermann")
        tokens = app.login(email, STRONG).tokens
        personal_id = app._get_account(account_id).personal_data_id
        assert app.request_deletion(account_id, STRONG) == {"account_id": account_id, "erase_cases": True}
        assert app.login(email, STRONG).error == "invalid_credentials"
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        assert app.introspect(tokens.access_token) == {"active": False}
        assert app.request_password_reset(email).mails == ()
        assert app.get_account(account_id)["status"] == "deletion_requested"
        assert app.pending_deletions() == [{"account_id": account_id, "erase_cases": True}]
        assert b"Mustermann" in all_stored_bytes(app, [personal_id])  # nothing erased before the cases are

        assert only_mail(app.complete_deletion(account_id), "account_deleted").to == email
        assert b"Mustermann" not in all_stored_bytes(app, [personal_id])
        assert app.pending_deletions() == [] and app.get_account(account_id)["status"] == "deleted"
        assert app.complete_deletion(account_id).mails == ()  # a retry changes nothing

    def test_completion_needs_a_request_and_staff_have_no_cases(self, app):
        staff = app.create_staff_account("sb@vechta.example", kind="clerk", display_name="Sachbearbeitung", password=STRONG)
        with pytest.raises(NotPermitted):
            app.complete_deletion(staff.account_id)  # not requested: nothing is deleted
        assert app.request_deletion(staff.account_id, STRONG) == {"account_id": staff.account_id, "erase_cases": False}
        app.complete_deletion(staff.account_id)
        assert app.get_account(staff.account_id)["status"] == "deleted"


class TestDemoSeed:
    def test_seed_demo(self, app):
        created = seed_demo(app)
        by_email = {c["email"]: c for c in created}
        assert set(by_email) >= {
            "demo.buerger@example.org",
            "sachbearbeitung.vechta@example.org",
            "sachbearbeitung.lohne@example.org",
            "sachbearbeitung.landkreis@example.org",
        }
        kinds = sorted(c["kind"] for c in created)
        assert kinds == ["citizen", "clerk", "clerk", "clerk", "organisation", "tenant_admin"]
        tenants = {g["tenant"] for c in created for g in c["grants"]}
        assert tenants == {"03460009", "03460006", "03460000"}
        for entry in created:
            assert app.login(entry["email"], entry["password"]).ok
        assert all(c["password"] is None for c in seed_demo(app))


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
class TestDurableBackends:
    @pytest.fixture
    def shared(self, request, store, clock, keyset):
        yield from open_factory(request, store, clock, keyset)

    def test_state_survives_restart(self, shared: AppFactory):
        first = shared()
        account_id = register_verified(first, "demo.buerger@example.org")
        tokens = first.login("demo.buerger@example.org", STRONG).tokens
        first.logout(tokens.refresh_token)
        first.close()
        second = shared()
        assert second.login("demo.buerger@example.org", STRONG).ok
        with pytest.raises(SessionInvalid):
            second.refresh(tokens.refresh_token)
        assert second.get_account(account_id)["email"] == "demo.buerger@example.org"

    def test_a_pending_role_request_is_approved_on_another_instance(self, shared: AppFactory):
        first = shared()
        created = first.create_staff_account("sb@vechta.example", kind="clerk", password=STRONG)
        request = first.request_grant(created.account_id, "03460009", "clerk", ["*"], requested_by="admin-a")
        second = shared()
        second.approve_grant(created.account_id, "03460009", request["request_id"], approved_by="admin-b")
        assert [g.role for g in first.resolve_principal(created.account_id).grants] == ["clerk"]
        assert [e["action"] for e in first.grant_history(created.account_id, "03460009")["items"]] == ["requested", "approved"]

    def test_a_role_request_expires_after_the_configured_time(self, shared: AppFactory):
        """IDENTITY_GRANT_REQUEST_TTL (an hour here): listed as expired, not approvable
        (409 ``grant_request_expired``), asked for anew; the same on another instance."""
        first = shared(IDENTITY_GRANT_REQUEST_TTL="3600")
        created = first.create_staff_account("alt@vechta.example", kind="clerk", password=STRONG)
        request = first.request_grant(created.account_id, "03460009", "clerk", ["*"], requested_by="admin-a")
        assert request["expired"] is False and request["expires_at"] > request["requested_at"]
        shared.clock.advance(3600)
        second = shared(IDENTITY_GRANT_REQUEST_TTL="3600")
        [pending] = second.staff_grants(created.account_id, "03460009")["pending"]
        assert (pending["request_id"], pending["expired"]) == (request["request_id"], True)
        with pytest.raises(GrantRequestExpired) as raised:
            second.approve_grant(created.account_id, "03460009", request["request_id"], approved_by="admin-b")
        assert raised.value.status == 409 and second.resolve_principal(created.account_id).grants == ()
        again = second.request_grant(created.account_id, "03460009", "clerk", ["*"], requested_by="admin-a")
        first.approve_grant(created.account_id, "03460009", again["request_id"], approved_by="admin-b")
        assert [g.role for g in first.resolve_principal(created.account_id).grants] == ["clerk"]
        history = first.grant_history(created.account_id, "03460009")["items"]
        assert [e["action"] for e in history] == ["requested", "expired", "requested", "approved"]

    def test_the_login_budget_is_shared_by_instances_and_survives_a_restart(self, shared: AppFactory):
        """The throttle counts in identity's own database: two instances (processes) share one
        budget, a restarted one still knows it; the window starts anew after an idle hour."""
        one, two = shared(shared_throttle=True), shared(shared_throttle=True)
        email, ip = "demo.buerger@example.org", "192.0.2.7"
        register_verified(one, email)
        # 3 free wrong passwords per account and address, then 1 s doubling: spread over two instances
        assert one.login(email, "falsch-1", client_ip=ip).error == "invalid_credentials"
        assert two.login(email, "falsch-2", client_ip=ip).error == "invalid_credentials"
        third = one.login(email, "falsch-3", client_ip=ip)
        assert (third.error, third.retry_after) == ("invalid_credentials", 1)
        assert two.login(email, STRONG, client_ip=ip).error == "rate_limited"  # the other instance waits too
        one.close()
        restarted = shared(shared_throttle=True)
        assert restarted.login(email, STRONG, client_ip=ip).error == "rate_limited"
        shared.clock.advance(1)
        fourth = restarted.login(email, "falsch-4", client_ip=ip)
        assert (fourth.error, fourth.retry_after) == ("invalid_credentials", 2)  # the count went on: 1 s, then 2 s
        shared.clock.advance(2)
        assert two.login(email, STRONG, client_ip=ip).ok  # the owner gets in once the wait is over
        # registrations (mail) share their budget too: 3 per address, then 60 s
        for app in (two, restarted, two):
            app.register("neu@example.org", STRONG_2, client_ip=ip)
        with pytest.raises(RateLimited):
            restarted.register("neu@example.org", STRONG_2, client_ip=ip)
        shared.clock.advance(3600)  # an idle hour: a new window
        assert two.login(email, "falsch-5", client_ip="192.0.2.8").error == "invalid_credentials"
        # the table names no address: keys are keyed hashes under the deployment secret
        with two.recorder.datastore.transaction(commit=False) as cur:
            cur.execute(f"SELECT key FROM {two.throttle.per_pair.store.table}")
            stored = " ".join(str(row["key"] if isinstance(row, dict) else row[0]) for row in cur.fetchall())
        assert stored and ip not in stored and account_key(email).split(":")[1] not in stored

    def test_unique_address_across_instances(self, shared: AppFactory):
        one, two = shared(), shared()
        created = one.register("demo.buerger@example.org", STRONG)
        raced = two.register("demo.buerger@example.org", STRONG_2)
        assert [m.template for m in created.mails] == ["verify_email"]
        assert [m.template for m in raced.mails] == ["account_exists"]

    def test_concurrent_claim_loses_on_the_event_store(self, shared: AppFactory, clock: Clock):
        # Both instances decided "address is free" before either saved: the EmailIndex
        # stream's optimistic concurrency lets exactly one win.
        one, two = shared(), shared()
        kwargs = {"kind": "citizen", "password_hash": None, "display_name": None,
                  "organisation_name": None, "created_by": None, "now": clock()}
        a = one._new_account(email="race@example.org", **kwargs)
        b = two._new_account(email="race@example.org", **kwargs)
        assert a is not None and b is not None
        assert one._store_new_account(*a) is True
        assert two._store_new_account(*b) is False
        assert two.personal_recorder.select_events(b[1].id) == []  # loser's PII purged
        assert two.lookup_account_id("race@example.org") == str(a[0].id)

    def test_revocations_survive_restart(self, shared: AppFactory):
        first = shared()
        account_id = register_verified(first, "demo.buerger@example.org")
        tokens = first.login("demo.buerger@example.org", STRONG).tokens
        first.logout(tokens.refresh_token, account_id)
        first.close()
        assert list(shared().recent_revocations()["sessions"]) == [tokens.session_id]

    def test_erasure_on_disk(self, shared: AppFactory):
        app = shared()
        account_id = register_verified(app, "loeschen@example.org", display_name="Max Loeschmich")
        personal_id = app._get_account(account_id).personal_data_id
        app.request_deletion(account_id, STRONG)
        assert shared().pending_deletions() == [{"account_id": account_id, "erase_cases": True}]  # durable
        app.complete_deletion(account_id)
        again = shared()
        assert again.pending_deletions() == []
        assert b"Loeschmich" not in all_stored_bytes(again, [personal_id])
        assert again.export_account_data(account_id)["personal_data"] is None
