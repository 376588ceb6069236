"""Identity domain and application: accounts, credentials, abuse protection, privacy.

Application flows run on every backend (POPO, SQLite, PostgreSQL) via the ``apps``
fixture; durability across application instances runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from services.identity.demo import seed_demo
from services.identity.domain import (
    Account,
    EmailAlreadyInUse,
    EmailIndex,
    InvalidCredentials,
    InvalidEmail,
    InvalidGrant,
    InvalidInput,
    NotPermitted,
    OneTimeTokenInvalid,
    PasswordRejected,
    RefreshTokenReused,
    Session,
    SessionInvalid,
    normalise_email,
)
from services.identity.eid import EidError, SimulatedEidProvider
from services.identity.passwords import PasswordPolicy, PasswordService, load_common_passwords
from services.identity.ratelimit import LoginThrottle, RateLimiter
from tests.unit.identity_support import (
    STRONG,
    STRONG_2,
    AppFactory,
    Clock,
    all_stored_bytes,
    lenient_throttle,
    new_keyset,
    only_mail,
    open_factory,
    register_verified,
)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="module")
def keyset():
    return new_keyset()


@pytest.fixture(params=["popo", "sqlite", "postgres"])
def apps(request, clock, keyset):
    yield from open_factory(request, request.param, clock, keyset)


@pytest.fixture
def app(apps):
    return apps()


# --------------------------------------------------------------------------- values
class TestEmailRules:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("  Demo.Buerger@Example.ORG ", "demo.buerger@example.org"),
            ("anna+rathaus@example.org", "anna+rathaus@example.org"),
            ("Jürgen@Müller.de", "jürgen@müller.de"),
        ],
    )
    def test_normalise(self, raw, expected):
        assert normalise_email(raw) == expected

    @pytest.mark.parametrize("raw", ["", "no-at", "a@b", "two@@example.org", "sp ace@example.org", "x" * 300 + "@e.de"])
    def test_reject_malformed(self, raw):
        with pytest.raises(InvalidEmail):
            normalise_email(raw)


class TestPasswordPolicy:
    policy = PasswordPolicy()

    def test_list_is_loaded(self):
        assert len(load_common_passwords()) >= 200

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("kurz123!", "too_short"),
            ("x" * 257, "too_long"),
            ("passwort123", "common"),
            ("1234567890", "common"),
            ("QWERTZUIOP", "common"),
            ("Passwort2024!", "common"),
            ("Sommer2030!!", "common"),
            ("Vechta12345", "common"),
            ("aaaaaaaaaaaa", "common"),
            ("demo.buerger-2030", "contains_email"),
        ],
    )
    def test_rejected(self, password, reason):
        with pytest.raises(PasswordRejected) as caught:
            self.policy.check(password, email="demo.buerger@example.org")
        assert caught.value.reason == reason

    def test_accepted_and_normalised(self):
        assert self.policy.check(STRONG) == STRONG
        # NFKC: a full-width digit becomes an ASCII digit
        assert self.policy.check("Kartoffel-Regenbogen-\uff14\uff12") == STRONG


class TestPasswordService:
    def test_hash_verify_and_dummy(self):
        service = PasswordService(time_cost=1, memory_cost=1024, parallelism=1)
        hashed = service.hash(STRONG)
        assert hashed.startswith("$argon2id$")
        assert service.verify(hashed, STRONG)
        assert not service.verify(hashed, STRONG_2)
        assert not service.verify(None, STRONG)  # unknown account: dummy hash path
        assert not service.verify("not-a-hash", STRONG)
        assert not service.needs_rehash(hashed)
        stronger = PasswordService(time_cost=2, memory_cost=2048, parallelism=1)
        assert stronger.verify(hashed, STRONG)
        assert stronger.needs_rehash(hashed)


# ------------------------------------------------------------------------- limiter
class TestRateLimiter:
    def test_backoff_doubles_and_caps(self):
        clock = Clock()
        limiter = RateLimiter(free_attempts=3, base_delay=1, max_delay=8, clock=clock.monotonic)
        waits = [limiter.record_failure("k") for _ in range(7)]
        assert waits == [0, 0, 1, 2, 4, 8, 8]
        assert limiter.retry_after("k") == 8
        clock.advance(5)
        assert limiter.retry_after("k") == 3
        clock.advance(3)
        assert limiter.retry_after("k") == 0

    def test_forget_and_reset(self):
        clock = Clock()
        limiter = RateLimiter(free_attempts=1, base_delay=10, forget_after=60, clock=clock.monotonic)
        limiter.record_failure("k")
        assert limiter.retry_after("k") == 10
        clock.advance(61)
        assert limiter.failures("k") == 0
        limiter.record_failure("k")
        limiter.reset("k")
        assert limiter.retry_after("k") == 0

    def test_bounded_memory(self):
        limiter = RateLimiter(max_entries=100, clock=Clock().monotonic)
        for i in range(1000):
            limiter.record_failure(f"ip:{i}")
        assert len(limiter) == 100

    def test_throttle_per_account_and_ip(self):
        clock = Clock()
        throttle = LoginThrottle(
            per_account=RateLimiter(free_attempts=2, base_delay=1, clock=clock.monotonic),
            per_ip=RateLimiter(free_attempts=5, base_delay=30, clock=clock.monotonic),
        )
        for i in range(5):  # a spray over five accounts from one IP
            throttle.record_failure(f"user{i}@example.org", "198.51.100.7")
        assert throttle.retry_after("someone.else@example.org", "198.51.100.7") == 30
        assert throttle.retry_after("someone.else@example.org", "203.0.113.1") == 0
        throttle.record_failure("user0@example.org", None)
        assert throttle.retry_after("USER0@example.org ", None) == 1  # same normalised key
        throttle.record_success("user0@example.org")
        assert throttle.retry_after("user0@example.org", None) == 0
        assert throttle.retry_after("user0@example.org", "198.51.100.7") == 30  # IP budget kept


# ------------------------------------------------------------------------ aggregates
class TestAggregates:
    def test_one_time_tokens_are_single_use_and_expire(self):
        clock = Clock()
        account = Account.register(kind="citizen", personal_data_id=uuid.uuid4(), now=clock())
        account.request_email_verification("a" * 64, clock() + timedelta(hours=1), clock())
        with pytest.raises(OneTimeTokenInvalid):
            account.verify_email("b" * 64, clock())
        clock.advance(3601)
        with pytest.raises(OneTimeTokenInvalid):
            account.verify_email("a" * 64, clock())
        account.request_email_verification("c" * 64, clock() + timedelta(hours=1), clock())
        account.verify_email("c" * 64, clock())
        assert account.email_verified
        with pytest.raises(OneTimeTokenInvalid):
            account.verify_email("c" * 64, clock())

    @pytest.mark.parametrize(
        ("kind", "tenant", "role", "keys"),
        [
            ("citizen", "03460009", "clerk", ["*"]),
            ("operator", "03460009", "clerk", ["*"]),
            ("clerk", "03460009", "tenant_admin", ["*"]),
            ("clerk", "3460009", "clerk", ["*"]),
            ("clerk", "03460009", "mayor", ["*"]),
            ("clerk", "03460009", "clerk", []),
            ("clerk", "03460009", "clerk", ["*", "hund"]),
            ("clerk", "03460009", "clerk", ["Bad Key!"]),
        ],
    )
    def test_invalid_grants(self, kind, tenant, role, keys):
        clock = Clock()
        account = Account.register(kind=kind, personal_data_id=uuid.uuid4(), now=clock())
        with pytest.raises(InvalidGrant):
            account.grant_role(tenant, role, keys, clock())

    def test_session_rotation_and_reuse_detection(self):
        clock = Clock()
        session = Session.start(
            account_id=uuid.uuid4(), token_hash="h1", epoch=0, now=clock(),
            idle_ttl=timedelta(hours=1), max_age=timedelta(hours=3),
        )
        session.rotate("h1", "h2", clock(), idle_ttl=timedelta(hours=1))
        with pytest.raises(RefreshTokenReused):
            session.rotate("h1", "h3", clock(), idle_ttl=timedelta(hours=1))
        assert session.revoked
        with pytest.raises(SessionInvalid):
            session.rotate("h2", "h4", clock(), idle_ttl=timedelta(hours=1))


# -------------------------------------------------------------------- application
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

    def test_lockout_after_failures(self, apps, clock):
        app = apps(throttle=lenient_throttle(clock), IDENTITY_MAX_FAILED_LOGINS="5", IDENTITY_LOCKOUT_SECONDS="900")
        account_id = register_verified(app, "demo.buerger@example.org")
        results = [app.login("demo.buerger@example.org", "falsch-falsch-falsch") for _ in range(5)]
        assert all(r.error == "invalid_credentials" for r in results)
        assert [m.template for r in results for m in r.mails] == ["account_locked"]
        locked = app.login("demo.buerger@example.org", STRONG)
        assert locked.error == "account_locked" and locked.retry_after == 900
        assert app.get_account(account_id)["locked"] is True
        events = [e["event"] for e in app.export_account_data(account_id)["history"]]
        assert events.count("LoginFailed") == 5 and "AccountLocked" in events
        clock.advance(901)
        assert app.login("demo.buerger@example.org", STRONG).ok

    def test_password_reset_lifts_lockout(self, apps, clock):
        app = apps(throttle=lenient_throttle(clock), IDENTITY_MAX_FAILED_LOGINS="3")
        register_verified(app, "demo.buerger@example.org")
        for _ in range(3):
            app.login("demo.buerger@example.org", "falsch-falsch-falsch")
        token = only_mail(app.request_password_reset("demo.buerger@example.org"), "password_reset").params["token"]
        app.reset_password(token, STRONG_2)
        assert app.login("demo.buerger@example.org", STRONG_2).ok

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

    def test_simulated_provider_validates(self):
        provider = SimulatedEidProvider()
        with pytest.raises(EidError):
            provider.complete({"level": "high", "given_name": "A", "family_name": "B", "birth_date": "01.01.1990"})
        with pytest.raises(EidError):
            provider.complete({"level": "high", "given_name": "A", "birth_date": "1990-01-01"})
        a = provider.complete({"level": "high", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01"})
        b = provider.complete({"level": "high", "given_name": "a", "family_name": "b", "birth_date": "1990-01-01"})
        assert a.subject == b.subject and a.level == "high"


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

        deleted = app.delete_account(account_id)
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
        assert app.delete_account(account_id).mails == ()  # idempotent
        assert register_verified(app, "demo.buerger@example.org") != account_id  # address released


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


# ------------------------------------------------------------ persistent backends
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

    def test_erasure_on_disk(self, shared: AppFactory):
        app = shared()
        account_id = register_verified(app, "loeschen@example.org", display_name="Max Loeschmich")
        personal_id = app._get_account(account_id).personal_data_id
        app.delete_account(account_id)
        again = shared()
        assert b"Loeschmich" not in all_stored_bytes(again, [personal_id])
        assert again.export_account_data(account_id)["personal_data"] is None
