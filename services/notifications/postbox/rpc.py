"""The postbox's part of the notifications nameko service (mixed into NotificationsService):
composing what the consumer created, and the RPCs the gateway calls for the owner of a
postbox and for the clerk responsible for a case.

Why here: composing asks submissions (the decision or question: the v2 case events carry
no free text), catalog (letterhead, Rechtsbehelfsbelehrung) and payments (Kassenzeichen)
over RPC, which only the nameko service can. Ownership is checked in the application
(``account_id`` must be the item's recipient); who may read a case's documents is the
gateway's case rule. File contents travel base64-encoded (RPC bodies are JSON).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.amqp import park_dead_letter
from services.common.blobs import FileBlobStore, open_blobs
from services.common.config import settings
from services.common.db import ReadStore
from services.common.nameko_deps import Provided, SettingTimer, domain_error
from services.common.problems import DomainError
from services.notifications.postbox.application import item_view
from services.notifications.postbox.projections import Postbox
from services.notifications.postbox.retries import QUEUE, ComposeAttempts, try_compose

log = logs.get_logger("notifications")
_composing = threading.Lock()


def compose_attempts(store: ReadStore) -> ComposeAttempts:
    current = settings()
    return ComposeAttempts(store, current.postbox_compose_attempts, float(current.notifications_send_interval),
                           current.postbox_compose_backoff_cap)


class RpcSources:
    """What a postbox text and a letter need from other services, asked when composing."""

    def __init__(self, submissions: Any, catalog: Any, payments: Any):
        self.submissions, self.catalog, self.payments = submissions, catalog, payments

    @staticmethod
    def _unless_missing(call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except RemoteError as exc:
            if (error := domain_error(exc)) is not None and error.code.endswith("not_found"):
                return None
            raise

    def case(self, case_id: str) -> Mapping[str, Any] | None:
        return self._unless_missing(self.submissions.case_status, case_id, True)

    def letterhead(self, ags: str) -> Mapping[str, Any]:
        return self.catalog.letterhead(ags)

    def service_name(self, service_id: str) -> str:
        definition = self._unless_missing(self.catalog.get_definition, service_id) or {}
        name = definition.get("name") or {}
        return str(name.get("de") or definition.get("title") or service_id)

    def payment(self, case_id: str) -> Mapping[str, Any] | None:
        return self._unless_missing(self.payments.payment_for_case, case_id)


class PostboxRpc:
    """Mixed into NotificationsService (uses its ``app`` and ``catalog``)."""

    app: Any
    catalog: Any
    config: Any
    postbox: Postbox = Provided(lambda: Postbox(ReadStore("notifications")))
    compose_attempts: ComposeAttempts = Provided(lambda: compose_attempts(ReadStore("notifications")))
    blobs: FileBlobStore = Provided(lambda: open_blobs("notifications"))
    submissions = RpcProxy("submissions")
    payments = RpcProxy("payments")

    @SettingTimer.decorator(interval_from=lambda: settings().notifications_send_interval)
    def compose_due(self) -> None:
        """Compose the postbox items the consumer created (full text, decision letter)."""
        if not _composing.acquire(blocking=False):
            return
        try:
            self.postbox.catch_up(self.app)
            sources = RpcSources(self.submissions, self.catalog, self.payments)
            waiting = self.compose_attempts.waiting(time.time())
            for item_id in self.postbox.to_compose(skip=waiting):
                outcome, found = try_compose(
                    item_id, lambda i=item_id: self.app.compose_item(i, sources, self.blobs, self.config.public_base_url),
                    self.compose_attempts, self.app.postbox_item_any, lambda body, why: park_dead_letter(QUEUE, body, why),
                )
                if outcome == "retry":  # a service away or refusing: again after a backoff
                    log.warning("postbox_compose_failed", item_id=item_id, error=found)
                elif outcome == "dead":
                    log.error("postbox_compose_dead_letter", item_id=item_id, error=found, queue=QUEUE)
                elif found is not None:
                    log.info("postbox_item_composed", item_id=item_id, kind=found["kind"], attachments=len(found["attachments"]))
            self.postbox.catch_up(self.app)
        finally:
            _composing.release()

    # -- the owner (the gateway passes the logged-in account id) --------------------------------
    @rpc(expected_exceptions=DomainError)
    def postbox_items(self, account_id: str) -> list[dict[str, Any]]:
        self.postbox.catch_up(self.app)
        return self.postbox.items_of(account_id)

    @rpc(expected_exceptions=DomainError)
    def postbox_item(self, item_id: str, account_id: str) -> dict[str, Any]:
        return item_view(self.app.postbox_item(item_id, account_id), body=True)

    @rpc(expected_exceptions=DomainError)
    def mark_postbox_item(self, item_id: str, account_id: str, read: bool) -> dict[str, Any]:
        return self.app.mark_item(item_id, account_id, bool(read), logs.current_correlation_id() or "")

    @rpc(expected_exceptions=DomainError)
    def postbox_attachment(self, item_id: str, attachment_id: str, account_id: str) -> dict[str, Any]:
        return self.app.item_attachment(item_id, attachment_id, account_id, self.blobs)

    # -- the responsible clerk (the gateway checks the case rule first) ------------------------
    @rpc(expected_exceptions=DomainError)
    def case_documents(self, case_id: str) -> list[dict[str, Any]]:
        self.postbox.catch_up(self.app)
        return self.postbox.documents_of(case_id)

    @rpc(expected_exceptions=DomainError)
    def case_document(self, case_id: str, document_id: str) -> dict[str, Any]:
        return self.app.case_document(case_id, document_id, self.blobs)

    # -- erasure (account deletion) --------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def erase_postbox(self, account_id: str) -> dict[str, int]:
        """Delete the person's postbox items and letter PDFs (idempotent; call until it succeeds)."""
        self.postbox.catch_up(self.app)
        result = self.app.erase_postbox(
            account_id, self.postbox.item_ids_of(account_id), self.blobs, logs.current_correlation_id() or ""
        )
        self.postbox.catch_up(self.app)
        return result
