"""Domain errors of the identity service.

They are :class:`~services.common.problems.DomainError` s like every service's, so they
cross RPC and reach the caller as problem+json with their stable ``code`` without any
translation in the service layer. The positional message is for logs only, never shown
to citizens, and never says whether an e-mail address is registered.
"""

from __future__ import annotations

from typing import Any

from services.common.problems import DomainError


class IdentityError(DomainError):
    """Base class of all identity domain errors: ``IdentityError("log text", **params)``."""

    code = "invalid_input"

    def __init__(self, log_message: str = "", **params: Any) -> None:
        super().__init__(None, log_message=log_message, **params)


class InvalidInput(IdentityError, ValueError):
    code = "invalid_input"


class InvalidEmail(InvalidInput):
    code = "invalid_email"


class PasswordRejected(InvalidInput):
    """The password does not satisfy the password policy (length, breached list …)."""

    code = "password_rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message, reason=reason)
        self.reason = reason


class InvalidGrant(InvalidInput):
    code = "invalid_grant"


class GrantRequestNotFound(IdentityError, LookupError):
    """No pending role request with this id for this tenant (unknown, or already decided)."""

    code = "grant_request_not_found"


class GrantRequestExpired(IdentityError):
    """The role request waited longer than IDENTITY_GRANT_REQUEST_TTL: it can only be
    rejected now; whoever still wants the role asks again."""

    code = "grant_request_expired"


class FourEyesRequired(IdentityError):
    """The approver of a role request asked for it or would receive it."""

    code = "four_eyes_required"


class AccountNotFound(IdentityError, LookupError):
    code = "account_not_found"


class AccountDeleted(IdentityError):
    code = "account_deleted"


class NotPermitted(IdentityError):
    """The command is not allowed for this account in its current state."""

    code = "not_permitted"


class InvalidCredentials(IdentityError):
    code = "invalid_credentials"


class OneTimeTokenInvalid(IdentityError):
    """A verification/reset/e-mail-change/eID token is unknown, used or expired.

    Deliberately one error for all three cases so that callers cannot probe tokens.
    """

    code = "token_invalid"


class EmailAlreadyInUse(IdentityError):
    """Only raised to an *authenticated* owner confirming an e-mail change."""

    code = "email_in_use"


class SessionInvalid(IdentityError):
    """Refresh token unknown, expired, revoked or replayed."""

    code = "session_invalid"


class RefreshTokenReused(SessionInvalid):
    """A rotated-out refresh token was presented again: the session was revoked."""

    code = "session_invalid"
    session_id: str | None = None  # set by the application (never a param: clients get only the code)


class WrongPassword(InvalidCredentials):
    """A logged-in account re-authenticated with a wrong current password (a 403 for the
    gateway: unlike a failed login, the session itself is fine)."""

    code = "wrong_password"


class RateLimited(IdentityError):
    """Too many failed attempts: try again after ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(self, retry_after: float) -> None:
        seconds = int(-(-retry_after // 1))
        super().__init__(f"retry after {retry_after:.0f} s", retry_after=seconds)
        self.retry_after = seconds
