"""Account commands about access: eID trust, tenant grants, logins, locks, deletion.

A mixin of :class:`~services.identity.domain.account.Account`, split off to keep modules
short; it only decides and calls the Account's private ``@event`` methods, which stay in
``account.py`` because eventsourcing defines event classes only from methods declared
on the aggregate class itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from services.common.authz import is_second_person
from services.identity.domain.errors import (
    FourEyesRequired,
    GrantRequestExpired,
    GrantRequestNotFound,
    InvalidGrant,
    NotPermitted,
    OneTimeTokenInvalid,
)
from services.identity.domain.values import (
    ROLES,
    ROLES_BY_KIND,
    check_ags,
    check_service_keys,
    check_trust_level,
    grant_dict,
    trust_rank,
)

# Keys of Account.pending (one-time tokens awaiting use).
VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
EMAIL_CHANGE = "email_change"
EID = "eid"
# Failed logins no longer lock an account (they are throttled, services/identity/ratelimit.py);
# locks of this reason stored before that still expire, and a password reset lifts them.
LOCK_FAILED_LOGINS = "too_many_failed_logins"
# Account.status besides "active"
DELETION_REQUESTED = "deletion_requested"  # unusable at once; deleted when its cases are erased
DELETED = "deleted"


class AccountAccessRules:
    """Decisions on an Account's access. Relies on Account's state and event methods."""

    def start_eid_verification(self, state_hash: str, provider: str, expires_at: datetime, now: datetime) -> None:
        self._alive()
        self._eid_verification_started(state_hash=state_hash, provider=provider, expires_at=expires_at, timestamp=now)

    def check_eid_state(self, state_hash: str, now: datetime) -> str:
        """Return the provider name the pending eID verification was started with."""
        self._alive()
        return str(self._consume(EID, state_hash, now)["provider"])

    def complete_eid_verification(self, state_hash: str, level: str, provider: str, now: datetime) -> bool:
        """Consume the pending eID state; raise to ``level`` if higher than the current
        level (never lowers). True if raised."""
        started_with = self.check_eid_state(state_hash, now)
        if started_with != provider:
            raise OneTimeTokenInvalid("eID result from a different provider")
        if trust_rank(check_trust_level(level)) <= trust_rank(self.trust_level):
            self._eid_verification_completed(level=level, provider=provider, timestamp=now)
            return False
        self._trust_level_raised(level=level, provider=provider, timestamp=now)
        return True

    def _checked_grant(self, tenant: str, role: str, service_keys: list[str]) -> tuple[str, list[str]]:
        if role not in ROLES:
            raise InvalidGrant(f"unknown role {role!r}")
        if role not in ROLES_BY_KIND.get(self.kind, frozenset()):
            raise InvalidGrant(f"an account of kind {self.kind!r} cannot hold role {role!r}")
        return check_ags(tenant), check_service_keys(service_keys)

    def grant_role(
        self, tenant: str, role: str, service_keys: list[str], now: datetime, *, granted_by: str | None = None
    ) -> None:
        """Give a role at once, without a second person: for set-up code only (demo data,
        a tenant's first admin); people grant roles through :meth:`request_grant`."""
        self._alive()
        tenant, keys = self._checked_grant(tenant, role, service_keys)
        if self.grants.get(tenant, {}).get(role) == keys:
            return  # idempotent
        self._role_granted(tenant=tenant, role=role, service_keys=keys, granted_by=granted_by, timestamp=now)

    def request_grant(
        self, tenant: str, role: str, service_keys: list[str], now: datetime, *, requested_by: str,
        expires_after: timedelta,
    ) -> dict[str, Any]:
        """Ask for a role; it is held only once a second person approves (four-eyes).
        The same pending request is not made twice: it is returned instead — unless it has
        expired, then it is closed as ``expired`` and asked for anew."""
        self._alive()
        tenant, keys = self._checked_grant(tenant, role, service_keys)
        for request in list(self.grant_requests.values()):
            if (request["tenant"], request["role"], request["service_keys"]) == (tenant, role, keys):
                if not _expired(request, now, expires_after):
                    return _with_expiry(request, now, expires_after)
                self._grant_expired(request_id=request["request_id"], timestamp=now)
        request_id = str(uuid4())
        self._grant_requested(
            request_id=request_id, tenant=tenant, role=role, service_keys=keys, requested_by=requested_by, timestamp=now
        )
        return _with_expiry(self.grant_requests[request_id], now, expires_after)

    def _pending_request(self, request_id: str, tenant: str) -> dict[str, Any]:
        self._alive()
        request = self.grant_requests.get(request_id)
        if request is None or request["tenant"] != tenant:
            raise GrantRequestNotFound(f"no pending request {request_id!r} for tenant {tenant!r}")
        return request

    def approve_grant(
        self, request_id: str, tenant: str, now: datetime, *, approved_by: str, expires_after: timedelta
    ) -> None:
        """The second person's approval, before the request expires (a role asked for
        weeks ago may no longer be wanted; an expired request can only be rejected)."""
        request = self._pending_request(request_id, tenant)
        if not is_second_person(approved_by, request["requested_by"], str(self.id)):
            raise FourEyesRequired(f"{approved_by} asked for or receives request {request_id}")
        if _expired(request, now, expires_after):
            raise GrantRequestExpired(f"request {request_id} expired", expires_at=_expiry(request, expires_after))
        self._grant_approved(request_id=request_id, approved_by=approved_by, timestamp=now)

    def reject_grant(self, request_id: str, tenant: str, now: datetime, *, rejected_by: str) -> None:
        """Turn a request down (its requester withdrawing it, too: that grants nothing);
        an expired one as well, which clears it from the list."""
        self._pending_request(request_id, tenant)
        self._grant_rejected(request_id=request_id, rejected_by=rejected_by, timestamp=now)

    def pending_grants(self, tenant: str, now: datetime, expires_after: timedelta) -> list[dict[str, Any]]:
        """The requests not yet decided in ``tenant``, each with ``expires_at`` and ``expired``."""
        return [_with_expiry(r, now, expires_after) for r in self.grant_requests.values() if r["tenant"] == tenant]

    def revoke_role(self, tenant: str, role: str, now: datetime, *, revoked_by: str | None = None) -> None:
        self._alive()
        if role not in self.grants.get(tenant, {}):
            raise InvalidGrant(f"account holds no {role!r} grant for tenant {tenant!r}")
        self._role_revoked(tenant=tenant, role=role, revoked_by=revoked_by, timestamp=now)

    def grant_list(self) -> list[dict[str, Any]]:
        return [
            grant_dict(tenant, role, keys)
            for tenant, roles in sorted(self.grants.items())
            for role, keys in sorted(roles.items())
        ]

    def record_login(self, session_id: UUID, now: datetime) -> None:
        self._alive()
        if self.is_locked(now):
            raise NotPermitted("account is locked")
        self._login_succeeded(session_id=session_id, timestamp=now)

    def lock(self, now: datetime, *, reason: str = "admin", until: datetime | None = None, by: str | None = None) -> None:
        self._alive()
        self._account_locked(reason=reason, until=until, locked_by=by, timestamp=now)

    def unlock(self, now: datetime, *, reason: str = "admin", by: str | None = None) -> None:
        self._alive()
        if self.locked:
            self._account_unlocked(reason=reason, unlocked_by=by, timestamp=now)

    def revoke_sessions(self, now: datetime, *, reason: str = "logout_all") -> None:
        self._alive()
        self._sessions_revoked(reason=reason, timestamp=now)

    def request_deletion(self, now: datetime, *, reason: str = "requested_by_user", by: str | None = None) -> None:
        """First step of a deletion: the account is unusable from now on (sessions void,
        grants gone); its personal data stay until the deletion is completed."""
        if self.is_closed:
            return  # idempotent: requested already
        self._deletion_requested(reason=reason, requested_by=by, timestamp=now)

    def delete(self, now: datetime) -> None:
        """Complete a requested deletion (after the applicant's cases were erased)."""
        if self.is_deleted:
            return  # idempotent: a retried deletion only re-runs the erasure step
        if self.status != DELETION_REQUESTED:
            raise NotPermitted("deletion was not requested")
        self._account_deleted(reason=self.deletion["reason"], deleted_by=self.deletion["by"], timestamp=now)


def _expiry(request: dict[str, Any], expires_after: timedelta) -> str:
    return (request["requested_at"] + expires_after).isoformat()


def _expired(request: dict[str, Any], now: datetime, expires_after: timedelta) -> bool:
    """Expiry is the request's time plus the configured TTL, decided when asked: requests
    made before expiry existed expire too, and a changed TTL applies to all."""
    return now >= request["requested_at"] + expires_after


def _with_expiry(request: dict[str, Any], now: datetime, expires_after: timedelta) -> dict[str, Any]:
    return {**request, "expires_at": _expiry(request, expires_after), "expired": _expired(request, now, expires_after)}
