"""The identity application on every event-store backend (in-memory POPO, SQLite and
PostgreSQL, see :mod:`tests.identity_support`): sessions and refresh tokens."""

from __future__ import annotations

import pytest

from services.common.authz import principal_from_claims
from services.common.tokens import TokenError
from services.identity.domain import RefreshTokenReused, SessionInvalid
from tests.identity_support import STRONG, STRONG_2, Clock, new_keyset, open_factory, register_verified


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="module")
def keyset():
    return new_keyset("k-2030-a")


@pytest.fixture(params=["popo", "sqlite", "postgres"])
def apps(request, clock, keyset):
    """A factory of applications on one backend; they share its storage."""
    yield from open_factory(request, request.param, clock, keyset)


@pytest.fixture
def app(apps):
    return apps()


# ------------------------------------------------------------- sessions in the app
class TestSessions:
    def test_refresh_rotates_and_detects_reuse(self, app):
        register_verified(app, "demo.buerger@example.org")
        first = app.login("demo.buerger@example.org", STRONG).tokens
        second = app.refresh(first.refresh_token)
        assert second.refresh_token != first.refresh_token
        assert second.session_id == first.session_id
        assert app.tokens.verify_access_token(second.access_token)["sid"] == first.session_id
        with pytest.raises(RefreshTokenReused):
            app.refresh(first.refresh_token)  # replay of a rotated token …
        with pytest.raises(SessionInvalid):
            app.refresh(second.refresh_token)  # … revoked the whole session
        assert app.introspect(second.access_token) == {"active": False}

    def test_logout_revokes(self, app):
        register_verified(app, "demo.buerger@example.org")
        tokens = app.login("demo.buerger@example.org", STRONG).tokens
        other = app.login("demo.buerger@example.org", STRONG).tokens
        assert app.introspect(tokens.access_token)["active"] is True
        app.logout(tokens.refresh_token)
        app.logout(tokens.refresh_token)  # idempotent
        app.logout("garbage")  # ignored
        with pytest.raises(SessionInvalid):
            app.refresh(tokens.refresh_token)
        assert app.introspect(tokens.access_token) == {"active": False}
        # The access token itself stays cryptographically valid until exp (≤ 10 min):
        assert app.tokens.verify_access_token(tokens.access_token)["sid"] == tokens.session_id
        assert app.refresh(other.refresh_token)  # other sessions unaffected

    def test_end_session_by_id_and_logout_everywhere(self, app):
        account_id = register_verified(app, "demo.buerger@example.org")
        intruder = register_verified(app, "other@example.org", STRONG_2)
        a = app.login("demo.buerger@example.org", STRONG).tokens
        b = app.login("demo.buerger@example.org", STRONG).tokens
        app.end_session(intruder, a.session_id)  # not the owner: ignored
        assert app.refresh(a.refresh_token)
        app.end_session(account_id, b.session_id)
        with pytest.raises(SessionInvalid):
            app.refresh(b.refresh_token)
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
