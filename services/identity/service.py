"""Identity service (nameko): accounts, sessions, trust levels, staff grants, privacy.

A thin interface over :class:`IdentityApplication`. Identity errors are DomainErrors and
leave with their stable code as they are; mails to send are handed to the outbox (logged
until the notifications service exists: `make run` shows the links there).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from nameko.events import EventDispatcher
from nameko.rpc import rpc

from services.common import logs
from services.common.config import settings
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError
from services.common.tokens import LEEWAY
from services.identity.application import IdentityApplication, open_identity
from services.identity.application.results import MailToSend
from services.identity.domain import RefreshTokenReused

log = logs.get_logger("identity")
#: Links in mails open a page whose button changes state (a GET never does: mail scanners
#: follow links); the token is in the fragment, which never reaches a server or a Referer.
LINKS = {
    "verify_email": "/account/verify-email#token={token}",
    "password_reset": "/account/set-password#token={token}",
    "confirm_email_change": "/account/confirm-email-change#token={token}",
    "staff_invitation": "/account/set-password#token={token}",
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
        send_mails(outcome.mails)
        return outcome.public_response()

    @rpc(expected_exceptions=DomainError)
    def reset_password(self, token: str, new_password: str) -> dict[str, str]:
        outcome = self.app.reset_password(token, new_password)
        send_mails(outcome.mails)
        if outcome.account_id:
            self._revoked(outcome.account_id)  # the old password's sessions end, their tokens too
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

    @rpc(expected_exceptions=DomainError)
    def delete_account(self, account_id: str, by: str | None = None) -> dict[str, str]:
        outcome = self.app.delete_account(account_id, by=by)
        send_mails(outcome.mails)
        self._revoked(account_id)
        return outcome.public_response()

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
