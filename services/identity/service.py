"""Identity service (nameko): accounts, sessions, trust levels, staff grants, privacy.

A thin interface over :class:`IdentityApplication`. Identity errors are DomainErrors and
leave with their stable code as they are; mails to send are handed to the outbox (logged
until the notifications service exists: `make run` shows the links there). Account
deletion spans services: the request voids the account at once, the submissions service
erases the applicant's cases, then the deletion is completed here; a timer retries every
unfinished deletion until it is complete.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import eventlet
from nameko.events import EventDispatcher
from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.config import identity_settings, settings
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided, SettingTimer
from services.common.problems import DomainError
from services.identity.application import IdentityApplication, open_identity
from services.identity.application.results import MailToSend

log = logs.get_logger("identity")
LINKS = {
    "verify_email": "/api/v1/auth/verify-email?token={token}",
    "password_reset": "/api/v1/auth/password-reset/confirm?token={token}",
    "confirm_email_change": "/api/v1/auth/change-email/confirm?token={token}",
    "staff_invitation": "/api/v1/auth/password-reset/confirm?token={token}",
}


def send_mails(mails: Iterable[MailToSend]) -> None:
    """Hand mails to the outbox. Until the notifications service exists they are logged,
    with their link, so a developer running `make run` can follow them."""
    public_url = settings().public_base_url
    for mail in mails:
        link = LINKS.get(mail.template)
        log.info(
            "mail_outbox",
            template=mail.template,
            to=mail.to,
            link=public_url + link.format(**mail.params) if link and "token" in mail.params else None,
        )


class IdentityService:
    name = "identity"

    app: IdentityApplication = Provided(open_identity)
    dispatch = EventDispatcher()
    submissions = RpcProxy("submissions")
    observability = Observability("identity")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "identity"

    @rpc
    def jwks(self) -> dict[str, Any]:
        """Public verification keys; the gateway checks access tokens locally with them."""
        return self.app.tokens.keyset.jwks()

    # -- citizens: account and session -------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def register(self, email: str, password: str, kind: str, display_name: str | None, organisation_name: str | None) -> dict[str, str]:
        outcome = self.app.register(
            email, password, kind=kind, display_name=display_name, organisation_name=organisation_name
        )
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def verify_email(self, token: str) -> dict[str, Any]:
        return self.app.verify_email(token)

    @rpc(expected_exceptions=DomainError)
    def resend_verification(self, email: str) -> dict[str, str]:
        outcome = self.app.resend_verification(email)
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def login(self, email: str, password: str, client_ip: str | None) -> dict[str, Any]:
        result = self.app.login(email, password, client_ip=client_ip)
        send_mails(result.mails)
        if not result.ok:
            return {"ok": False, "error": result.error, "retry_after": result.retry_after}
        return {"ok": True, "tokens": result.tokens.to_dict()}

    @rpc(expected_exceptions=DomainError)
    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self.app.refresh(refresh_token).to_dict()

    def _revoked(self, account_id: str) -> None:
        """Tell every gateway that tokens issued to the account until now are void."""
        self.dispatch("sessions_revoked", {"account_id": account_id, "at": round(time.time(), 3)})

    @rpc(expected_exceptions=DomainError)
    def end_session(self, account_id: str, session_id: str | None, until: float | None, refresh_token: str | None) -> None:
        """Logout: revoke the session (refresh token and the access token's ``sid``)."""
        if refresh_token:
            self.app.logout(refresh_token)
        if session_id:
            self.app.end_session(account_id, session_id)
            self.dispatch("sessions_revoked", {"session_id": session_id, "until": until or time.time() + 3600})

    @rpc(expected_exceptions=DomainError)
    def logout_everywhere(self, account_id: str) -> None:
        self.app.logout_everywhere(account_id)
        self._revoked(account_id)

    @rpc(expected_exceptions=DomainError)
    def request_password_reset(self, email: str) -> dict[str, str]:
        outcome = self.app.request_password_reset(email)
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def reset_password(self, token: str, new_password: str) -> dict[str, str]:
        outcome = self.app.reset_password(token, new_password)
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def change_password(self, account_id: str, current_password: str, new_password: str) -> dict[str, str]:
        outcome = self.app.change_password(account_id, current_password, new_password)
        send_mails(outcome.mails)
        self._revoked(account_id)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def request_email_change(self, account_id: str, new_email: str, password: str) -> dict[str, str]:
        outcome = self.app.request_email_change(account_id, new_email, password)
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def confirm_email_change(self, token: str) -> dict[str, Any]:
        return self.app.confirm_email_change(token)

    @rpc(expected_exceptions=DomainError)
    def get_account(self, account_id: str) -> dict[str, Any]:
        return self.app.get_account(account_id)

    @rpc(expected_exceptions=DomainError)
    def export_account_data(self, account_id: str) -> dict[str, Any]:
        return self.app.export_account_data(account_id)

    # -- deletion: requested (account void at once), cases erased, then completed ----------------
    @rpc(expected_exceptions=DomainError)
    def delete_account(self, account_id: str, password: str) -> dict[str, str]:
        """The owner deletes the account, re-authenticated with the current password.
        ``deleted`` when complete; ``deletion_pending`` when a step failed (e.g. the
        submissions service is unreachable): the account is unusable already and
        :meth:`retry_pending_deletions` finishes the deletion."""
        request = self.app.request_deletion(account_id, password, by=account_id)
        self._revoked(account_id)
        return {"status": "deleted" if self._complete_deletion(request) else "deletion_pending"}

    @SettingTimer.decorator(interval_from=lambda: identity_settings().deletion_retry_interval)
    def retry_pending_deletions(self) -> None:
        for request in self.app.pending_deletions():
            self._complete_deletion(request)

    def _complete_deletion(self, request: dict[str, Any]) -> bool:
        """Erase the applicant's cases (idempotent, in submissions), then complete the
        deletion here. False (still pending) if any step failed."""
        account_id = request["account_id"]
        try:
            if request["erase_cases"]:
                with eventlet.Timeout(self.app.settings.deletion_erasure_timeout):
                    self.submissions.erase_applicant(account_id)
            outcome = self.app.complete_deletion(account_id)
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - whatever failed, the deletion stays pending
            log.warning("account_deletion_pending", account_id=account_id, error=repr(exc)[:300])
            return False
        send_mails(outcome.mails)
        log.info("account_deleted", account_id=account_id)
        return True

    # -- trust levels (eID) -----------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def start_eid_verification(self, account_id: str, return_url: str) -> dict[str, Any]:
        return self.app.start_eid_verification(account_id, return_url)

    @rpc(expected_exceptions=DomainError)
    def complete_eid_verification(self, account_id: str, callback_params: dict[str, str]) -> dict[str, Any]:
        return self.app.complete_eid_verification(account_id, callback_params)

    # -- staff --------------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def create_staff_account(self, email: str, kind: str, display_name: str | None, created_by: str) -> dict[str, Any]:
        created = self.app.create_staff_account(email, kind=kind, display_name=display_name, created_by=created_by)
        send_mails(created.mails)
        return {"account_id": created.account_id}

    @rpc(expected_exceptions=DomainError)
    def grant_role(self, account_id: str, tenant: str, role: str, service_keys: list[str], by: str) -> list[dict[str, Any]]:
        return self.app.grant_role(account_id, tenant, role, service_keys, granted_by=by)

    @rpc(expected_exceptions=DomainError)
    def revoke_role(self, account_id: str, tenant: str, role: str, by: str) -> list[dict[str, Any]]:
        grants = self.app.revoke_role(account_id, tenant, role, revoked_by=by)
        self._revoked(account_id)  # tokens carrying the old grant are void now
        return grants

    @rpc(expected_exceptions=DomainError)
    def lock_account(self, account_id: str, by: str) -> None:
        self.app.lock_account(account_id, by=by)
        self._revoked(account_id)

    @rpc(expected_exceptions=DomainError)
    def unlock_account(self, account_id: str, by: str) -> None:
        self.app.unlock_account(account_id, by=by)
