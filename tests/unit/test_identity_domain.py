"""Identity domain without storage: e-mail and password rules, password hashing, abuse
protection, the aggregates, the simulated eID provider. The application on the event
stores (POPO, SQLite, PostgreSQL): tests/integration/test_identity_app.py.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from services.identity.domain import (
    Account,
    AccountDeleted,
    FourEyesRequired,
    GrantRequestExpired,
    GrantRequestNotFound,
    InvalidEmail,
    InvalidGrant,
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
from tests.identity_support import STRONG, STRONG_2
from tests.support import Clock

TTL = timedelta(days=7)  # IDENTITY_GRANT_REQUEST_TTL


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

    def test_throttle_per_account_and_address_per_account_and_per_ip(self):
        clock = Clock()
        throttle = LoginThrottle(
            per_pair=RateLimiter(free_attempts=2, base_delay=5, clock=clock.monotonic),
            per_account=RateLimiter(free_attempts=4, base_delay=1, clock=clock.monotonic),
            per_ip=RateLimiter(free_attempts=5, base_delay=30, clock=clock.monotonic),
            notify_after=4,
        )
        for i in range(5):  # a spray over five accounts from one IP
            throttle.record_failure(f"user{i}@example.org", "198.51.100.7")
        assert throttle.retry_after("someone.else@example.org", "198.51.100.7") == 30
        assert throttle.retry_after("someone.else@example.org", "203.0.113.1") == 0
        assert throttle.record_failure("user0@example.org", "192.0.2.1") == (0, False)
        assert throttle.record_failure("user0@example.org", "192.0.2.1") == (5, False)  # the pair's second
        assert throttle.retry_after("USER0@example.org ", "192.0.2.1") == 5  # same normalised key
        assert throttle.retry_after("user0@example.org", "192.0.2.2") == 0  # the owner elsewhere
        throttle.record_success("user0@example.org", "192.0.2.1")
        assert throttle.retry_after("user0@example.org", "192.0.2.1") == 0
        assert throttle.retry_after("user0@example.org", "198.51.100.7") == 30  # IP budget kept
        assert throttle.record_failure("user0@example.org", "192.0.2.3") == (1, True)  # the account's fourth: notify
        assert throttle.record_failure("user0@example.org", "192.0.2.4") == (2, False)  # … once
        assert throttle.record_failure("user0@example.org", "192.0.2.5") == (4, False)
        assert throttle.retry_after("user0@example.org", "192.0.2.6") == 4  # every address waits


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
        with pytest.raises(InvalidGrant):  # a request for a role follows the same rules
            account.request_grant(tenant, role, keys, clock(), requested_by="acc-admin", expires_after=TTL)

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


class TestFourEyesGrants:
    """A role reaches an account only when a second person approves the request: neither
    the one who asked for it nor the one who gets it (issue #9, separation of duties)."""

    VECHTA, LOHNE = "03460009", "03460006"
    ADMIN_A, ADMIN_B = "acc-admin-a", "acc-admin-b"

    def test_a_requested_role_is_not_held_until_a_second_person_approves(self):
        clock = Clock()
        account = Account.register(kind="clerk", personal_data_id=uuid.uuid4(), now=clock())
        request = account.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        assert request["requested_by"] == self.ADMIN_A and request["role"] == "clerk"
        assert account.grant_list() == []
        assert [p["request_id"] for p in account.pending_grants(self.VECHTA, clock(), TTL)] == [request["request_id"]]
        assert account.pending_grants(self.LOHNE, clock(), TTL) == []
        for same_person in (self.ADMIN_A, str(account.id)):  # the requester, the grantee
            with pytest.raises(FourEyesRequired):
                account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=same_person, expires_after=TTL)
        with pytest.raises(GrantRequestNotFound):  # a request of Vechta is not approved through Lohne
            account.approve_grant(request["request_id"], self.LOHNE, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        assert account.grant_list() == []
        account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        assert account.grant_list() == [{"tenant": self.VECHTA, "role": "clerk", "service_keys": ["*"]}]
        assert account.pending_grants(self.VECHTA, clock(), TTL) == []
        with pytest.raises(GrantRequestNotFound):  # decided once
            account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)

    def test_an_admin_asking_for_a_clerk_role_for_itself_needs_another_admin(self):
        clock = Clock()
        admin = Account.register(kind="tenant_admin", personal_data_id=uuid.uuid4(), now=clock())
        admin.grant_role(self.VECHTA, "tenant_admin", ["*"], clock(), granted_by="setup")
        me = str(admin.id)
        request = admin.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=me, expires_after=TTL)
        with pytest.raises(FourEyesRequired):
            admin.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=me, expires_after=TTL)
        assert [g["role"] for g in admin.grant_list()] == ["tenant_admin"]
        admin.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        assert sorted(g["role"] for g in admin.grant_list()) == ["clerk", "tenant_admin"]

    def test_a_request_expires_it_is_listed_as_expired_only_rejected_and_asked_for_anew(self):
        clock = Clock()
        account = Account.register(kind="clerk", personal_data_id=uuid.uuid4(), now=clock())
        request = account.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        assert request["expired"] is False and request["expires_at"] == (clock() + TTL).isoformat()
        clock.advance(TTL.total_seconds())
        [listed] = account.pending_grants(self.VECHTA, clock(), TTL)
        assert listed["expired"] is True
        with pytest.raises(GrantRequestExpired) as raised:
            account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        assert raised.value.code == "grant_request_expired" and account.grant_list() == []
        with pytest.raises(FourEyesRequired):  # separation of duties is still checked first
            account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_A, expires_after=TTL)
        # the same role asked for again: the expired request is closed, a fresh one waits
        fresh = account.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        assert fresh["request_id"] != request["request_id"] and fresh["expired"] is False
        assert [p["request_id"] for p in account.pending_grants(self.VECHTA, clock(), TTL)] == [fresh["request_id"]]
        assert [e["action"] for e in account.grant_log] == ["requested", "expired", "requested"]
        account.approve_grant(fresh["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        assert account.grant_list() == [{"tenant": self.VECHTA, "role": "clerk", "service_keys": ["*"]}]
        # an expired request can still be turned down, which clears it from the list
        lead = account.request_grant(self.VECHTA, "team_lead", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        clock.advance(TTL.total_seconds() + 1)
        account.reject_grant(lead["request_id"], self.VECHTA, clock(), rejected_by=self.ADMIN_B)
        assert account.pending_grants(self.VECHTA, clock(), TTL) == []

    def test_the_same_pending_request_is_not_made_twice(self):
        clock = Clock()
        account = Account.register(kind="clerk", personal_data_id=uuid.uuid4(), now=clock())
        first = account.request_grant(self.VECHTA, "clerk", ["b", "a"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        again = account.request_grant(self.VECHTA, "clerk", ["a", "b"], clock(), requested_by=self.ADMIN_B, expires_after=TTL)
        other = account.request_grant(self.VECHTA, "team_lead", ["a"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        assert again == first and other["request_id"] != first["request_id"]
        assert len(account.pending_grants(self.VECHTA, clock(), TTL)) == 2

    def test_every_request_decision_and_change_is_in_the_grant_log(self):
        clock = Clock()
        account = Account.register(kind="clerk", personal_data_id=uuid.uuid4(), now=clock())
        withdrawn = account.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        account.reject_grant(withdrawn["request_id"], self.VECHTA, clock(), rejected_by=self.ADMIN_A)
        with pytest.raises(GrantRequestNotFound):
            account.approve_grant(withdrawn["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        approved = account.request_grant(self.VECHTA, "team_lead", ["hund"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        account.approve_grant(approved["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)
        account.revoke_role(self.VECHTA, "team_lead", clock(), revoked_by=self.ADMIN_B)
        account.grant_role(self.LOHNE, "clerk", ["*"], clock(), granted_by="setup")
        log = [(e["action"], e["tenant"], e["role"], e["by"], e["request_id"]) for e in account.grant_log]
        assert log == [
            ("requested", self.VECHTA, "clerk", self.ADMIN_A, withdrawn["request_id"]),
            ("rejected", self.VECHTA, "clerk", self.ADMIN_A, withdrawn["request_id"]),
            ("requested", self.VECHTA, "team_lead", self.ADMIN_A, approved["request_id"]),
            ("approved", self.VECHTA, "team_lead", self.ADMIN_B, approved["request_id"]),
            ("revoked", self.VECHTA, "team_lead", self.ADMIN_B, None),
            ("granted", self.LOHNE, "clerk", "setup", None),
        ]
        assert all(entry["at"] == clock() for entry in account.grant_log)

    def test_a_deleted_account_gets_no_approved_role(self):
        clock = Clock()
        account = Account.register(kind="clerk", personal_data_id=uuid.uuid4(), now=clock())
        request = account.request_grant(self.VECHTA, "clerk", ["*"], clock(), requested_by=self.ADMIN_A, expires_after=TTL)
        account.request_deletion(clock(), by=self.ADMIN_A)
        account.delete(clock())
        assert account.pending_grants(self.VECHTA, clock(), TTL) == []
        with pytest.raises(AccountDeleted):
            account.approve_grant(request["request_id"], self.VECHTA, clock(), approved_by=self.ADMIN_B, expires_after=TTL)


class TestEidProvider:
    def test_simulated_provider_validates(self):
        provider = SimulatedEidProvider()
        with pytest.raises(EidError):
            provider.complete({"level": "high", "given_name": "A", "family_name": "B", "birth_date": "01.01.1990"})
        with pytest.raises(EidError):
            provider.complete({"level": "high", "given_name": "A", "birth_date": "1990-01-01"})
        a = provider.complete({"level": "high", "given_name": "A", "family_name": "B", "birth_date": "1990-01-01"})
        b = provider.complete({"level": "high", "given_name": "a", "family_name": "b", "birth_date": "1990-01-01"})
        assert a.subject == b.subject and a.level == "high"


def test_the_per_address_mail_budget_is_configurable():
    """IDENTITY_MAIL_FREE_PER_IP: offices behind one NAT address may need more than 30."""
    from services.common.config import IdentitySettings
    from services.identity.ratelimit import MailThrottle

    assert IdentitySettings.from_env({"IDENTITY_MAIL_FREE_PER_IP": "2"}).mail_free_per_ip == 2
    clock = Clock()
    throttle = MailThrottle(clock=clock.monotonic, free_per_ip=2)
    for n in range(2):
        assert throttle.retry_after(f"person{n}@example.org", "203.0.113.7") == 0
        throttle.record(f"person{n}@example.org", "203.0.113.7")
    assert throttle.retry_after("person2@example.org", "203.0.113.7") > 0
    assert throttle.retry_after("person2@example.org", "203.0.113.8") == 0
