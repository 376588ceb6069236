"""The notifications nameko service: sends what is due (a timer) and answers for a case's
messages over RPC.

Why the sender lives here: at send time it asks identity for the recipient's address and
catalog for the tenant's name (nameko RPC); the address is never stored with the message.
One instance sends; a second one would need a claim on due messages first (not yet built).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
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
from services.notifications.application import NotificationsApp, open_notifications
from services.notifications.domain import PENDING
from services.notifications.postbox.rpc import PostboxRpc
from services.notifications.projections import Outbox
from services.notifications.smtp import SmtpTransport

log = logs.get_logger("notifications")
_sending = threading.Lock()  # one send round at a time per process (the timer may overlap)


class RpcDirectory:
    """Addresses from identity and tenant names from catalog, asked when a mail is sent."""

    def __init__(self, identity: Any, catalog: Any):
        self.identity = identity
        self.catalog = catalog

    def recipient(self, account_id: str) -> Mapping[str, Any] | None:
        try:
            account = self.identity.get_account(account_id)
        except RemoteError as exc:
            if (error := domain_error(exc)) is not None and error.code == "not_found":
                return None  # no such account (any more): nobody to write to
            raise
        return {"email": account.get("email")} if account.get("email") and not account.get("deleted_at") else None

    def tenant_name(self, ags: str) -> str:
        return str(self.catalog.get_tenant(ags)["name"])


class NotificationsService(PostboxRpc):
    name = "notifications"

    app: NotificationsApp = Provided(open_notifications)
    outbox: Outbox = Provided(lambda: Outbox(ReadStore("notifications")))
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
            transport, directory = SmtpTransport(self.config), RpcDirectory(self.identity, self.catalog)
            for message_id in self.outbox.due(datetime.now(UTC).isoformat()):
                result = self.app.deliver(message_id, transport, directory, self.config.public_base_url)
                log.info("message_attempted", message_id=message_id, kind=result["kind"], status=result["status"],
                         attempts=result["attempts"], error=result["error"])
                metrics.MESSAGES_ATTEMPTED.labels(result["channel"], result["status"]).inc()
            self.outbox.catch_up(self.app)
            self._update_gauges()
        finally:
            _sending.release()

    def _update_gauges(self) -> None:
        counts, oldest = self.outbox.pending()
        for status in PENDING:
            metrics.MESSAGES_PENDING.labels(status).set(counts.get(status, 0))
        age = (datetime.now(UTC) - datetime.fromisoformat(oldest)).total_seconds() if oldest else 0.0
        metrics.OLDEST_PENDING.set(max(age, 0.0))

    @rpc(expected_exceptions=DomainError)
    def case_messages(self, case_id: str) -> list[dict[str, Any]]:
        """The delivery state of a case's messages (for the responsible clerk)."""
        self.outbox.catch_up(self.app)
        return self.outbox.for_case(case_id)
