"""The Account aggregate: status, kind, verification, trust level, grants, locks.

It holds **no personal data** (no e-mail, name or password hash) — those live in the
separate, erasable :class:`~services.identity.domain.personal_data.PersonalData`
aggregate, so the Account stream can stay in the published event log forever. Secrets
appear only as SHA-256 hashes of high-entropy one-time tokens.

Every command takes ``now`` (an aware UTC datetime) from the application's clock; the
same value becomes the event timestamp (the ``timestamp`` parameter of the ``@event``
methods), so expiry rules are testable without sleeping. Public commands check the
rules and raise; the private ``@event`` methods only change state, because they also
run when the aggregate is rebuilt from stored events. Their names and parameters are
the stored event class names and attributes: rename nothing.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from services.identity.domain.account_access import (
    DELETED,
    DELETION_REQUESTED,
    EID,
    EMAIL_CHANGE,
    LOCK_FAILED_LOGINS,
    PASSWORD_RESET,
    VERIFY_EMAIL,
    AccountAccessRules,
)
from services.identity.domain.errors import AccountDeleted, NotPermitted, OneTimeTokenInvalid
from services.identity.domain.values import check_kind


class Account(AccountAccessRules, Aggregate):
    # ---------------------------------------------------------------- creation
    @event("AccountRegistered")
    def __init__(
        self,
        id: UUID,  # the stream id: eventsourcing passes it on, it is no event attribute
        kind: str,
        personal_data_id: UUID,
        created_by: str | None,
        timestamp: datetime,
    ) -> None:
        self.kind = kind
        self.personal_data_id = personal_data_id
        self.created_by = created_by
        self.status = "active"
        self.email_verified = False
        self.trust_level = "basic"
        self.trust_provider: str | None = None
        self.grants: dict[str, dict[str, list[str]]] = {}
        self.grant_requests: dict[str, dict[str, Any]] = {}  # request id -> pending role request
        self.grant_log: list[dict[str, Any]] = []  # every request, decision and change of a role
        self.failed_logins = 0
        self.locked = False
        self.locked_until: datetime | None = None
        self.lock_reason: str | None = None
        self.pending: dict[str, dict[str, Any]] = {}
        self.session_epoch = 0
        self.email_generation = 0
        self.last_login_at: datetime | None = None
        self.last_reset_requested_at: datetime | None = None
        self.deleted_at: datetime | None = None
        self.deletion: dict[str, Any] = {}  # reason and requester, once deletion is requested

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
        return cls(
            id=account_id or uuid4(),
            kind=check_kind(kind),
            personal_data_id=personal_data_id,
            created_by=created_by,
            timestamp=now,
        )

    # ------------------------------------------------------------------ queries
    @property
    def is_deleted(self) -> bool:
        return self.status == DELETED

    @property
    def is_closed(self) -> bool:
        """Deleted, or its deletion requested: no login, no session, no grant any more."""
        return self.status in (DELETED, DELETION_REQUESTED)

    def is_locked(self, now: datetime) -> bool:
        return self.locked and (self.locked_until is None or now < self.locked_until)

    def _alive(self) -> None:
        if self.is_closed:
            raise AccountDeleted(f"account {self.id} is deleted")

    def _consume(self, purpose: str, presented_hash: str, now: datetime) -> dict[str, Any]:
        entry = self.pending.get(purpose)
        expected = entry["hash"] if entry else "0" * len(presented_hash)
        matches = hmac.compare_digest(expected.encode(), presented_hash.encode())
        if entry is None or not matches or now >= entry["expires_at"]:
            raise OneTimeTokenInvalid(f"{purpose} token invalid or expired")
        return entry

    # -------------------------------------------------- commands: e-mail, password
    # (access commands — eID, grants, logins, locks, deletion — are in account_access.py)
    def request_email_verification(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        if self.email_verified:
            raise NotPermitted("e-mail already verified")
        self._email_verification_requested(token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def verify_email(self, token_hash: str, now: datetime) -> None:
        self._alive()
        self._consume(VERIFY_EMAIL, token_hash, now)
        self._email_verified(timestamp=now)

    def request_password_reset(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        self._password_reset_requested(token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def reset_password(self, token_hash: str, now: datetime) -> None:
        """Consume the reset token. Proves control of the mailbox, so it also verifies
        the address and lifts a lockout caused by failed logins (not an admin lock)."""
        self._alive()
        self._consume(PASSWORD_RESET, token_hash, now)
        self._password_changed(via="reset", timestamp=now)
        if not self.email_verified:
            self._email_verified(timestamp=now)
        if self.locked and self.lock_reason == LOCK_FAILED_LOGINS:
            self._account_unlocked(reason="password_reset", unlocked_by=None, timestamp=now)

    def change_password(self, now: datetime, *, via: str = "change") -> None:
        self._alive()
        self._password_changed(via=via, timestamp=now)

    def request_email_change(self, token_hash: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        self._email_change_requested(token_hash=token_hash, expires_at=expires_at, timestamp=now)

    def confirm_email_change(self, token_hash: str, now: datetime) -> None:
        self._alive()
        self._consume(EMAIL_CHANGE, token_hash, now)
        self._email_changed(timestamp=now)

    # ------------------------------------------------------------------- events
    @event("EmailVerificationRequested")
    def _email_verification_requested(self, token_hash: str, expires_at: datetime, timestamp: datetime) -> None:
        self.pending[VERIFY_EMAIL] = {"hash": token_hash, "expires_at": expires_at}

    @event("EmailVerified")
    def _email_verified(self, timestamp: datetime) -> None:
        self.email_verified = True
        self.pending.pop(VERIFY_EMAIL, None)

    @event("PasswordResetRequested")
    def _password_reset_requested(self, token_hash: str, expires_at: datetime, timestamp: datetime) -> None:
        self.pending[PASSWORD_RESET] = {"hash": token_hash, "expires_at": expires_at}
        self.last_reset_requested_at = timestamp

    @event("PasswordChanged")
    def _password_changed(self, via: str, timestamp: datetime) -> None:
        # via: "initial" | "change" | "reset"
        self.pending.pop(PASSWORD_RESET, None)
        self.failed_logins = 0
        self.session_epoch += 1

    @event("EmailChangeRequested")
    def _email_change_requested(self, token_hash: str, expires_at: datetime, timestamp: datetime) -> None:
        self.pending[EMAIL_CHANGE] = {"hash": token_hash, "expires_at": expires_at}

    @event("EmailChanged")
    def _email_changed(self, timestamp: datetime) -> None:
        self.pending.pop(EMAIL_CHANGE, None)
        self.pending.pop(VERIFY_EMAIL, None)
        self.email_verified = True
        self.email_generation += 1

    @event("EidVerificationStarted")
    def _eid_verification_started(
        self, state_hash: str, provider: str, expires_at: datetime, timestamp: datetime
    ) -> None:
        self.pending[EID] = {"hash": state_hash, "provider": provider, "expires_at": expires_at}

    @event("TrustLevelRaised")
    def _trust_level_raised(self, level: str, provider: str, timestamp: datetime) -> None:
        self.trust_level = level
        self.trust_provider = provider
        self.pending.pop(EID, None)

    @event("EidVerificationCompleted")
    def _eid_verification_completed(self, level: str, provider: str, timestamp: datetime) -> None:
        """An eID result at or below the current level: state consumed, level kept."""
        self.pending.pop(EID, None)

    def _log_grant(self, action: str, at: datetime, request: dict[str, Any], by: str | None) -> None:
        self.grant_log.append({
            "at": at, "action": action, "tenant": request["tenant"], "role": request["role"],
            "service_keys": request.get("service_keys"), "by": by, "request_id": request.get("request_id"),
        })

    @event("RoleGranted")
    def _role_granted(
        self, tenant: str, role: str, service_keys: list[str], granted_by: str | None, timestamp: datetime
    ) -> None:
        """A role given without a request: only by set-up code (demo data, a tenant's first admin)."""
        self.grants.setdefault(tenant, {})[role] = list(service_keys)
        self._log_grant("granted", timestamp, {"tenant": tenant, "role": role, "service_keys": service_keys}, granted_by)

    @event("RoleRevoked")
    def _role_revoked(self, tenant: str, role: str, revoked_by: str | None, timestamp: datetime) -> None:
        roles = self.grants.get(tenant, {})
        roles.pop(role, None)
        if not roles:
            self.grants.pop(tenant, None)
        self._log_grant("revoked", timestamp, {"tenant": tenant, "role": role}, revoked_by)

    @event("GrantRequested")
    def _grant_requested(
        self, request_id: str, tenant: str, role: str, service_keys: list[str], requested_by: str, timestamp: datetime
    ) -> None:
        request = {"request_id": request_id, "tenant": tenant, "role": role, "service_keys": list(service_keys),
                   "requested_by": requested_by, "requested_at": timestamp}
        self.grant_requests[request_id] = request
        self._log_grant("requested", timestamp, request, requested_by)

    @event("GrantApproved")
    def _grant_approved(self, request_id: str, approved_by: str, timestamp: datetime) -> None:
        request = self.grant_requests.pop(request_id)
        self.grants.setdefault(request["tenant"], {})[request["role"]] = list(request["service_keys"])
        self._log_grant("approved", timestamp, request, approved_by)

    @event("GrantRejected")
    def _grant_rejected(self, request_id: str, rejected_by: str, timestamp: datetime) -> None:
        self._log_grant("rejected", timestamp, self.grant_requests.pop(request_id), rejected_by)

    @event("GrantExpired")
    def _grant_expired(self, request_id: str, timestamp: datetime) -> None:
        """An expired request closed when the same role is asked for again."""
        self._log_grant("expired", timestamp, self.grant_requests.pop(request_id), None)

    @event("LoginFailed")
    def _login_failed(self, timestamp: datetime) -> None:
        # Written until failed logins were throttled instead of counted here; kept for replay.
        self.failed_logins += 1

    @event("LoginSucceeded")
    def _login_succeeded(self, session_id: UUID, timestamp: datetime) -> None:
        self.failed_logins = 0
        self.last_login_at = timestamp

    @event("AccountLocked")
    def _account_locked(self, reason: str, until: datetime | None, locked_by: str | None, timestamp: datetime) -> None:
        self.locked = True
        self.locked_until = until
        self.lock_reason = reason
        self.failed_logins = 0
        self.session_epoch += 1

    @event("AccountUnlocked")
    def _account_unlocked(self, reason: str, unlocked_by: str | None, timestamp: datetime) -> None:
        self.locked = False
        self.locked_until = None
        self.lock_reason = None
        self.failed_logins = 0

    @event("SessionsRevoked")
    def _sessions_revoked(self, reason: str, timestamp: datetime) -> None:
        self.session_epoch += 1

    @event("DeletionRequested")
    def _deletion_requested(self, reason: str, requested_by: str | None, timestamp: datetime) -> None:
        self.status = DELETION_REQUESTED
        self.deletion = {"reason": reason, "by": requested_by}
        self.grants = {}
        self.pending = {}
        self.session_epoch += 1

    @event("AccountDeleted")
    def _account_deleted(self, reason: str, deleted_by: str | None, timestamp: datetime) -> None:
        self.status = DELETED
        self.deleted_at = timestamp
        self.grants = {}
        self.grant_requests = {}
        self.pending = {}
        self.locked = False
        self.locked_until = None
        self.session_epoch += 1
