"""Session: one login, identified by a random id, holding the hashed refresh token.

Refresh tokens are opaque ``<session-id>.<secret>`` strings; only SHA-256 of the secret
is stored. Each refresh rotates the secret. Presenting a rotated-out secret again means
the token was copied: the whole session is revoked (OAuth 2.0 Security BCP, refresh
token rotation with reuse detection). A session is also void when the account's
``session_epoch`` moved on (password change, lock, logout everywhere, deletion).
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import NoReturn
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from services.identity.domain.errors import RefreshTokenReused, SessionInvalid

_MAX_REMEMBERED_HASHES = 50


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class Session(Aggregate):
    @event("SessionStarted")
    def __init__(
        self,
        id: UUID,  # the stream id (the session id): eventsourcing passes it on, it is no event attribute
        account_id: UUID,
        token_hash: str,
        expires_at: datetime,
        absolute_expires_at: datetime,
        epoch: int,
        timestamp: datetime,
    ) -> None:
        self.account_id = account_id
        self.token_hash = token_hash
        self.previous_hashes: list[str] = []
        self.expires_at = expires_at
        self.absolute_expires_at = absolute_expires_at
        self.epoch = epoch
        self.started_at = timestamp
        self.revoked = False
        self.revoke_reason: str | None = None

    @classmethod
    def start(
        cls,
        *,
        account_id: UUID,
        token_hash: str,
        epoch: int,
        now: datetime,
        idle_ttl: timedelta,
        max_age: timedelta,
        session_id: UUID | None = None,
    ) -> Session:
        absolute = now + max_age
        return cls(
            id=session_id or uuid4(),
            account_id=account_id,
            token_hash=token_hash,
            expires_at=min(now + idle_ttl, absolute),
            absolute_expires_at=absolute,
            epoch=epoch,
            timestamp=now,
        )

    def is_active(self, now: datetime, account_epoch: int) -> bool:
        return not self.revoked and now < self.expires_at and self.epoch == account_epoch

    def rotate(self, presented_hash: str, new_hash: str, now: datetime, *, idle_ttl: timedelta) -> None:
        """Swap the refresh secret. On replay of an old secret: revoke, then raise.

        The caller must save the aggregate also when RefreshTokenReused is raised, so
        that the revocation is recorded.
        """
        if self.revoked:
            raise SessionInvalid("session revoked")
        if not _same(self.token_hash, presented_hash):
            self._refuse(presented_hash, now)
        if now >= self.expires_at:
            raise SessionInvalid("session expired")
        expires = min(now + idle_ttl, self.absolute_expires_at)
        self._refresh_token_rotated(token_hash=new_hash, expires_at=expires, timestamp=now)

    def end(self, presented_hash: str, now: datetime) -> None:
        """Logout, proven by the refresh token's current secret (knowing the session id is
        not enough); ending an ended session again is no error. A rotated-out secret is a
        replay as in :meth:`rotate` (save the aggregate when RefreshTokenReused is raised)."""
        if not _same(self.token_hash, presented_hash):
            self._refuse(presented_hash, now)
        self.revoke(now, reason="logout")

    def _refuse(self, presented_hash: str, now: datetime) -> NoReturn:
        if any(_same(old, presented_hash) for old in self.previous_hashes):
            self.revoke(now, reason="refresh_token_reuse")
            raise RefreshTokenReused("rotated refresh token presented again")
        raise SessionInvalid("unknown refresh token")

    def revoke(self, now: datetime, *, reason: str = "logout") -> None:
        if not self.revoked:
            self._session_revoked(reason=reason, timestamp=now)

    # Events: the methods below only change state (they also run on replay); the
    # command's ``now`` is the event timestamp.
    @event("RefreshTokenRotated")
    def _refresh_token_rotated(self, token_hash: str, expires_at: datetime, timestamp: datetime) -> None:
        self.previous_hashes = [self.token_hash, *self.previous_hashes][:_MAX_REMEMBERED_HASHES]
        self.token_hash = token_hash
        self.expires_at = expires_at

    @event("SessionRevoked")
    def _session_revoked(self, reason: str, timestamp: datetime) -> None:
        self.revoked = True
        self.revoke_reason = reason
