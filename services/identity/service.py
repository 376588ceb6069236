"""Identity service (nameko): accounts, sessions, trust levels, staff grants, privacy.

A thin interface over :class:`IdentityApplication`. Identity errors are DomainErrors and
leave with their stable code as they are; mails to send are handed to the notifications
service (RPC ``send_account_mail``), which delivers them over SMTP.
Account deletion spans services: the request voids the account at once, the submissions
service erases the applicant's cases and the notifications service their messages, then the
deletion is completed here; a timer retries every unfinished deletion until it is complete.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
from nameko.events import EventDispatcher
from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.config import WebSettings, identity_settings
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided, SettingTimer
from services.common.problems import DomainError
from services.common.tokens import LEEWAY
from services.identity.application import IdentityApplication, open_identity
from services.identity.application.results import MailToSend
from services.identity.domain import RefreshTokenReused

log = logs.get_logger("identity")
#: Links in mails open a page of the web portal (``WEB_PUBLIC_URL``, services/web/mail_links.py)
#: whose button changes state (a GET never does: mail scanners follow links); the token is in
#: the fragment, which never reaches a server or a Referer. API clients post the token from the
#: link to the API themselves; the gateway's own pages (/account/…) still take older links.
LINKS = {
    "verify_email": "/konto/bestaetigen#token={token}",
    "password_reset": "/konto/passwort-neu#token={token}",
    "confirm_email_change": "/konto/email-bestaetigen#token={token}",
    "staff_invitation": "/konto/passwort-neu#token={token}",
}


#: How long a mail without a one-time link may wait for delivery before its address is dropped.
NOTICE_TTL = timedelta(days=2)


def mail_request(mail: MailToSend, base_url: str) -> dict[str, Any]:
    """What the notifications service needs to send one account mail: the link (with its
    one-time token) is built here, and kept there only until the mail is delivered."""
    link = LINKS.get(mail.template)
    url = base_url + link.format(**mail.params) if link and "token" in mail.params else None
    expires_at = mail.params.get("expires_at") or (datetime.now(UTC) + NOTICE_TTL).isoformat()
    return {
        "mail_id": uuid.uuid4().hex, "template": mail.template, "to": mail.to, "account_id": mail.account_id,
        "link": url, "expires_at": expires_at, "correlation_id": logs.current_correlation_id(),
    }


def send_mails(notifications: Any, mails: Iterable[MailToSend]) -> None:
    """Hand mails to the notifications service without waiting for it (``call_async``): the
    request that caused a mail never waits on mail delivery, and the request sits in the
    durable RPC queue while the notifications service restarts. The log keeps only the
    template and a random mail id: recipients and links (with their one-time tokens) never
    enter it."""
    base_url = WebSettings.from_env().public_url  # the portal's pages for these links
    for mail in mails:
        request = mail_request(mail, base_url)
        log.info("mail_outbox", template=mail.template, mail_id=request["mail_id"])
        notifications.send_account_mail.call_async(request)


class IdentityService:
    name = "identity"

    app: IdentityApplication = Provided(open_identity)
    dispatch = EventDispatcher()
    submissions = RpcProxy("submissions")
    notifications = RpcProxy("notifications")
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
    def register(
        self, email: str, password: str, kind: str, display_name: str | None, organisation_name: str | None,
        client_ip: str | None = None,
    ) -> dict[str, str]:
        outcome = self.app.register(
            email, password, kind=kind, display_name=display_name, organisation_name=organisation_name,
            client_ip=client_ip,
        )
        send_mails(self.notifications, outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def verify_email(self, token: str) -> dict[str, Any]:
        return self.app.verify_email(token)

    @rpc(expected_exceptions=DomainError)
    def resend_verification(self, email: str, client_ip: str | None = None) -> dict[str, str]:
        outcome = self.app.resend_verification(email, client_ip=client_ip)
        send_mails(self.notifications, outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def login(self, email: str, password: str, client_ip: str | None) -> dict[str, Any]:
        result = self.app.login(email, password, client_ip=client_ip)
        send_mails(self.notifications, result.mails)
        if not result.ok:
            return {"ok": False, "error": result.error, "retry_after": result.retry_after}
        return {"ok": True, "tokens": result.tokens.to_dict()}

    @rpc(expected_exceptions=DomainError)
    def refresh(self, refresh_token: str) -> dict[str, Any]:
        with self._broadcast_when_reused():
            return self.app.refresh(refresh_token).to_dict()

    @rpc(expected_exceptions=DomainError)
    def recent_revocations(self) -> dict[str, Any]:
        """What a gateway that missed broadcasts must know (from the event store)."""
        return self.app.recent_revocations()

    def _until(self) -> float:
        """When every access token issued until now has expired (verifiers' leeway included)."""
        return round(time.time() + self.app.settings.access_token_ttl + LEEWAY, 3)

    def _revoked(self, account_id: str) -> None:
        """Tell every gateway that tokens issued to the account until now are void."""
        self.dispatch("sessions_revoked", {"account_id": account_id, "at": round(time.time(), 3), "until": self._until()})

    def _session_revoked(self, session_id: str) -> None:
        """Tell every gateway that the session's access tokens are void."""
        self.dispatch("sessions_revoked", {"session_id": session_id, "until": self._until()})

    @contextlib.contextmanager
    def _broadcast_when_reused(self) -> Iterator[None]:
        """A replayed refresh token revoked its session: its access tokens go too."""
        try:
            yield
        except RefreshTokenReused as reused:
            if reused.session_id:
                self._session_revoked(reused.session_id)
            raise

    @rpc(expected_exceptions=DomainError)
    def logout(self, account_id: str, refresh_token: str) -> None:
        """End the caller's session, proven by its refresh token's secret; its access
        tokens are void at every gateway at once."""
        with self._broadcast_when_reused():
            self._session_revoked(self.app.logout(refresh_token, account_id))

    @rpc(expected_exceptions=DomainError)
    def logout_everywhere(self, account_id: str) -> None:
        self.app.logout_everywhere(account_id)
        self._revoked(account_id)

    @rpc(expected_exceptions=DomainError)
    def request_password_reset(self, email: str) -> dict[str, str]:
        outcome = self.app.request_password_reset(email)
        send_mails(self.notifications, outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def reset_password(self, token: str, new_password: str) -> dict[str, str]:
        outcome = self.app.reset_password(token, new_password)
        send_mails(self.notifications, outcome.mails)
        if outcome.account_id:
            self._revoked(outcome.account_id)  # the old password's sessions end, their tokens too
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def change_password(self, account_id: str, current_password: str, new_password: str) -> dict[str, str]:
        outcome = self.app.change_password(account_id, current_password, new_password)
        send_mails(self.notifications, outcome.mails)
        self._revoked(account_id)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def request_email_change(self, account_id: str, new_email: str, password: str) -> dict[str, str]:
        outcome = self.app.request_email_change(account_id, new_email, password)
        send_mails(self.notifications, outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def confirm_email_change(self, token: str) -> dict[str, Any]:
        return self.app.confirm_email_change(token)

    @rpc(expected_exceptions=DomainError)
    def get_account(self, account_id: str) -> dict[str, Any]:
        return self.app.get_account(account_id)

    @rpc(expected_exceptions=DomainError)
    def get_profile(self, account_id: str) -> dict[str, Any]:
        """The prefill profile (name, address, birth date, phone) of the account's owner."""
        return self.app.get_profile(account_id)

    @rpc(expected_exceptions=DomainError)
    def set_profile(self, account_id: str, profile: Any) -> dict[str, Any]:
        return self.app.set_profile(account_id, profile)

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
        """Erase the applicant's cases (idempotent, in submissions) and the person's messages
        (idempotent, in notifications), then complete the deletion here. False (still
        pending) if any step failed."""
        account_id = request["account_id"]
        try:
            if request["erase_cases"]:
                with eventlet.Timeout(self.app.settings.deletion_erasure_timeout):
                    self.submissions.erase_applicant(account_id)
            with eventlet.Timeout(self.app.settings.deletion_erasure_timeout):
                self.notifications.erase_recipient(account_id)
            outcome = self.app.complete_deletion(account_id)
        except (Exception, eventlet.Timeout) as exc:  # noqa: BLE001 - whatever failed, the deletion stays pending
            log.warning("account_deletion_pending", account_id=account_id, error=repr(exc)[:300])
            return False
        send_mails(self.notifications, outcome.mails)
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
        send_mails(self.notifications, created.mails)
        return {"account_id": created.account_id}

    # Roles are given four-eyes: a request, then another person's approval. There is no RPC
    # that grants a role in one step (IdentityApplication.grant_role is for set-up code only).
    @rpc(expected_exceptions=DomainError)
    def request_grant(self, account_id: str, tenant: str, role: str, service_keys: list[str], by: str) -> dict[str, Any]:
        return self.app.request_grant(account_id, tenant, role, service_keys, requested_by=by)

    @rpc(expected_exceptions=DomainError)
    def approve_grant(self, account_id: str, tenant: str, request_id: str, by: str) -> dict[str, Any]:
        return self.app.approve_grant(account_id, tenant, request_id, approved_by=by)

    @rpc(expected_exceptions=DomainError)
    def reject_grant(self, account_id: str, tenant: str, request_id: str, by: str) -> dict[str, Any]:
        return self.app.reject_grant(account_id, tenant, request_id, rejected_by=by)

    @rpc(expected_exceptions=DomainError)
    def staff_grants(self, account_id: str, tenant: str) -> dict[str, Any]:
        return self.app.staff_grants(account_id, tenant)

    @rpc(expected_exceptions=DomainError)
    def staff_with_role(self, tenant: str, role: str) -> list[dict[str, str]]:
        """Active, verified staff with ``role`` in ``tenant``: for the rules' overdue notices only."""
        return self.app.staff_with_role(tenant, role)

    @rpc(expected_exceptions=DomainError)
    def grant_history(self, account_id: str, tenant: str) -> dict[str, Any]:
        return self.app.grant_history(account_id, tenant)

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
