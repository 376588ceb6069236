"""Payment domain events → versioned integration events (contracts/events/payment.*.v1.json).

Only the Payment's events are published: the receivable, the Kassenzeichen sequences, the
webhook inbox and reconciliations are the service's own business. The envelope is the one
all services share (:func:`services.common.contracts.envelope`); ``aggregate_id`` is the payment.
A refund's reason (a clerk's words) and the provider's event ids stay inside.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.common import contracts
from services.payments.domain import Payment

META_FIELDS = {
    "originator_id", "originator_version", "originator_topic", "timestamp", "tenant", "service_id", "actor", "correlation_id",
}
PRIVATE = {
    "Created": {"return_url", "created_at"},
    "Started": {"pay_url"},  # the pay page is the citizen's, not an event's
    "Succeeded": {"provider_event_id"},
    "Failed": {"provider_event_id"},
    "Cancelled": {"provider_event_id"},
    "Expired": {"provider_event_id"},
    "RefundRequested": {"reason"},
    "Refunded": {"provider_event_id"},
    "RefundFailed": {"provider_event_id"},
}


def event_type(domain_event: Any) -> str:
    return contracts.event_type("payment", domain_event)


def to_envelope(domain_event: Any, position: int | None = None) -> dict[str, Any] | None:
    name = type(domain_event).__name__
    if not isinstance(domain_event, Payment.Event) or name not in PRIVATE:
        return None
    hidden = META_FIELDS | PRIVATE[name]
    data = {key: value for key, value in vars(domain_event).items() if key not in hidden}
    return contracts.envelope(domain_event, event_type(domain_event), data, position)


def map_notification(app: Application, notification: Notification) -> dict[str, Any] | None:
    return to_envelope(app.mapper.to_domain_event(notification), notification.id)
