"""Administrative commands: staff accounts, tenant grants, locking.

Authorisation of the *caller* happens in the gateway (``authz.can_manage_staff``);
these commands record who acted (``created_by`` / ``granted_by`` / ``by``). People give
roles four-eyes: :meth:`StaffCommands.request_grant`, then a second person's
:meth:`~StaffCommands.approve_grant` (the Account enforces who may approve).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from services.identity import onetime
from services.identity.application.base import IdentityBase
from services.identity.application.results import MAIL_STAFF_INVITATION, Created, MailToSend
from services.identity.domain import STAFF_KINDS, EmailAlreadyInUse, NotPermitted, normalise_email
from services.identity.domain.values import check_kind


class StaffCommands(IdentityBase):
    def create_staff_account(
        self,
        email: str,
        *,
        kind: str,
        display_name: str | None = None,
        password: str | None = None,
        created_by: str | None = None,
    ) -> Created:
        """Create a clerk, tenant admin or operator account.

        Without ``password`` the person gets an invitation mail with a set-password
        link (a reset token valid IDENTITY_INVITATION_TTL) which also verifies the
        address. With ``password`` (demo data, scripted setup) a normal verification
        mail is produced. Raises EmailAlreadyInUse — the caller is an authorised admin.
        """
        if check_kind(kind) not in STAFF_KINDS:
            raise NotPermitted(f"{kind!r} is not a staff kind")
        normalised = normalise_email(email)
        password_hash = None
        if password is not None:
            password_hash = self.passwords.hash(self.passwords.policy.check(password, email=normalised))
        now = self._now()
        created = self._new_account(
            email=normalised,
            kind=kind,
            password_hash=password_hash,
            display_name=display_name,
            organisation_name=None,
            created_by=created_by,
            now=now,
        )
        if created is None:
            raise EmailAlreadyInUse("address already has an account")
        account, personal, index = created
        if password_hash:
            mail = self._verification_mail(account, normalised, now)
        else:
            issued = onetime.issue(account.id)
            expires = now + self._seconds(self.settings.invitation_ttl)
            account.request_password_reset(issued.token_hash, expires, now)
            params = {"token": issued.token, "expires_at": expires.isoformat()}
            mail = MailToSend(MAIL_STAFF_INVITATION, normalised, params, str(account.id))
        if not self._store_new_account(account, personal, index):
            raise EmailAlreadyInUse("address already has an account")
        return Created(account_id=str(account.id), mails=(mail,))

    def grant_role(
        self,
        account_id: str | UUID,
        tenant: str,
        role: str,
        service_keys: list[str],
        *,
        granted_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """Grant (or replace the service keys of) ``role`` in ``tenant`` at once; returns all
        grants. No second person: for set-up code run by the platform's operators (demo
        data, a new tenant's first admin) — never offered over RPC. Takes effect at the
        account's next token refresh (≤ access-token TTL)."""

        def decide(account: Any) -> list[dict[str, Any]]:
            account.grant_role(tenant, role, list(service_keys), self._now(), granted_by=granted_by)
            return account.grant_list()

        return self._update(account_id, decide)

    def revoke_role(
        self, account_id: str | UUID, tenant: str, role: str, *, revoked_by: str | None = None
    ) -> list[dict[str, Any]]:
        def decide(account: Any) -> list[dict[str, Any]]:
            account.revoke_role(tenant, role, self._now(), revoked_by=revoked_by)
            return account.grant_list()

        return self._update(account_id, decide)

    def request_grant(
        self, account_id: str | UUID, tenant: str, role: str, service_keys: list[str], *, requested_by: str
    ) -> dict[str, Any]:
        """Ask for ``role`` in ``tenant`` for the account; nothing is granted until
        :meth:`approve_grant`. Returns the pending request."""
        request = self._update(
            account_id,
            lambda a: a.request_grant(tenant, role, list(service_keys), self._now(), requested_by=requested_by,
                                      expires_after=self._grant_ttl()),
        )
        return self._plain_entry(request)

    def approve_grant(self, account_id: str | UUID, tenant: str, request_id: str, *, approved_by: str) -> dict[str, Any]:
        """The second person's approval: the role is held from the next token refresh.
        Raises GrantRequestExpired after IDENTITY_GRANT_REQUEST_TTL."""
        self._update(account_id, lambda a: a.approve_grant(request_id, tenant, self._now(), approved_by=approved_by,
                                                           expires_after=self._grant_ttl()))
        return self.staff_grants(account_id, tenant)

    def reject_grant(self, account_id: str | UUID, tenant: str, request_id: str, *, rejected_by: str) -> dict[str, Any]:
        self._update(account_id, lambda a: a.reject_grant(request_id, tenant, self._now(), rejected_by=rejected_by))
        return self.staff_grants(account_id, tenant)

    def staff_grants(self, account_id: str | UUID, tenant: str) -> dict[str, Any]:
        """The account's roles in ``tenant`` and the requests waiting for approval there."""
        account = self._get_account(account_id)
        return {
            "account_id": str(account.id),
            "tenant": tenant,
            "grants": [g for g in account.grant_list() if g["tenant"] == tenant],
            "pending": [self._plain_entry(r) for r in account.pending_grants(tenant, self._now(), self._grant_ttl())],
        }

    def grant_history(self, account_id: str | UUID, tenant: str) -> dict[str, Any]:
        """Every request, approval, rejection, grant and revocation of a role in ``tenant``."""
        account = self._get_account(account_id)
        items = [self._plain_entry(e) for e in account.grant_log if e["tenant"] == tenant]
        return {"account_id": str(account.id), "tenant": tenant, "items": items}

    def _grant_ttl(self) -> timedelta:
        return self._seconds(self.settings.grant_request_ttl)

    def _plain_entry(self, entry: dict[str, Any]) -> dict[str, Any]:
        return {key: self._iso(value) for key, value in entry.items()}

    def lock_account(
        self, account_id: str | UUID, *, until: datetime | None = None, by: str | None = None, reason: str = "admin"
    ) -> None:
        """Lock (indefinitely unless ``until``); ends all sessions. A password reset
        does not lift an admin lock."""
        self._update(account_id, lambda a: a.lock(self._now(), reason=reason, until=until, by=by))

    def unlock_account(self, account_id: str | UUID, *, by: str | None = None) -> None:
        self._update(account_id, lambda a: a.unlock(self._now(), reason="admin", by=by))
