"""Hand-over domain: one :class:`Handover` per case (the case's hand-over event log, as in
FIT-Connect: offered → fetched (leased) → acknowledged) and the :class:`BackofficeClient`
credentials a tenant admin issues per tenant and services.

Pure: no I/O. Every event carries tenant (AGS), service key, actor and correlation id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.authz import ALL_SERVICES
from services.common.problems import DomainError

HANDOVER_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/handover")

#: The client states: a client is ``pending`` until a second person approves it (four-eyes:
#: a back-office client reads case contents), ``active`` then, ``revoked`` for good.
PENDING, ACTIVE, REVOKED = "pending", "active", "revoked"


class HandoverError(DomainError):
    code = "submission_not_available"


class Handover(Aggregate):
    """One decided case offered to its authority's back-office system. ``deliveries``
    counts the fetches: the first is the submission *as new*, later ones (after a lease ran
    out unacknowledged) are redeliveries, marked as such; after ``Acknowledged`` it is never
    offered again."""

    class Event(Aggregate.Event):
        tenant: str
        service_id: str
        actor: str
        correlation_id: str

    @event("Offered")
    def __init__(self, *, case_id: str, tenant: str, service_id: str, outcome: str, decided_at: str,
                 actor: str, correlation_id: str) -> None:
        self.case_id = case_id
        self.tenant = tenant
        self.service_id = service_id
        self.outcome = outcome
        self.decided_at = decided_at
        self.deliveries = 0
        self.lease_until: str | None = None
        self.client_id: str | None = None
        self.acknowledged_at: str | None = None
        self.acknowledged_by: str | None = None

    @staticmethod
    def create_id(case_id: str, **_: Any) -> UUID:
        return uuid5(HANDOVER_NAMESPACE, f"case|{case_id}")

    @classmethod
    def offer(cls, **fields: Any) -> Handover:
        return cls._create(cls.Offered, id=cls.create_id(fields["case_id"]), **fields)

    def _trigger(self, event_class: type[Handover.Event], actor: str, correlation_id: str, **kw: Any) -> None:
        self.trigger_event(event_class, tenant=self.tenant, service_id=self.service_id, actor=actor,
                           correlation_id=correlation_id, **kw)

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and datetime.fromisoformat(self.lease_until) > now

    def fetch(self, client_id: str, now: datetime, lease_seconds: int, actor: str, correlation_id: str) -> None:
        """Lease it to one client until ``now + lease_seconds``; refused when acknowledged or
        leased to someone (the same client re-fetching its own lease renews it)."""
        if self.acknowledged or (self.leased(now) and self.client_id != client_id):
            raise HandoverError(case_id=self.case_id)
        until = (now + timedelta(seconds=lease_seconds)).isoformat(timespec="microseconds")
        self._trigger(self.Fetched, actor, correlation_id, client_id=client_id, delivery=self.deliveries + 1,
                      lease_until=until)

    def acknowledge(self, client_id: str, now: datetime, actor: str, correlation_id: str) -> bool:
        """Received for good by the back office; False (nothing recorded) when it already was."""
        if self.acknowledged:
            return False
        if self.deliveries == 0:
            raise HandoverError(case_id=self.case_id)  # acknowledge only what was fetched
        self._trigger(self.Acknowledged, actor, correlation_id, client_id=client_id, at=now.isoformat(timespec="microseconds"))
        return True

    def export(self, file_name: str, now: datetime, actor: str, correlation_id: str) -> bool:
        """Written to the file export (fetch and acknowledgement in one, for file readers)."""
        if self.acknowledged:
            return False
        self._trigger(self.Exported, actor, correlation_id, file_name=file_name, at=now.isoformat(timespec="microseconds"))
        return True

    class Fetched(Event):
        client_id: str
        delivery: int
        lease_until: str

        def apply(self, handover: Handover) -> None:
            handover.deliveries = self.delivery
            handover.lease_until = self.lease_until
            handover.client_id = self.client_id

    class Acknowledged(Event):
        client_id: str
        at: str

        def apply(self, handover: Handover) -> None:
            handover.acknowledged_at = self.at
            handover.acknowledged_by = self.client_id
            handover.lease_until = None

    class Exported(Event):
        file_name: str
        at: str

        def apply(self, handover: Handover) -> None:
            handover.deliveries += 1
            handover.acknowledged_at = self.at
            handover.acknowledged_by = f"file:{self.file_name}"
            handover.lease_until = None


class BackofficeClient(Aggregate):
    """Credentials of one back-office system: a tenant and the services it receives. Only a
    keyed hash of the secret is stored; the secret is shown once, when issued."""

    class Event(Aggregate.Event):
        tenant: str
        actor: str
        correlation_id: str

    @event("Registered")
    def __init__(self, *, tenant: str, name: str, service_keys: list[str], secret_hash: str,
                 actor: str, correlation_id: str) -> None:
        self.tenant = tenant
        self.name = name
        self.service_keys = list(service_keys)
        self.secret_hash = secret_hash
        self.requested_by = actor
        self.approved_by: str | None = None
        self.status = PENDING

    def covers(self, service_id: str) -> bool:
        return ALL_SERVICES in self.service_keys or service_id in self.service_keys

    def approve(self, actor: str, correlation_id: str) -> None:
        if self.status != PENDING:
            raise DomainError("handover_client_not_found", client_id=str(self.id))
        if actor == self.requested_by:
            raise DomainError("four_eyes_required")
        self._approved(tenant=self.tenant, actor=actor, correlation_id=correlation_id)

    def revoke(self, actor: str, correlation_id: str) -> None:
        if self.status != REVOKED:
            self._revoked(tenant=self.tenant, actor=actor, correlation_id=correlation_id)

    @event("Approved")
    def _approved(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.status = ACTIVE
        self.approved_by = actor

    @event("Revoked")
    def _revoked(self, tenant: str, actor: str, correlation_id: str) -> None:
        self.status = REVOKED
