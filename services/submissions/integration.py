"""Case domain events → versioned integration events (contracts/events/case.*.v1.json).

Integration events carry what other services need and no form contents (data
minimisation): the applicant's answers stay in the submissions event store.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.submissions.domain import Case

SUBMITTED_FIELDS = (
    "reference", "portal", "ozg_id", "leika_key", "form_version", "fee_cents",
    "processing_days", "applicant_ref", "submitted_at",
)
META_FIELDS = {"originator_id", "originator_version", "timestamp", "tenant", "service_id", "actor", "correlation_id"}
# Free text a citizen wrote stays out of the integration event.
PRIVATE_FIELDS = {"answer"}


def event_type(domain_event: Any) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", type(domain_event).__name__).lower()
    return f"case.{snake}.v1"


def event_id(aggregate_id: UUID, version: int) -> str:
    """Deterministic, so a re-published event keeps its id and consumers can dedupe."""
    return str(uuid5(aggregate_id, str(version)))


def to_envelope(domain_event: Any, position: int | None = None) -> dict[str, Any] | None:
    if not isinstance(domain_event, Case.Event):
        return None  # reference sequences and other internals are not published
    if isinstance(domain_event, Case.Submitted):
        data = {name: getattr(domain_event, name) for name in SUBMITTED_FIELDS}
    else:
        data = {
            key: value
            for key, value in vars(domain_event).items()
            if key not in META_FIELDS and key not in PRIVATE_FIELDS
        }
    return {
        "event_id": event_id(domain_event.originator_id, domain_event.originator_version),
        "type": event_type(domain_event),
        "occurred_at": domain_event.timestamp.isoformat(),
        "tenant": domain_event.tenant,
        "service_id": domain_event.service_id,
        "aggregate_id": str(domain_event.originator_id),
        "aggregate_version": domain_event.originator_version,
        "position": position,
        "actor": domain_event.actor,
        "correlation_id": domain_event.correlation_id,
        "causation_id": None,
        "data": data,
    }


def map_notification(app: Application, notification: Notification) -> dict[str, Any] | None:
    return to_envelope(app.mapper.to_domain_event(notification), notification.id)
