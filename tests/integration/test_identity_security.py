"""Identity hardening on every event-store backend (POPO, SQLite, PostgreSQL): the e-mail
index is keyed by the deployment secret and forgets an erased account; failed logins slow
the guesser down without locking the owner out or answering differently; registrations
and verification mails are limited per address and per client address."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from services.identity.domain.errors import RateLimited, WrongPassword
from tests.identity_support import STRONG, STRONG_2, only_mail, register_verified


def index_bytes(app, address: str) -> bytes:
    """Every stored event of the address's e-mail index stream."""
    return b"\n".join(s.state for s in app.recorder.select_events(app._index_id(address)))


def mentions(blob: bytes, account_id: str) -> bool:
    ref = uuid.UUID(account_id)
    return str(ref).encode() in blob or ref.hex.encode() in blob


class TestEmailIndex:
    def test_index_id_is_keyed_by_the_deployment_secret(self, apps):
        address = "erika.mustermann@example.org"
        one = apps(VR_SECRET_KEY="a" * 40)._index_id(address)
        two = apps(VR_SECRET_KEY="b" * 40)._index_id(address)
        assert one != two
        assert one == apps(VR_SECRET_KEY="a" * 40)._index_id(address)  # stable under one secret
        public = {
            uuid.uuid5(uuid.UUID("5b7c6f0e-3d0a-5a43-9d7e-7a1f6c0e2b11"), address),  # the former namespace
            uuid.uuid5(uuid.NAMESPACE_URL, address),
            uuid.uuid5(uuid.NAMESPACE_DNS, address),
            uuid.UUID(bytes=hashlib.sha256(address.encode()).digest()[:16]),
            uuid.UUID(hashlib.md5(address.encode()).hexdigest()),  # a guess, not a use
        }
        assert one not in public and two not in public

    def test_deleted_account_leaves_no_link_from_address_to_account(self, apps):
        app = apps()
        account_id = register_verified(app, "alt@example.org")
        change = app.request_email_change(account_id, "neu@example.org", STRONG)
        app.confirm_email_change(only_mail(change, "confirm_email_change").params["token"])
        other = register_verified(app, "alt@example.org")  # the old address, now someone else's
        for address in ("alt@example.org", "neu@example.org"):
            assert mentions(index_bytes(app, address), account_id)

        app.request_deletion(account_id, STRONG)
        app.complete_deletion(account_id)
        for address in ("alt@example.org", "neu@example.org"):
            assert not mentions(index_bytes(app, address), account_id), address
        assert mentions(index_bytes(app, "alt@example.org"), other)  # the other holder keeps it
        assert app.lookup_account_id("alt@example.org") == other
        again = register_verified(app, "neu@example.org")  # the erased address can be registered again
        assert again not in (account_id, other)
        assert app.lookup_account_id("neu@example.org") == again
        assert app.complete_deletion(account_id).mails == ()  # a repeated deletion still works


EMAIL, OWNER_IP, GUESSER_IP = "demo.buerger@example.org", "192.0.2.10", "198.51.100.66"
WRONG = "falsch-falsch-falsch"


def spread(i: int) -> str:
    """The i-th of many client addresses (a guesser with a botnet)."""
    return f"203.0.{i // 200}.{i % 200 + 1}"


class TestFailedLogins:
    def test_guesses_from_elsewhere_neither_lock_nor_end_the_owners_sessions(self, app, clock):
        account_id = register_verified(app, EMAIL)
        session = app.login(EMAIL, STRONG, client_ip=OWNER_IP).tokens
        counted = 0
        while counted < 15:  # more than the former lockout threshold (10)
            guess = app.login(EMAIL, WRONG, client_ip=GUESSER_IP)
            counted += guess.error == "invalid_credentials"
            clock.advance(guess.retry_after)
        assert app.get_account(account_id)["locked"] is False
        assert app.refresh(session.refresh_token).session_id == session.session_id
        assert app.login(EMAIL, STRONG, client_ip=OWNER_IP).ok  # the owner's address was never slowed

    def test_while_throttled_every_answer_is_the_same(self, app, clock):
        register_verified(app, EMAIL)
        throttled = 0
        for _ in range(14):
            guess = app.login(EMAIL, WRONG, client_ip=GUESSER_IP)
            if guess.retry_after:  # told to wait: meanwhile the right password is no different
                right, wrong = (app.login(EMAIL, password, client_ip=GUESSER_IP) for password in (STRONG, WRONG))
                assert right == wrong and right.error == "rate_limited" and right.retry_after > 0
                throttled += 1
            clock.advance(guess.retry_after)
        assert throttled >= 3
        for _ in range(3):
            app.login("niemand@example.org", WRONG, client_ip=GUESSER_IP)
        unknown = app.login("niemand@example.org", STRONG, client_ip=GUESSER_IP)
        assert (unknown.error, unknown.tokens, unknown.mails) == ("rate_limited", None, ())
        assert app.login(EMAIL, STRONG, client_ip=GUESSER_IP).ok  # waited out: no lock behind the wait

    def test_guesses_spread_over_many_addresses_only_slow_the_account_down(self, app, clock):
        account_id = register_verified(app, EMAIL)
        session = app.login(EMAIL, STRONG, client_ip=OWNER_IP).tokens
        first = [app.login(EMAIL, WRONG, client_ip=spread(i)).error for i in range(20)]
        assert first == ["invalid_credentials"] * 20  # each address is new: only the account counts
        right, wrong = (app.login(EMAIL, password, client_ip=spread(20)) for password in (STRONG, WRONG))
        assert right == wrong and right.error == "rate_limited"
        waits = []
        for i in range(21, 80):
            guess = app.login(EMAIL, WRONG, client_ip=spread(i))
            waits.append(guess.retry_after)
            clock.advance(guess.retry_after)
        assert max(waits) == 60  # slowed down, never locked out
        clock.advance(60)
        assert app.login(EMAIL, STRONG, client_ip=OWNER_IP).ok
        assert app.get_account(account_id)["locked"] is False
        assert app.refresh(session.refresh_token).session_id == session.session_id

    def test_the_owner_hears_of_the_guessing_once(self, app, clock):
        register_verified(app, EMAIL)
        mails = []
        for i in range(80):
            guess = app.login(EMAIL, WRONG, client_ip=spread(i))
            mails.extend(guess.mails)
            clock.advance(guess.retry_after)
        assert [(m.template, m.to) for m in mails] == [("failed_logins", EMAIL)]
        assert all(not app.login("niemand@example.org", WRONG, client_ip=spread(i)).mails for i in range(40))

    def test_wrong_current_passwords_slow_down_but_do_not_lock(self, app, clock):
        account_id = register_verified(app, EMAIL)
        session = app.login(EMAIL, STRONG, client_ip=OWNER_IP).tokens
        answers = []
        for _ in range(20):
            with pytest.raises((WrongPassword, RateLimited)) as refused:
                app.change_password(account_id, WRONG, STRONG_2)
            answers.append(refused.value.code)
            clock.advance(getattr(refused.value, "retry_after", 0))
        assert app.get_account(account_id)["locked"] is False
        assert app.refresh(session.refresh_token).session_id == session.session_id
        assert "rate_limited" in answers and answers.count("wrong_password") >= 10


class TestMailThrottle:
    def test_registration_is_limited_per_address_whether_or_not_it_has_an_account(self, app, clock):
        register_verified(app, "vorhanden@example.org")
        clock.advance(3600)  # a new window
        for address in ("vorhanden@example.org", "neu@example.org"):
            for _ in range(3):
                assert app.register(address, STRONG, client_ip=OWNER_IP).public_response() == {"status": "accepted"}
            with pytest.raises(RateLimited) as registering:
                app.register(address, STRONG, client_ip=GUESSER_IP)
            with pytest.raises(RateLimited) as resending:
                app.resend_verification(address, client_ip=GUESSER_IP)
            for refused in (registering, resending):
                assert (refused.value.code, refused.value.retry_after) == ("rate_limited", 60)
        clock.advance(60)
        assert app.resend_verification("neu@example.org", client_ip=OWNER_IP).mails  # after the wait
        with pytest.raises(RateLimited) as refused:
            app.register("neu@example.org", STRONG, client_ip=OWNER_IP)
        assert refused.value.retry_after == 120

    def test_resend_is_limited_per_address_whatever_its_state(self, app, clock):
        register_verified(app, "bestaetigt@example.org")
        app.register("offen@example.org", STRONG)
        clock.advance(3600)  # a new window
        for address in ("bestaetigt@example.org", "offen@example.org", "niemand@example.org"):
            answers = [app.resend_verification(address).public_response() for _ in range(3)]
            assert answers == [{"status": "accepted"}] * 3
            with pytest.raises(RateLimited):
                app.resend_verification(address)

    def test_registration_and_resend_are_limited_per_client_address(self, app):
        for i in range(30):
            app.register(f"person{i}@example.org", STRONG, client_ip=GUESSER_IP)
        with pytest.raises(RateLimited):
            app.register("person-x@example.org", STRONG, client_ip=GUESSER_IP)
        with pytest.raises(RateLimited):
            app.resend_verification("person-y@example.org", client_ip=GUESSER_IP)
        assert app.register("person-x@example.org", STRONG, client_ip=OWNER_IP).mails  # others are not affected
