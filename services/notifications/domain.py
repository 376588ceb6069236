"""The Message: one notification to one recipient over one channel, and its delivery state.

Why this shape: a message is keyed by (source event id, channel, recipient) — its id is a
UUIDv5 of the three — so the second attempt to create it for a redelivered or replayed event
collides in the event store instead of sending again. States follow GOV.UK Notify:
created → sending → delivered | temporary-failure (retried, stays pending) |
permanent-failure | technical-failure, plus ``deferred``: held back by the per-recipient rate
limit until its window ends (pending, never dropped). Erasure (account deleted) blanks the
recipient and the reference in every event and closes the message. Pure: no I/O imports.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError

CREATED, SENDING, DELIVERED = "created", "sending", "delivered"
TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE = "temporary-failure", "permanent-failure", "technical-failure"
DEFERRED = "deferred"
PENDING = (CREATED, SENDING, TEMPORARY_FAILURE, DEFERRED)
STATUSES = (CREATED, SENDING, DELIVERED, TEMPORARY_FAILURE, PERMANENT_FAILURE, TECHNICAL_FAILURE, DEFERRED)
#: What the clerk and the citizen read for each state.
STATUS_TEXT = {
    CREATED: "angelegt", SENDING: "wird versendet", DELIVERED: "zugestellt",
    TEMPORARY_FAILURE: "vorübergehend nicht zustellbar, neuer Versuch folgt",
    PERMANENT_FAILURE: "nicht zustellbar", TECHNICAL_FAILURE: "technischer Fehler",
    DEFERRED: "zurückgestellt (Versandlimit), wird später versendet",
}
EMAIL = "email"

#: Retry delays: exponential from BASE seconds, capped at CAP, each with up to 50 % jitter.
RETRY_BASE, RETRY_CAP = 5.0, 600.0


def message_id(source_event_id: str, channel: str, recipient: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"vr-message:{source_event_id}:{channel}:{recipient}")


def retry_delay(attempts: int, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones (bounded, jittered)."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(attempts - 1, 0))
    return delay * (0.5 + (rng or random).random() * 0.5)


class MessageClosed(DomainError):
    """A delivery step the message no longer accepts (it is delivered or failed for good)."""

    code = "transition_not_allowed"


class Message(Aggregate):
    """``recipient`` is a reference (the account id), never the address: the address is
    looked up when the message is sent, so a changed or erased address is respected."""

    @staticmethod
    def create_id(source_event_id: str, channel: str, recipient: str, **_: object) -> UUID:
        return message_id(source_event_id, channel, recipient)

    @event("Created")
    def __init__(
        self, source_event_id: str, channel: str, recipient: str, tenant: str, kind: str, language: str,
        case_id: str, reference: str, actor: str, correlation_id: str, values: dict | None = None,
    ) -> None:
        self.tenant = tenant
        self.values = dict(values or {})  # amounts, Kassenzeichen: never names or free text
        self.case_id = case_id
        self.kind = kind
        self.language = language
        self.reference = reference
        self.source_event_id = source_event_id
        self.channel = channel
        self.recipient = recipient
        self.status = CREATED
        self.attempts = 0
        self.template_version: int | None = None
        self.next_attempt_at: str | None = None
        self.error: str | None = None
        self.erased = False

    def _require_pending(self, action: str) -> None:
        if self.status not in PENDING:
            raise MessageClosed(action=action, status=self.status, status_de=self.status)

    def start_sending(self, template_version: int, at: datetime) -> None:
        self._require_pending("send")
        self._sending_started(self.tenant, template_version, at.isoformat(), "notifications", "")

    def delivered(self, at: datetime) -> None:
        self._require_pending("deliver")
        self._delivered(self.tenant, at.isoformat(), "notifications", "")

    def failed_temporarily(self, error: str, at: datetime, rng: random.Random | None = None) -> None:
        """Stays pending: the next attempt after an exponential, capped, jittered delay."""
        self._require_pending("fail")
        next_at = at + timedelta(seconds=retry_delay(self.attempts, rng))
        self._temporarily_failed(self.tenant, error[:200], next_at.isoformat(), "notifications", "")

    def failed_permanently(self, error: str) -> None:
        self._require_pending("fail")
        self._permanently_failed(self.tenant, error[:200], "notifications", "")

    def failed_technically(self, error: str) -> None:
        self._require_pending("fail")
        self._technically_failed(self.tenant, error[:200], "notifications", "")

    def defer(self, until: datetime, reason: str) -> None:
        """Held back (the recipient's rate limit): pending, due again at ``until``."""
        self._require_pending("defer")
        self._deferred(self.tenant, reason[:200], until.isoformat(), "notifications", "")

    def erase(self) -> None:
        """The recipient's account was deleted: nobody to write to; who and which case go."""
        if not self.erased:
            self._erased(self.tenant, "notifications", "")

    @event("Deferred")
    def _deferred(self, tenant: str, reason: str, next_attempt_at: str, actor: str, correlation_id: str) -> None:
        self.status = DEFERRED
        self.error = reason
        self.next_attempt_at = next_attempt_at

    @event("Erased")
    def _erased(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.erased = True
        self.recipient = ""
        self.reference = ""
        if self.status in PENDING:
            self.status = PERMANENT_FAILURE
            self.error = "recipient erased"
        self.next_attempt_at = None

    @event("SendingStarted")
    def _sending_started(self, tenant: str, template_version: int, at: str, actor: str, correlation_id: str) -> None:
        self.status = SENDING
        self.attempts += 1
        self.template_version = template_version

    @event("Delivered")
    def _delivered(self, tenant: str, at: str, actor: str, correlation_id: str) -> None:
        self.status = DELIVERED
        self.next_attempt_at = None

    @event("TemporarilyFailed")
    def _temporarily_failed(self, tenant: str, error: str, next_attempt_at: str, actor: str, correlation_id: str) -> None:
        self.status = TEMPORARY_FAILURE
        self.error = error
        self.next_attempt_at = next_attempt_at

    @event("PermanentlyFailed")
    def _permanently_failed(self, tenant: str, error: str, actor: str, correlation_id: str) -> None:
        self.status = PERMANENT_FAILURE
        self.error = error
        self.next_attempt_at = None

    @event("TechnicallyFailed")
    def _technically_failed(self, tenant: str, error: str, actor: str, correlation_id: str) -> None:
        self.status = TECHNICAL_FAILURE
        self.error = error
        self.next_attempt_at = None


class CaseContact(Aggregate):
    """Who a case's notices go to: its applicant (account id) and reference, remembered from
    ``case.submitted`` because the later case events carry neither (data minimisation)."""

    @staticmethod
    def create_id(case_id: str, **_: object) -> UUID:
        return contact_id(case_id)

    @event("Recorded")
    def __init__(self, case_id: str, tenant: str, applicant: str, reference: str, actor: str, correlation_id: str) -> None:
        self.case_id = case_id
        self.tenant = tenant
        self.applicant = applicant
        self.reference = reference


def contact_id(case_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"vr-case-contact:{case_id}")


#: Event fields that name a person or their case, blanked when the recipient is erased.
PERSONAL_FIELDS = ("recipient", "applicant", "reference")


def redacted(domain_event: object) -> object | None:
    """A copy of the event without personal fields; None if it holds none (or none left)."""
    present = {f: "" for f in PERSONAL_FIELDS if getattr(domain_event, f, "")}
    if not present:
        return None
    return dataclasses.replace(domain_event, **present)  # type: ignore[type-var]
