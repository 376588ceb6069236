"""Login, token refresh, logout, introspection and principal resolution."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.common.authz import Grant, Principal
from services.identity import onetime
from services.identity.application.base import IdentityBase
from services.identity.application.results import MAIL_FAILED_LOGINS, LoginResult, MailToSend, TokenPair
from services.identity.domain import (
    Account,
    OneTimeTokenInvalid,
    RefreshTokenReused,
    Session,
    SessionInvalid,
)
from services.identity.tokens import TokenError


class SessionCommands(IdentityBase):
    def login(self, email: str, password: str, *, client_ip: str | None = None) -> LoginResult:
        """Password login. Unknown addresses take the same path as wrong passwords
        (argon2 verification against a dummy hash, same throttling, same error). A
        failure only slows further attempts down (:class:`~services.identity.ratelimit.LoginThrottle`);
        it never locks the account, ends its sessions or writes to its stream."""
        email = email if isinstance(email, str) else ""
        wait = self.throttle.retry_after(email, client_ip)
        if wait > 0:
            return LoginResult.failed("rate_limited", wait)
        now = self._now()
        account = self._find_account(email)
        personal = self._get_personal(account) if account else None
        password_hash = personal.password_hash if personal else None
        if not self.passwords.verify(password_hash, password) or account is None or personal is None:
            failure = self.throttle.record_failure(email, client_ip)
            notice = failure.notify_owner and personal is not None
            mails = (MailToSend(MAIL_FAILED_LOGINS, personal.email, account_id=str(account.id) if account else ""),) if notice else ()
            return LoginResult.failed("invalid_credentials", failure.wait, mails)
        if account.is_locked(now):
            remaining = (account.locked_until - now).total_seconds() if account.locked_until else 0
            return LoginResult.failed("account_locked", remaining)
        if not account.email_verified:
            return LoginResult.failed("email_not_verified")
        self.throttle.record_success(email, client_ip)
        if password_hash and self.passwords.needs_rehash(password_hash):
            personal.set_password_hash(self.passwords.hash(password), now, reason="rehash")
            self._save_personal(personal)
        secret = onetime.new_secret()
        session = Session.start(
            account_id=account.id,
            token_hash=onetime.hash_secret(secret),
            epoch=account.session_epoch,
            now=now,
            idle_ttl=self._seconds(self.settings.refresh_token_ttl),
            max_age=self._seconds(self.settings.session_max_age),
        )
        account.record_login(session.id, now)
        self.save(account, session)
        return LoginResult(ok=True, tokens=self._token_pair(account, session, f"{session.id.hex}.{secret}", now))

    def _token_pair(self, account: Account, session: Session, refresh_token: str, now: datetime) -> TokenPair:
        access_token, _claims = self.tokens.issue_access_token(
            subject=str(account.id),
            kind=account.kind,
            grants=account.grant_list(),
            trust_level=account.trust_level,
            session_id=str(session.id),
        )
        return TokenPair(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_in=self.settings.access_token_ttl,
            refresh_expires_in=max(0, int((session.expires_at - now).total_seconds())),
            session_id=str(session.id),
        )

    def _session_from_refresh_token(self, refresh_token: str) -> tuple[Session, str]:
        try:
            session_id, secret = onetime.parse(refresh_token)
            session: Session = self.repository.get(session_id)
        except (OneTimeTokenInvalid, AggregateNotFoundError):
            raise SessionInvalid("unknown refresh token") from None
        if not isinstance(session, Session):
            raise SessionInvalid("unknown refresh token")
        return session, onetime.hash_secret(secret)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate the refresh token and issue a fresh access token (with the account's
        *current* kind, grants and trust level). A replayed old refresh token revokes
        the session. Raises SessionInvalid."""
        session, presented = self._session_from_refresh_token(refresh_token)
        account = self._get_account(session.account_id)
        now = self._now()
        if account.is_closed or account.is_locked(now) or session.epoch != account.session_epoch:
            raise SessionInvalid("session ended")
        secret = onetime.new_secret()
        with self._saved_when_reused(session):
            session.rotate(presented, onetime.hash_secret(secret), now, idle_ttl=self._seconds(self.settings.refresh_token_ttl))
        self.save(session)
        return self._token_pair(account, session, f"{session.id.hex}.{secret}", now)

    def logout(self, refresh_token: str, account_id: str | UUID | None = None) -> str:
        """End the session of a refresh token, proven by its current secret (the session id
        alone, e.g. from an access token's ``sid``, is not enough); with ``account_id``, only
        that account's session. Returns the session id. Raises SessionInvalid, or
        RefreshTokenReused for a rotated-out secret (a replay: the session is revoked)."""
        session, presented = self._session_from_refresh_token(refresh_token)
        if account_id is not None and str(session.account_id) != str(account_id):
            raise SessionInvalid("another account's session")
        with self._saved_when_reused(session):
            session.end(presented, self._now())
        self.save(session)
        return str(session.id)

    @contextlib.contextmanager
    def _saved_when_reused(self, session: Session) -> Iterator[None]:
        """A replayed refresh token revokes its session: record that, and name the session
        on the error (``session_id``, not a client-facing param) for the broadcast."""
        try:
            yield
        except RefreshTokenReused as reused:
            self.save(session)
            reused.session_id = str(session.id)
            raise

    def logout_everywhere(self, account_id: str | UUID) -> None:
        self._update(account_id, lambda a: a.revoke_sessions(self._now(), reason="logout_all"))

    def introspect(self, access_token: str) -> dict[str, Any]:
        """RFC 7662-style check for sensitive operations: signature, times *and* that
        the session is still active. ``{"active": False}`` on any failure."""
        try:
            claims = self.tokens.verify_access_token(access_token)
            account = self._get_account(claims["sub"])
            session: Session = self.repository.get(UUID(claims["sid"]))
        except (TokenError, KeyError, ValueError, AggregateNotFoundError, LookupError):
            return {"active": False}
        now = self._now()
        if account.is_closed or account.is_locked(now) or not session.is_active(now, account.session_epoch):
            return {"active": False}
        return {"active": True, **claims}

    def resolve_principal(self, account_id: str | UUID) -> Principal:
        """The Principal from the account's current state (not from a token)."""
        account = self._get_account(account_id)
        grants = () if account.is_closed else tuple(Grant.from_dict(g) for g in account.grant_list())
        return Principal(
            subject=str(account.id),
            kind=account.kind,
            grants=grants,
            trust_level=account.trust_level,
        )
