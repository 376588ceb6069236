"""Plain values returned by the identity application (never aggregates)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

# Mail templates the notification service must provide. ``params`` carry what the
# template needs; tokens are to be put into links, never logged.
MAIL_VERIFY_EMAIL = "verify_email"  # params: token, expires_at
MAIL_ACCOUNT_EXISTS = "account_exists"  # someone (maybe you) tried to register again
MAIL_PASSWORD_RESET = "password_reset"  # params: token, expires_at
MAIL_PASSWORD_CHANGED = "password_changed"
MAIL_CONFIRM_EMAIL_CHANGE = "confirm_email_change"  # to the new address; token
MAIL_EMAIL_CHANGE_NOTICE = "email_change_notice"  # to the old address
MAIL_EMAIL_IN_USE = "email_in_use"  # to the new address, when it already has an account
MAIL_FAILED_LOGINS = "failed_logins"  # many failed logins: someone may be guessing (once per window)
MAIL_STAFF_INVITATION = "staff_invitation"  # params: token (set-password link), expires_at
MAIL_ACCOUNT_DELETED = "account_deleted"


@dataclass(frozen=True)
class MailToSend:
    template: str
    to: str
    params: Mapping[str, Any] = field(default_factory=dict)
    #: The account the mail is about, where it is the addressee's (its language, rate limit, erasure).
    account_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "to": self.to, "params": dict(self.params), "account_id": self.account_id}


@dataclass(frozen=True)
class Accepted:
    """Result of anonymous commands (register, password reset, resend verification).

    The public response is identical whatever happened — new account, existing
    account, unknown address — so a caller cannot enumerate accounts. Only ``mails``
    differ; hand them to the notification service and never echo them to the client.
    """

    mails: tuple[MailToSend, ...] = ()
    #: The account whose tokens the command voided (password reset), for the revocation
    #: broadcast; never part of the public response.
    account_id: str | None = None

    @staticmethod
    def public_response() -> dict[str, str]:
        return {"status": "accepted"}


@dataclass(frozen=True)
class Created:
    """Result of an authorised creation (staff accounts)."""

    account_id: str
    mails: tuple[MailToSend, ...] = ()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    session_id: str
    token_type: str = "Bearer"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoginResult:
    """``ok`` with tokens, or an ``error``:

    * ``invalid_credentials`` — unknown e-mail, wrong password, deleted account (one
      answer for all);
    * ``rate_limited`` — wait ``retry_after`` seconds; answered before the password is
      looked at, so right and wrong passwords, known and unknown e-mails get the same;
    * ``account_locked`` (an administrator's lock) / ``email_not_verified`` — only
      after a *correct* password, so they reveal nothing to someone who does not know it.
    """

    ok: bool
    tokens: TokenPair | None = None
    error: str | None = None
    retry_after: int = 0
    mails: tuple[MailToSend, ...] = ()

    @classmethod
    def failed(cls, error: str, retry_after: float = 0, mails: tuple[MailToSend, ...] = ()) -> LoginResult:
        return cls(ok=False, error=error, retry_after=int(-(-retry_after // 1)), mails=mails)
