"""The Account aggregate: status, kind, verification, trust level, grants, lockout.

It holds **no personal data** (no e-mail, name or password hash) — those live in the
separate, erasable :class:`~services.identity.domain.personal_data.PersonalData`
aggregate, so the Account stream can stay in the published event log forever. Secrets
appear only as SHA-256 hashes of high-entropy one-time tokens.

Every command takes ``now`` (an aware UTC datetime) from the application's clock; the
same value becomes the event timestamp, so expiry rules are testable without sleeping.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from .account_access import (
    EID,
    EMAIL_CHANGE,
    LOCK_FAILED_LOGINS,
    PASSWORD_RESET,
    VERIFY_EMAIL,
    AccountAccessRules,
)
from .errors import AccountDeleted, NotPermitted, OneTimeTokenInvalid
from .values import check_kind


class Account(AccountAccessRules, Aggregate):
    # ----------------------------------------------------------------- events
    class AccountRegistered(Aggregate.Created):
        kind: str
        personal_data_id: UUID
        created_by: str | None

        def apply(self, account: Account) -> None:
            account.kind = self.kind
            account.personal_data_id = self.personal_data_id
            account.created_by = self.created_by
            account.status = "active"
            account.email_verified = False
            account.trust_level = "basic"
            account.trust_provider = None
            account.grants = {}
            account.failed_logins = 0
            account.locked = False
            account.locked_until = None
            account.lock_reason = None
            account.pending = {}
            account.session_epoch = 0
            account.email_generation = 0
            account.last_login_at = None
            account.last_reset_requested_at = None
            account.deleted_at = None

    class EmailVerificationRequested(Aggregate.Event):
        token_hash: str
        expires_at: datetime

        def apply(self, account: Account) -> None:
            account.pending[VERIFY_EMAIL] = {"hash": self.token_hash, "expires_at": self.expires_at}

    class EmailVerified(Aggregate.Event):
        def apply(self, account: Account) -> None:
            account.email_verified = True
            account.pending.pop(VERIFY_EMAIL, None)

    class PasswordResetRequested(Aggregate.Event):
        token_hash: str
        expires_at: datetime

        def apply(self, account: Account) -> None:
            account.pending[PASSWORD_RESET] = {"hash": self.token_hash, "expires_at": self.expires_at}
            account.last_reset_requested_at = self.timestamp

    class PasswordChanged(Aggregate.Event):
        via: str  # "initial" | "change" | "reset"

        def apply(self, account: Account) -> None:
            account.pending.pop(PASSWORD_RESET, None)
            account.failed_logins = 0
            account.session_epoch += 1

    class EmailChangeRequested(Aggregate.Event):
        token_hash: str
        expires_at: datetime

        def apply(self, account: Account) -> None:
            account.pending[EMAIL_CHANGE] = {"hash": self.token_hash, "expires_at": self.expires_at}

    class EmailChanged(Aggregate.Event):
        def apply(self, account: Account) -> None:
            account.pending.pop(EMAIL_CHANGE, None)
            account.pending.pop(VERIFY_EMAIL, None)
            account.email_verified = True
            account.email_generation += 1

    class EidVerificationStarted(Aggregate.Event):
        state_hash: str
        provider: str
        expires_at: datetime

        def apply(self, account: Account) -> None:
            account.pending[EID] = {
                "hash": self.state_hash,
                "provider": self.provider,
                "expires_at": self.expires_at,
            }

    class TrustLevelRaised(Aggregate.Event):
        level: str
        provider: str

        def apply(self, account: Account) -> None:
            account.trust_level = self.level
            account.trust_provider = self.provider
            account.pending.pop(EID, None)

    class EidVerificationCompleted(Aggregate.Event):
        """An eID result at or below the current level: state consumed, level kept."""

        level: str
        provider: str

        def apply(self, account: Account) -> None:
            account.pending.pop(EID, None)

    class RoleGranted(Aggregate.Event):
        tenant: str
        role: str
        service_keys: list[str]
        granted_by: str | None

        def apply(self, account: Account) -> None:
            account.grants.setdefault(self.tenant, {})[self.role] = list(self.service_keys)

    class RoleRevoked(Aggregate.Event):
        tenant: str
        role: str
        revoked_by: str | None

        def apply(self, account: Account) -> None:
            roles = account.grants.get(self.tenant, {})
            roles.pop(self.role, None)
            if not roles:
                account.grants.pop(self.tenant, None)

    class LoginFailed(Aggregate.Event):
        def apply(self, account: Account) -> None:
            account.failed_logins += 1

    class LoginSucceeded(Aggregate.Event):
        session_id: UUID

        def apply(self, account: Account) -> None:
            account.failed_logins = 0
            account.last_login_at = self.timestamp

    class AccountLocked(Aggregate.Event):
        reason: str
        until: datetime | None
        locked_by: str | None

        def apply(self, account: Account) -> None:
            account.locked = True
            account.locked_until = self.until
            account.lock_reason = self.reason
            account.failed_logins = 0
            account.session_epoch += 1

    class AccountUnlocked(Aggregate.Event):
        reason: str
        unlocked_by: str | None

        def apply(self, account: Account) -> None:
            account.locked = False
            account.locked_until = None
            account.lock_reason = None
            account.failed_logins = 0

    class SessionsRevoked(Aggregate.Event):
        reason: str

        def apply(self, account: Account) -> None:
            account.session_epoch += 1

    class AccountDeleted(Aggregate.Event):
        reason: str
        deleted_by: str | None

        def apply(self, account: Account) -> None:
            account.status = "deleted"
            account.deleted_at = self.timestamp
            account.grants = {}
            account.pending = {}
            account.locked = False
            account.locked_until = None
            account.session_epoch += 1

    # State attributes, declared for type checkers only: eventsourcing would turn
    # runtime class annotations into dataclass fields of the aggregate.
    if TYPE_CHECKING:
        kind: str
        personal_data_id: UUID
        created_by: str | None
        status: str
        email_verified: bool
        trust_level: str
        trust_provider: str | None
        grants: dict[str, dict[str, list[str]]]
        failed_logins: int
        locked: bool
        locked_until: datetime | None
        lock_reason: str | None
        pending: dict[str, dict[str, Any]]
        session_epoch: int
        email_generation: int
        last_login_at: datetime | None
        last_reset_requested_at: datetime | None
        deleted_at: datetime | None

    # -------------------------------------------------------------- commands
    @classmethod
    def register(
        cls,
        *,
        kind: str,
        personal_data_id: UUID,
        now: datetime,
        created_by: str | None = None,
        account_id: UUID | None = None,
    ) -> Account:
        return cls._create(
            cls.AccountRegistered,
            id=account_id or uuid4(),
            kind=check_kind(kind),
            personal_data_id=personal_data_id,
            created_by=created_by,
            timestamp=now,
        )

    @property
    def is_deleted(self) -> bool:
        return self.status == "deleted"

    def is_locked(self, now: datetime) -> bool:
        return self.locked and (self.locked_until is None or now < self.locked_until)

    def _alive(self) -> None:
        if self.is_deleted:
            raise AccountDeleted(f"account {self.id} is deleted")

    def _consume(self, purpose: str, presented_hash: str, now: datetime) -> dict[str, Any]:
        entry = self.pending.get(purpose)
        expected = entry["hash"] if entry else "0" * len(presented_hash)
        matches = hmac.compare_digest(expected.encode(), presented_hash.encode())
        if entry is None or not matches or now >= entry["expires_at"]:
            raise OneTimeTokenInvalid(f"{purpose} token invalid or expired")
        return entry

    def request_email_verification(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        if self.email_verified:
            raise NotPermitted("e-mail already verified")
        self.trigger_event(self.EmailVerificationRequested, token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def verify_email(self, token_hash: str, now: datetime) -> None:
        self._alive()
        self._consume(VERIFY_EMAIL, token_hash, now)
        self.trigger_event(self.EmailVerified, timestamp=now)

    def request_password_reset(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        self.trigger_event(self.PasswordResetRequested, token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def reset_password(self, token_hash: str, now: datetime) -> None:
        """Consume the reset token. Proves control of the mailbox, so it also verifies
        the address and lifts a lockout caused by failed logins (not an admin lock)."""
        self._alive()
        self._consume(PASSWORD_RESET, token_hash, now)
        self.trigger_event(self.PasswordChanged, via="reset", timestamp=now)
        if not self.email_verified:
            self.trigger_event(self.EmailVerified, timestamp=now)
        if self.locked and self.lock_reason == LOCK_FAILED_LOGINS:
            self.trigger_event(self.AccountUnlocked, reason="password_reset", unlocked_by=None, timestamp=now)

    def change_password(self, now: datetime, *, via: str = "change") -> None:
        self._alive()
        self.trigger_event(self.PasswordChanged, via=via, timestamp=now)

    def request_email_change(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        self.trigger_event(self.EmailChangeRequested, token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def confirm_email_change(self, token_hash: str, now: datetime) -> None:
        self._alive()
        self._consume(EMAIL_CHANGE, token_hash, now)
        self.trigger_event(self.EmailChanged, timestamp=now)
