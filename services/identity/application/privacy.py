"""Account views and data subject rights: access/export (Art. 15/20) and erasure (Art. 17)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from services.identity.application.base import IdentityBase
from services.identity.application.results import MAIL_ACCOUNT_DELETED, Accepted, MailToSend
from services.identity.domain import (
    APPLICANT_KINDS,
    Account,
    AccountDeleted,
    EmailIndex,
    PendingDeletions,
    PersonalData,
    Session,
)
from services.identity.domain.deletions import PENDING_DELETIONS_ID
from services.identity.domain.errors import AccountNotFound
from services.identity.domain.profile import FIELDS, check_profile

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

    def get_profile(self, account_id: str | UUID) -> dict[str, Any]:
        """The prefill profile: every field (``None`` where not given) and when it was saved."""
        personal = self._get_personal(self._get_account(account_id))
        stored = (personal.as_dict()["profile"] if personal else None) or {}
        return {**{name: stored.get(name) for name in FIELDS}, "updated_at": stored.get("updated_at")}

    def set_profile(self, account_id: str | UUID, data: Any) -> dict[str, Any]:
        account = self._get_account(account_id)
        if account.is_closed:
            raise AccountNotFound(f"no account {account_id}")
        now = self._now()
        profile = check_profile(data, now.date())
        personal = self._get_personal(account)
        if personal is None:
            raise AccountNotFound(f"no personal data of {account_id}")
        personal.set_profile(profile, now)
        self._save_personal(personal)
        return self.get_profile(account_id)

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

    # -- deletion (Art. 17): request, then (after the applicant's cases are erased) complete --
    def request_deletion(
        self, account_id: str | UUID, password: str, *, reason: str = "requested_by_user", by: str | None = None
    ) -> dict[str, Any]:
        """The owner asks to delete the account, confirming with the current password
        (throttled and counted like every re-authentication). From now on the account is
        unusable; the request is kept in :class:`PendingDeletions` (same transaction) until
        :meth:`complete_deletion`. ``erase_cases``: the caller must first erase the
        applicant's personal data in their cases. Idempotent."""
        account = self._get_account(account_id)
        if account.is_deleted:
            raise AccountDeleted(f"account {account_id} is deleted")
        self._reauthenticate(self._get_personal(account), password)
        erase_cases = account.kind in APPLICANT_KINDS

        def decide(account: Account, queue: PendingDeletions, now: datetime) -> None:
            account.request_deletion(now, reason=reason, by=by)
            queue.add(account.id, erase_cases, now)

        self._with_pending_deletions(account.id, decide)
        return {"account_id": str(account.id), "erase_cases": erase_cases}

    def pending_deletions(self) -> list[dict[str, Any]]:
        """Requested deletions not completed yet, oldest first."""
        queue = self._pending_deletions()
        return [{"account_id": key, "erase_cases": erase} for key, erase in queue.pending.items()]

    def complete_deletion(self, account_id: str | UUID) -> Accepted:
        """Delete a requested account: ``AccountDeleted`` with the e-mail index released
        (address reusable) in one transaction, then the account's id redacted out of its e-mail index streams, then the
        PersonalData stream physically erased, then the request removed from the pending ones. Each step is idempotent and
        the request stays pending until the last, so a retry after a crash finishes the
        job. The returned mail is the last use of the address; send it, do not keep it.
        """
        account = self._get_account(account_id)
        mails: tuple[MailToSend, ...] = ()
        if not account.is_deleted:
            personal = self._get_personal(account)
            now = self._now()
            account.delete(now)  # NotPermitted unless requested
            self.save(account, self._released_email_index(account, personal, now))
            if personal is not None:
                mails = (MailToSend(MAIL_ACCOUNT_DELETED, personal.email),)
        self._unlink_email_index(account.id, account.personal_data_id)
        self._purge_personal(account.personal_data_id)
        self._with_pending_deletions(account.id, lambda _account, queue, now: queue.remove(account.id, now))
        return Accepted(mails=mails)

    def _released_email_index(self, account: Account, personal: PersonalData | None, now: datetime) -> EmailIndex | None:
        """The account's e-mail index, released so the address can be registered again
        (saved with ``AccountDeleted``). The one place deletion touches the index."""
        index = self._get_index(personal.email) if personal else None
        if index is None or index.account_id != account.id:
            return None
        index.release(account.id, now)
        return index

    def _pending_deletions(self) -> PendingDeletions:
        try:
            return self.repository.get(PENDING_DELETIONS_ID)
        except AggregateNotFoundError:
            return PendingDeletions.start(self._now())

    def _with_pending_deletions(
        self, account_id: UUID, decide: Callable[[Account, PendingDeletions, datetime], None], attempts: int = 5
    ) -> None:
        """load → decide → save for an account together with the pending deletions (one
        stream for all accounts: retried when another deletion wrote to it meanwhile)."""
        for attempt in range(attempts):
            account, queue = self._get_account(account_id), self._pending_deletions()
            decide(account, queue, self._now())
            try:
                self.save(account, queue)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                continue
            return
