"""Which integration events a citizen hears about, as which message kind, and how a
message's case and values are read from the event.

Why a table: the consumer's binding (services.common.amqp.QUEUES), the preferences (one
switch per kind) and the templates (one per kind and language) all follow from it. A
reassignment is told only when the case had a clerk before (the citizen's contact changed);
a payment is told only when it settles the case (another attempt's money is refunded).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from services.common.partitions import source_of_position

#: Integration event type → message kind (case.* from submissions, payment.* from payments).
KINDS: Mapping[str, str] = {
    "case.submitted.v1": "case_submitted",
    "case.information_requested.v2": "case_information_requested",
    "case.approved.v2": "case_approved",
    "case.rejected.v2": "case_rejected",
    "case.withdrawn.v2": "case_withdrawn",
    "case.reassigned.v1": "case_reassigned",
    # a clerk took a rule's decision back into review: the decision mail and letter are out already
    "case.automatic_decision_reversed.v1": "case_decision_reversed",
    "case.payment_requested.v1": "payment_requested",
    "case.payment_received.v1": "payment_received",
    "payment.failed.v1": "payment_failed",
    "payment.refunded.v1": "payment_refunded",
}
#: Kinds a citizen may switch off for e-mail (the postbox always gets them).
CASE_KINDS: tuple[str, ...] = tuple(dict.fromkeys(KINDS.values()))
#: Identity's account mails (link in ``params`` where there is one); never switched off.
ACCOUNT_KINDS: tuple[str, ...] = (
    "verify_email", "password_reset", "confirm_email_change", "staff_invitation", "account_exists",
    "password_changed", "email_change_notice", "email_in_use", "failed_logins", "account_deleted",
)
#: How the citizen's timeline names each kind of message (German, like the rest of it).
KIND_TEXT: Mapping[str, str] = {
    "case_submitted": "Eingangsbestätigung", "case_information_requested": "Hinweis auf Rückfrage",
    "case_approved": "Hinweis auf Entscheidung", "case_rejected": "Hinweis auf Entscheidung",
    "case_withdrawn": "Bestätigung der Rücknahme", "case_reassigned": "Hinweis auf neue Ansprechperson",
    "payment_requested": "Zahlungsaufforderung", "payment_received": "Zahlungsbestätigung",
    "payment_failed": "Hinweis auf fehlgeschlagene Zahlung", "payment_refunded": "Erstattungsbestätigung",
    "case_reminder": "Erinnerung an Rückfrage", "case_decision_reversed": "Hinweis auf aufgehobene Entscheidung",
}
#: Reminders a rule schedules (services.rules): to the citizen (its case's timeline and
#: postbox) and, for an overdue case, to the authority (not the citizen's timeline).
REMINDER_KINDS: Mapping[str, str] = {"citizen": "case_reminder", "team": "case_overdue"}
#: Which notification log each source's positions belong to (tracking records).
SOURCES = {"case": "submissions", "payment": "payments"}

_WANTED: Mapping[str, Callable[[Mapping[str, Any]], bool]] = {
    "case_reassigned": lambda data: bool(data.get("previous")),
}


def kind_of(envelope: Mapping[str, Any]) -> str | None:
    """The message kind the event asks for, or None (not a citizen's concern)."""
    kind = KINDS.get(str(envelope.get("type")))
    if kind is None:
        return None
    wanted = _WANTED.get(kind)
    return kind if wanted is None or wanted(envelope.get("data") or {}) else None


def case_of(envelope: Mapping[str, Any]) -> str:
    """The case the event is about: the aggregate for case.*, ``data.case_id`` for payment.*."""
    if str(envelope.get("type", "")).startswith("payment."):
        return str((envelope.get("data") or {})["case_id"])
    return str(envelope["aggregate_id"])


def source_of(envelope: Mapping[str, Any]) -> str:
    base = SOURCES.get(str(envelope.get("type", "")).partition(".")[0], "submissions")
    return source_of_position(base, envelope.get("position"))  # one source per case partition


def values_of(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """What the mail may say besides the reference: amounts and the Kassenzeichen only."""
    data = envelope.get("data") or {}
    return {key: data[key] for key in ("amount_cents", "kassenzeichen") if data.get(key) is not None}
