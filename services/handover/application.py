"""The hand-over application: offers decided cases, leases them to back-office clients,
records their acknowledgements, and issues the clients' credentials.

Why the aggregates decide and the table only finds: two clients (or two gateway workers)
fetching at once both load the same :class:`Handover`; only one save of its next version
succeeds (optimistic concurrency), the other skips it. So nothing is handed over twice as
new, and a client that crashes before acknowledging gets it back — as a redelivery — once
its lease ran out. The source of truth is the event store; ``HandoverBoard`` is folded from
it on every fetch (``catch_up``), so a crash between the two loses nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from services.common.config import settings
from services.common.db import ReadStore, open_application
from services.common.problems import DomainError
from services.common.secrets import secret_from
from services.handover.domain import ACTIVE, BackofficeClient, Handover, HandoverError
from services.handover.projections import HandoverBoard

SYSTEM_ACTOR = "system:handover"
#: The case events that hand a case over, and the outcome they stand for.
OUTCOMES = {"case.approved.v2": "approved", "case.rejected.v2": "rejected"}
MAX_FETCH = 100


def handover_view(handover: Handover) -> dict[str, Any]:
    return {
        "submission_id": handover.case_id,
        "case_id": handover.case_id,
        "tenant": handover.tenant,
        "service_id": handover.service_id,
        "outcome": handover.outcome,
        "decided_at": handover.decided_at,
        "offered_at": handover.created_on.isoformat(),
        "delivery": handover.deliveries,
        "redelivered": handover.deliveries > 1,
        "lease_until": handover.lease_until,
        "acknowledged_at": handover.acknowledged_at,
    }


def client_view(client: BackofficeClient) -> dict[str, Any]:
    return {
        "client_id": str(client.id),
        "tenant": client.tenant,
        "name": client.name,
        "service_keys": list(client.service_keys),
        "status": client.status,
        "requested_by": client.requested_by,
        "approved_by": client.approved_by,
        "created_at": client.created_on.isoformat(),
    }


class HandoverApp(Application[UUID]):
    name = "handover"

    def __init__(self, env: dict[str, str] | None = None, clock: Callable[[], datetime] | None = None,
                 board: HandoverBoard | None = None):
        super().__init__(env)
        self.clock = clock or (lambda: datetime.now(UTC))
        current = settings()
        self.secret = secret_from(current)
        self.lease_seconds = current.handover_lease_seconds
        self.board = board or HandoverBoard(ReadStore("handover"))

    def close(self) -> None:
        self.board.close()
        super().close()

    # -- offering (the consumer of the case events) ------------------------------------
    def offer(self, case_id: str, tenant: str, service_id: str, outcome: str, decided_at: str,
              correlation_id: str) -> str:
        """Offer a decided case once: a redelivered or replayed decision finds its hand-over
        stream and records nothing (the stream id is derived from the case id)."""
        handover = Handover.offer(case_id=case_id, tenant=tenant, service_id=service_id, outcome=outcome,
                                  decided_at=decided_at, actor=SYSTEM_ACTOR, correlation_id=correlation_id)
        try:
            self.save(handover)
        except IntegrityError:
            return "duplicate"
        return "offered"

    # -- credentials ------------------------------------------------------------------------
    def _hash(self, client_id: str, secret: str) -> str:
        return hmac.new(self.secret, f"{client_id}|{secret}".encode(), hashlib.sha256).hexdigest()

    def register_client(self, tenant: str, name: str, service_keys: list[str], actor: str,
                        correlation_id: str) -> dict[str, Any]:
        """A new client, pending until a second person approves it; the secret is in this
        answer only (a keyed hash is stored)."""
        client_id = uuid4()
        secret = secrets.token_urlsafe(32)
        client = BackofficeClient._create(
            BackofficeClient.Registered, id=client_id, tenant=tenant, name=name, service_keys=service_keys,
            secret_hash=self._hash(str(client_id), secret), actor=actor, correlation_id=correlation_id,
        )
        self.save(client)
        return {**client_view(client), "client_secret": secret}

    def client(self, client_id: str, tenant: str | None = None) -> BackofficeClient:
        try:
            found = self.repository.get(UUID(str(client_id)))
        except (ValueError, AggregateNotFoundError):
            found = None
        if not isinstance(found, BackofficeClient) or (tenant is not None and found.tenant != tenant):
            raise DomainError("handover_client_not_found", client_id=str(client_id)[:64])
        return found

    def approve_client(self, client_id: str, tenant: str, actor: str, correlation_id: str) -> dict[str, Any]:
        client = self.client(client_id, tenant)
        client.approve(actor, correlation_id)
        self.save(client)
        return client_view(client)

    def revoke_client(self, client_id: str, tenant: str, actor: str, correlation_id: str) -> dict[str, Any]:
        client = self.client(client_id, tenant)
        client.revoke(actor, correlation_id)
        self.save(client)
        return client_view(client)

    def clients(self, tenant: str) -> list[dict[str, Any]]:
        self.board.catch_up(self)
        return self.board.clients(tenant)

    def authenticate(self, client_id: str, secret: str) -> BackofficeClient:
        """The active client with this secret; any failure is the same ``invalid_client``."""
        try:
            client = self.client(client_id)
        except DomainError:
            client = None
        expected = client.secret_hash if client is not None else "0" * 64
        matches = hmac.compare_digest(expected, self._hash(str(client_id), str(secret)))
        if client is None or not matches or client.status != ACTIVE:
            raise DomainError("invalid_client")
        return client

    # -- the submission API -----------------------------------------------------------------
    def _handover(self, case_id: str) -> Handover | None:
        try:
            found = self.repository.get(Handover.create_id(str(case_id)))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, Handover) else None

    def _in_scope(self, client: BackofficeClient, case_id: str) -> Handover:
        handover = self._handover(case_id)
        if handover is None or handover.tenant != client.tenant or not client.covers(handover.service_id):
            raise DomainError("submission_not_found", submission_id=str(case_id)[:64])
        return handover

    def fetch(self, client: BackofficeClient, limit: int, correlation_id: str) -> list[dict[str, Any]]:
        """The next ``limit`` submissions of the client's tenant and services, in the order
        they were offered, each leased to the client (``Fetched``: delivery 1 is new)."""
        limit = max(1, min(int(limit), MAX_FETCH))
        self.board.catch_up(self)
        now = self.clock()
        leased: list[dict[str, Any]] = []
        candidates = self.board.candidates(client.tenant, client.service_keys,
                                           now.isoformat(timespec="microseconds"), limit * 2)
        for case_id in candidates:
            handover = self._handover(case_id)
            if handover is None:
                continue
            try:
                handover.fetch(str(client.id), now, self.lease_seconds, f"client:{client.id}", correlation_id)
                self.save(handover)
            except (HandoverError, IntegrityError):
                continue  # acknowledged or leased meanwhile (another fetcher won)
            leased.append(handover_view(handover))
            if len(leased) == limit:
                break
        if leased:
            self.board.catch_up(self)
        return leased

    def submission(self, client: BackofficeClient, case_id: str) -> dict[str, Any]:
        return handover_view(self._in_scope(client, case_id))

    def acknowledge(self, client: BackofficeClient, case_id: str, correlation_id: str) -> dict[str, Any]:
        """Idempotent: a second acknowledgement records nothing and answers the same."""
        handover = self._in_scope(client, case_id)
        if handover.acknowledge(str(client.id), self.clock(), f"client:{client.id}", correlation_id):
            try:
                self.save(handover)
            except IntegrityError:
                return self.acknowledge(client, case_id, correlation_id)  # a concurrent fetch/ack: decide again
        return handover_view(handover)

    def case_log(self, case_id: str) -> list[dict[str, Any]]:
        """The hand-over steps of a case, for its audit trail and timeline."""
        stream = Handover.create_id(str(case_id))
        return [
            {"at": e.timestamp.isoformat(), "actor": e.actor, "action": f"Handover{type(e).__name__}",
             "tenant": e.tenant, **({"delivery": e.delivery} if isinstance(e, Handover.Fetched) else {})}
            for e in self.events.get(stream)
        ]

    def status(self, tenant: str) -> dict[str, int]:
        self.board.catch_up(self)
        return self.board.counts(tenant)


def open_handover() -> HandoverApp:
    """The hand-over application on the configured store (service, consumer, CLI)."""
    return open_application(HandoverApp, "handover")
