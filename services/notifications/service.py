"""The notifications nameko service: sends what is due (a timer), takes identity's account
mails, keeps citizens' preferences, answers for a case's messages and erases a deleted
account's messages — all over RPC.

Why the sender lives here: at send time it asks identity for the recipient's address and
catalog for the tenant's details (nameko RPC); the address is never stored with the message.
One instance sends; a second one would need a claim on due messages first (not yet built).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, rpc

from services.common import logs, metrics
from services.common.config import Settings, settings
from services.common.db import ReadStore
from services.common.nameko_deps import (
    Config,
    Correlation,
    EntrypointMetrics,
    Observability,
    Provided,
    SettingTimer,
    domain_error,
)
from services.common.problems import DomainError
from services.notifications.application import NotificationsApp, open_notifications, statuses_of, timeline_of
from services.notifications.domain import DEFERRED, PENDING
from services.notifications.limits import RecipientLimit
from services.notifications.postbox.rpc import PostboxRpc
from services.notifications.preferences import MailSecrets, Preferences
from services.notifications.projections import Outbox
from services.notifications.smtp import SmtpTransport

log = logs.get_logger("notifications")
_sending = threading.Lock()  # one send round at a time per process (the timer may overlap)
BATCH = 100  # messages per query of what is due
ROUND_LIMIT = 30.0  # seconds one round may keep draining a backlog before the metrics are updated


class RpcDirectory:
    """Addresses from identity and tenant names from catalog, asked when a mail is sent."""

    def __init__(self, identity: Any, catalog: Any):
        self.identity = identity
        self.catalog = catalog
        # one send round's answers: a round is seconds long, an address or a tenant's details change rarely
        self._tenants: dict[str, Mapping[str, Any]] = {}
        self._recipients: dict[str, Mapping[str, Any] | None] = {}

    def recipient(self, account_id: str) -> Mapping[str, Any] | None:
        if account_id not in self._recipients:
            self._recipients[account_id] = self._lookup(account_id)
        return self._recipients[account_id]

    def _lookup(self, account_id: str) -> Mapping[str, Any] | None:
        try:
            account = self.identity.get_account(account_id)
        except RemoteError as exc:
            if (error := domain_error(exc)) is not None and error.code == "not_found":
                return None  # no such account (any more): nobody to write to
            raise
        return {"email": account.get("email")} if account.get("email") and not account.get("deleted_at") else None

    def tenant(self, ags: str) -> Mapping[str, Any]:
        if ags not in self._tenants:
            self._tenants[ags] = self.catalog.get_tenant(ags)
        return self._tenants[ags]


class NotificationsService(PostboxRpc):
    name = "notifications"

    app: NotificationsApp = Provided(open_notifications)
    outbox: Outbox = Provided(lambda: Outbox(ReadStore("notifications")))
    preferences: Preferences = Provided(lambda: Preferences(ReadStore("notifications")))
    secrets: MailSecrets = Provided(lambda: MailSecrets(ReadStore("notifications")))
    identity = RpcProxy("identity")
    catalog = RpcProxy("catalog")
    config: Settings = Config()
    observability = Observability("notifications")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @SettingTimer.decorator(interval_from=lambda: settings().notifications_send_interval)
    def send_due(self) -> None:
        if not _sending.acquire(blocking=False):
            return
        try:
            self.outbox.catch_up(self.app)
            now = datetime.now(UTC)
            self.secrets.forget_expired(now.isoformat())
            transport, directory = SmtpTransport(self.config), RpcDirectory(self.identity, self.catalog)
            limit = RecipientLimit(
                self.config.notifications_rate_limit, timedelta(seconds=self.config.notifications_rate_window),
                self.outbox.sent_since,
            )
            deadline = time.monotonic() + ROUND_LIMIT
            try:
                while True:  # a backlog drains batch after batch, not one batch per tick
                    due = self.outbox.due(now.isoformat(), limit=BATCH)
                    for message_id in due:
                        self._attempt(message_id, transport, directory, limit)
                    self.outbox.catch_up(self.app)
                    if len(due) < BATCH or time.monotonic() > deadline:
                        break
                    now = datetime.now(UTC)
            finally:
                transport.close()
            self._update_gauges()
        finally:
            _sending.release()

    def _attempt(self, message_id: str, transport: SmtpTransport, directory: RpcDirectory, limit: RecipientLimit) -> None:
        result = self.app.deliver(
            message_id, transport, directory, self.config.public_base_url, secrets=self.secrets, limit=limit,
        )
        log.info("message_attempted", message_id=message_id, kind=result["kind"], status=result["status"],
                 attempts=result["attempts"], error=result["error"])
        if result["status"] == DEFERRED:
            metrics.MESSAGES_DEFERRED.inc()
        else:
            metrics.MESSAGES_ATTEMPTED.labels(result["channel"], result["status"]).inc()

    def _update_gauges(self) -> None:
        counts, oldest = self.outbox.pending()
        for status in PENDING:
            metrics.MESSAGES_PENDING.labels(status).set(counts.get(status, 0))
        age = (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        metrics.OLDEST_PENDING.set(max(age, 0.0))

    @rpc(expected_exceptions=DomainError)
    def undelivered(self, tenant: str | None) -> dict[str, int]:
        """A tenant's (None: every tenant's) undelivered messages now (``pending``, ``failed``), for the KPIs."""
        self.outbox.catch_up(self.app)
        return self.outbox.undelivered(tenant)

    @rpc(expected_exceptions=DomainError)
    def case_messages(self, case_id: str) -> list[dict[str, Any]]:
        """The delivery state of a case's messages, with a German status text (for the
        responsible clerk and the applicant's timeline; the gateway authorises)."""
        if not case_id:
            return []  # account mails belong to no case
        self.outbox.catch_up(self.app)
        return statuses_of(self.outbox.for_case(case_id))

    @rpc(expected_exceptions=DomainError)
    def case_timeline(self, case_id: str) -> list[dict[str, Any]]:
        """The case's messages as entries of the applicant's timeline (German)."""
        if not case_id:
            return []
        self.outbox.catch_up(self.app)
        return timeline_of(self.outbox.for_case(case_id))

    @rpc(expected_exceptions=DomainError)
    def send_account_mail(self, mail: dict[str, Any]) -> dict[str, str]:
        """Identity's account mail (mail_id, template, to, account_id?, link?, expires_at):
        sent over SMTP like every message; the address and link are kept only until then.
        Neither is logged here (the caller's log has the template and mail id)."""
        return {"message_id": self.app.accept_account_mail(mail, self.secrets, self.preferences)}

    @rpc(expected_exceptions=DomainError)
    def send_reminder(self, reminder: dict[str, Any]) -> dict[str, int]:
        """A rule's due reminder from the rules process (reminders.py); idempotent by its id."""
        return {"messages": self.app.accept_reminder(reminder, self.preferences)}

    @rpc(expected_exceptions=DomainError)
    def get_preferences(self, account_id: str) -> dict[str, Any]:
        return self.preferences.get(account_id)

    @rpc(expected_exceptions=DomainError)
    def set_preferences(self, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.preferences.put(account_id, body)

    @rpc(expected_exceptions=DomainError)
    def erase_recipient(self, account_id: str) -> dict[str, int]:
        """The account was deleted (identity drives this until it succeeds; idempotent): its
        messages, preferences, pending account mails, postbox items and letter PDFs go."""
        self.outbox.catch_up(self.app)
        erased = self.app.erase_recipient(account_id, self.outbox)
        self.preferences.delete(account_id)
        self.secrets.forget_recipient(account_id)
        self.outbox.catch_up(self.app)
        erased = {**erased, **self.erase_postbox(account_id)}
        log.info("recipient_erased", **erased)
        return erased
