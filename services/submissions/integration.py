"""Case domain events → versioned integration events (contracts/events/case.*.json).

Integration events carry what other services need and no form contents or free text
(data minimisation): the applicant's answers and the texts about them stay in the
submissions event store, where erasure can reach them; the broker only carries a
reference (aggregate id and version).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.common.contracts import envelope, snake_name
from services.common.partitions import encode_position
from services.submissions.domain import Case
from services.submissions.domain.drafts import Draft

SUBMITTED_FIELDS = (
    "reference", "portal", "ozg_id", "leika_key", "form_version", "fee_cents",
    "processing_days", "applicant_ref", "submitted_at",
)
#: Per case event: the version of its integration event and the fields its ``data`` carries
#: (an allow-list: a new field stays private until it is named here and in the schema).
#: Free text (questions, answers, decisions, reasons) may name the applicant and never goes
#: on the broker; consumers entitled to it read it over RPC (``case_status`` with contents).
PUBLISHED: dict[type, tuple[int, tuple[str, ...]]] = {
    Case.Submitted: (1, SUBMITTED_FIELDS),
    Case.PaymentRequested: (1, ("amount_cents",)),
    Case.PaymentReceived: (1, ("amount_cents", "payment_ref")),
    Case.ReviewStarted: (1, ("clerk",)),
    Case.InformationRequested: (2, ("due_date",)),
    Case.InformationSupplied: (1, ()),
    Case.Approved: (2, ()),
    Case.Rejected: (2, ()),
    Case.Withdrawn: (2, ()),
    Case.Reassigned: (1, ("clerk", "previous")),
    Case.PersonalDataErased: (1, ()),
    # the rule's reason is the rule's own text (no applicant data): the timeline shows it
    Case.DecidedAutomatically: (1, ("rule", "outcome", "reason")),
    Case.AutomaticDecisionReversed: (1, ("clerk", "rule")),
}


#: Draft events for the KPI "started vs submitted": ids, tenant, service, form version and
#: page only — never the form data or the owner (a draft is the owner's alone).
PUBLISHED_DRAFTS: dict[type, tuple[int, tuple[str, ...]]] = {
    Draft.Started: (1, ("portal", "form_version", "page")),
    Draft.Saved: (1, ("page",)),
    Draft.Submitted: (1, ("case_id",)),
    Draft.Discarded: (1, ()),
}


def event_type(domain_event: Any) -> str:
    snake = snake_name(type(domain_event))
    if isinstance(domain_event, Draft.Event):
        return f"draft.{snake}.v{PUBLISHED_DRAFTS[type(domain_event)][0]}"
    return f"case.{snake}.v{PUBLISHED[type(domain_event)][0]}"


def to_envelope(domain_event: Any, position: int | None = None) -> dict[str, Any] | None:
    published = PUBLISHED if isinstance(domain_event, Case.Event) else PUBLISHED_DRAFTS
    if type(domain_event) not in published:
        return None  # reference sequences, indexes, attachments, erasures of drafts: internal
    data = {name: getattr(domain_event, name) for name in published[type(domain_event)][1]}
    return envelope(domain_event, event_type(domain_event), data, position)


def map_notification(app: Application, notification: Notification) -> dict[str, Any] | None:
    """The integration event of a stored event; its position names the partition too
    (services/common/partitions.py), so consumers track each partition on its own."""
    position = encode_position(getattr(app, "partition", 0), notification.id)
    return to_envelope(app.mapper.to_domain_event(notification), position)
