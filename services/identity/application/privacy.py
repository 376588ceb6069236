"""Account views and data subject rights: access/export (Art. 15/20) and erasure (Art. 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.identity.application.base import IdentityBase
from services.identity.application.results import MAIL_ACCOUNT_DELETED, Accepted, MailToSend
from services.identity.domain import Account, Session

_META = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp"})


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class PrivacyCommands(IdentityBase):
    def get_account(self, account_id: str | UUID) -> dict[str, Any]:
        """The account as shown to its owner or an authorised admin."""
        account = self._get_account(account_id)
        personal = self._get_personal(account)
        now = self._now()
        view: dict[str, Any] = {
            "account_id": str(account.id),
            "kind": account.kind,
            "status": account.status,
            "email_verified": account.email_verified,
            "trust_level": account.trust_level,
            "grants": account.grant_list(),
            "locked": account.is_locked(now),
            "locked_until": self._iso(account.locked_until),
            "created_at": self._iso(account.created_on),
            "last_login_at": self._iso(account.last_login_at),
            "deleted_at": self._iso(account.deleted_at),
        }
        data = personal.as_dict() if personal else {}
        for key in ("email", "display_name", "organisation_name"):
            view[key] = data.get(key)
        return view

    def export_account_data(self, account_id: str | UUID) -> dict[str, Any]:
        """Everything stored about the account as a JSON-able dict (no secrets: password
        and token hashes are omitted, their existence is stated)."""
        account = self._get_account(account_id)
        personal = self._get_personal(account)
        history = []
        session_ids = []
        for event in self.events.get(account.id):
            data = {k: _plain(v) for k, v in vars(event).items() if k not in _META and not k.endswith("_hash")}
            history.append({"event": type(event).__name__, "at": event.timestamp.isoformat(), "data": data})
            if isinstance(event, Account.LoginSucceeded):
                session_ids.append(event.session_id)
        sessions = []
        for session_id in session_ids:
            try:
                session: Session = self.repository.get(session_id)
            except AggregateNotFoundError:
                continue
            sessions.append(
                {
                    "session_id": str(session.id),
                    "started_at": session.started_at.isoformat(),
                    "expires_at": session.expires_at.isoformat(),
                    "revoked": session.revoked,
                    "revoke_reason": session.revoke_reason,
                }
            )
        return {
            "format": "virtuelles-rathaus/identity-export/v1",
            "exported_at": self._now().isoformat(),
            "account": self.get_account(account.id),
            "personal_data": personal.as_dict() if personal else None,
            "history": history,
            "sessions": sessions,
        }

    def delete_account(self, account_id: str | UUID, *, reason: str = "requested_by_user", by: str | None = None) -> Accepted:
        """Delete the account: ``AccountDeleted`` (grants, tokens, sessions void), the
        e-mail index released (address reusable) in the same transaction, then the
        account's id redacted out of its e-mail index streams, then the PersonalData
        stream physically erased. Idempotent: calling it again for a
        deleted account only repeats the erasure (use after a crash in between).
        The returned mail is the last use of the address; send it, do not keep it.
        """
        account = self._get_account(account_id)
        personal = self._get_personal(account)
        mails: tuple[MailToSend, ...] = ()
        if not account.is_deleted:
            now = self._now()
            index = self._get_index(personal.email) if personal else None
            account.delete(now, reason=reason, by=by)
            if index is not None and index.account_id == account.id:
                index.release(account.id, now)
            else:
                index = None
            self.save(account, index)
            if personal is not None:
                mails = (MailToSend(MAIL_ACCOUNT_DELETED, personal.email),)
        self._unlink_email_index(account.id, account.personal_data_id)
        self._purge_personal(account.personal_data_id)
        return Accepted(mails=mails)
