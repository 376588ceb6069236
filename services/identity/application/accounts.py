"""Self-service account commands: register, verify, reset/change password, change e-mail."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from services.identity import onetime
from services.identity.application.base import IdentityBase
from services.identity.application.results import (
    MAIL_ACCOUNT_EXISTS,
    MAIL_CONFIRM_EMAIL_CHANGE,
    MAIL_EMAIL_CHANGE_NOTICE,
    MAIL_EMAIL_IN_USE,
    MAIL_PASSWORD_CHANGED,
    MAIL_PASSWORD_RESET,
    Accepted,
    MailToSend,
)
from services.identity.domain import (
    APPLICANT_KINDS,
    EmailAlreadyInUse,
    EmailIndex,
    InvalidInput,
    NotPermitted,
    OneTimeTokenInvalid,
    normalise_email,
)
from services.identity.domain.errors import RateLimited, WrongPassword
from services.identity.domain.values import check_kind

_NAME_MAX = 200


def _clean_name(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(str(value).split())
    if len(value) > _NAME_MAX:
        raise InvalidInput(f"names are limited to {_NAME_MAX} characters")
    return value or None


class AccountCommands(IdentityBase):
    def register(
        self,
        email: str,
        password: str,
        *,
        kind: str = "citizen",
        display_name: str | None = None,
        organisation_name: str | None = None,
        client_ip: str | None = None,
    ) -> Accepted:
        """Self-registration of citizens and organisations.

        Same answer for new and existing addresses; the mail differs (verification link
        vs. "you already have an account"). Input and password are validated *before*
        looking at the address, and the password is hashed in both cases, so neither
        errors nor timing tell whether the address is registered. Limited per address
        and per client address (RateLimited), counted before the address is looked at.
        """
        self._limit_mails(email, client_ip)
        if check_kind(kind) not in APPLICANT_KINDS:
            raise NotPermitted(f"accounts of kind {kind!r} are created by administrators")
        normalised = normalise_email(email)
        organisation_name = _clean_name(organisation_name)
        if kind == "organisation" and not organisation_name:
            raise InvalidInput("organisation accounts need an organisation name")
        password_hash = self.passwords.hash(self.passwords.policy.check(password, email=normalised))
        self.mail_throttle.record(normalised, client_ip)
        now = self._now()
        created = self._new_account(
            email=normalised,
            kind=kind,
            password_hash=password_hash,
            display_name=_clean_name(display_name),
            organisation_name=organisation_name,
            created_by=None,
            now=now,
        )
        if created is not None:
            account, personal, index = created
            mail = self._verification_mail(account, normalised, now)
            if self._store_new_account(account, personal, index):
                return Accepted(mails=(mail,))
        return Accepted(mails=(MailToSend(MAIL_ACCOUNT_EXISTS, normalised),))

    def verify_email(self, token: str) -> dict[str, object]:
        account = self._account_from_token(token)
        account.verify_email(self._secret_hash(token), self._now())
        self.save(account)
        return {"account_id": str(account.id), "email_verified": True}

    def resend_verification(self, email: str, *, client_ip: str | None = None) -> Accepted:
        """A new verification link, if the address has an unverified account. Limited
        like registration (the same per-address budget); always the same answer."""
        self._limit_mails(email, client_ip)
        self.mail_throttle.record(email, client_ip)
        account = self._find_account(email)
        if account is None or account.email_verified:
            return Accepted()
        personal = self._get_personal(account)
        if personal is None:
            return Accepted()
        mail = self._verification_mail(account, personal.email, self._now())
        self.save(account)
        return Accepted(mails=(mail,))

    def request_password_reset(self, email: str) -> Accepted:
        """Mail a single-use reset link if the address has an account; at most one per
        IDENTITY_RESET_REQUEST_INTERVAL. Always the same answer."""
        account = self._find_account(email)
        personal = self._get_personal(account) if account else None
        if account is None or personal is None:
            return Accepted()
        now = self._now()
        last = account.last_reset_requested_at
        if last is not None and now - last < self._seconds(self.settings.reset_request_interval):
            return Accepted()
        issued = onetime.issue(account.id)
        expires = now + self._seconds(self.settings.reset_ttl)
        account.request_password_reset(issued.token_hash, expires, now)
        self.save(account)
        params = {"token": issued.token, "expires_at": expires.isoformat()}
        return Accepted(mails=(MailToSend(MAIL_PASSWORD_RESET, personal.email, params, str(account.id)),))

    def reset_password(self, token: str, new_password: str) -> Accepted:
        """Set a new password with a reset (or staff invitation) token. Also verifies
        the address and ends all sessions."""
        account = self._account_from_token(token)
        personal = self._get_personal(account)
        if personal is None:
            raise OneTimeTokenInvalid("unknown token")
        password = self.passwords.policy.check(new_password, email=personal.email)
        now = self._now()
        account.reset_password(self._secret_hash(token), now)  # decides: raises if invalid
        personal.set_password_hash(self.passwords.hash(password), now, reason="reset")
        self._save_personal(personal)
        self.save(account)
        return Accepted(mails=(MailToSend(MAIL_PASSWORD_CHANGED, personal.email, account_id=str(account.id)),),
                        account_id=str(account.id))

    def _limit_mails(self, email: str, client_ip: str | None) -> None:
        wait = self.mail_throttle.retry_after(email, client_ip)
        if wait > 0:
            raise RateLimited(wait)

    def _reauthenticate(self, personal: Any, password: str) -> None:
        """A logged-in person confirms with the current password: throttled like a login
        (the same per-account budget), so a stolen token cannot guess it."""
        if personal is None:
            raise WrongPassword("no password on this account")
        wait = self.throttle.retry_after(personal.email, None)
        if wait > 0:
            raise RateLimited(wait)
        if not self.passwords.verify(personal.password_hash, password):
            self.throttle.record_failure(personal.email, None)
            raise WrongPassword("current password is wrong")
        self.throttle.record_success(personal.email, None)

    def change_password(self, account_id: str | UUID, current_password: str, new_password: str) -> Accepted:
        """Change the password of a logged-in account; ends all its sessions."""
        account = self._get_account(account_id)
        personal = self._get_personal(account)
        self._reauthenticate(personal, current_password)
        password = self.passwords.policy.check(new_password, email=personal.email)
        now = self._now()
        account.change_password(now)
        personal.set_password_hash(self.passwords.hash(password), now, reason="change")
        self._save_personal(personal)
        self.save(account)
        return Accepted(mails=(MailToSend(MAIL_PASSWORD_CHANGED, personal.email, account_id=str(account.id)),))

    def request_email_change(self, account_id: str | UUID, new_email: str, password: str) -> Accepted:
        """Start an e-mail change (re-authenticated with the password). The new address
        gets a confirmation link — or, if it already has an account, a notice instead;
        the old address is told either way. The answer is the same in all cases."""
        account = self._get_account(account_id)
        personal = self._get_personal(account)
        self._reauthenticate(personal, password)
        normalised = normalise_email(new_email)
        if normalised == personal.email:
            raise InvalidInput("that is already the account's address")
        notice = MailToSend(MAIL_EMAIL_CHANGE_NOTICE, personal.email, account_id=str(account.id))
        index = self._get_index(normalised)
        if index is not None and index.is_claimed:
            return Accepted(mails=(MailToSend(MAIL_EMAIL_IN_USE, normalised), notice))
        now = self._now()
        issued = onetime.issue(account.id)
        expires = now + self._seconds(self.settings.email_change_ttl)
        account.request_email_change(issued.token_hash, expires, now)
        personal.set_pending_email(normalised, now)
        self._save_personal(personal)
        self.save(account)
        params = {"token": issued.token, "expires_at": expires.isoformat()}
        return Accepted(mails=(MailToSend(MAIL_CONFIRM_EMAIL_CHANGE, normalised, params, str(account.id)), notice))

    def confirm_email_change(self, token: str) -> dict[str, object]:
        """Confirm with the link sent to the new address: claims the new address and
        releases the old one in one transaction (EmailAlreadyInUse if someone else
        claimed it meanwhile)."""
        account = self._account_from_token(token)
        personal = self._get_personal(account)
        if personal is None or not personal.pending_email:
            raise OneTimeTokenInvalid("no pending e-mail change")
        now = self._now()
        account.confirm_email_change(self._secret_hash(token), now)
        new_index = self._get_index(personal.pending_email)
        if new_index is None:
            new_index = EmailIndex.claim_new(self._index_id(personal.pending_email), account.id, now)
        else:
            new_index.claim(account.id, now)
        old_index = self._get_index(personal.email)
        if old_index is not None and old_index.account_id == account.id:
            old_index.release(account.id, now)
        try:
            self.save(account, new_index, old_index)
        except IntegrityError:
            raise EmailAlreadyInUse("address was claimed concurrently") from None
        personal.apply_pending_email(account.email_generation, now)
        self._save_personal(personal)
        return {"account_id": str(account.id), "email": personal.email}
