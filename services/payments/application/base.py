"""The payments application's foundation: its stores, clock, provider and merchants, loading
aggregates, and the one way decisions are saved.

Why ``decide``: every command loads what it decides on, decides, and saves all changed
aggregates in one transaction. If another process changed one of them meanwhile, the save
conflicts (optimistic concurrency) and the command runs again on fresh state — that is how
concurrent notices for one payment, or two requests for one case, are serialised.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from services.common import logs
from services.common.config import PaymentsSettings
from services.common.problems import DomainError
from services.payments.domain import KassenzeichenSequence, Payment, Receivable
from services.payments.merchants import Merchants
from services.payments.psp import PaymentProvider

T = TypeVar("T")
A = TypeVar("A")
BERLIN = ZoneInfo("Europe/Berlin")
SYSTEM = "system:payments"
ATTEMPTS = 10

log = logs.get_logger("payments")


def as_uuid(value: Any) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


class PaymentsBase(Application[UUID]):
    name = "payments"
    # a sequence gains an event per receivable: snapshots keep loading it cheap at any age
    snapshotting_intervals = {KassenzeichenSequence: 100}

    def __init__(self, env: dict[str, str] | None = None, *, provider: PaymentProvider | None = None,
                 merchants: Merchants | None = None, settings: PaymentsSettings | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(env)
        self.settings = settings or PaymentsSettings()
        self.provider = provider
        self.merchants = merchants or Merchants(())
        self.clock = clock or (lambda: datetime.now(UTC))

    def close(self) -> None:
        close = getattr(self.provider, "close", None)
        if callable(close):
            close()
        super().close()

    # -- time ------------------------------------------------------------------------------
    def now(self) -> str:
        return self.clock().astimezone(UTC).isoformat()

    @property
    def expiry(self) -> timedelta:
        return timedelta(minutes=self.settings.expiry_minutes)

    def psp(self) -> PaymentProvider:
        if self.provider is None:
            raise DomainError("service_unavailable", log_message="no payment provider configured")
        return self.provider

    # -- loading ---------------------------------------------------------------------------
    def _find(self, cls: type[A], aggregate_id: UUID | None) -> A | None:
        if aggregate_id is None:
            return None
        try:
            found = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, cls) else None

    def receivable(self, case_id: Any) -> Receivable:
        """The case's receivable, or ``payment_not_found`` (also for ids that are no UUID)."""
        case = as_uuid(case_id)
        found = self._find(Receivable, Receivable.create_id(str(case))) if case else None
        if found is None:
            raise DomainError("payment_not_found", log_message=f"no receivable for case {str(case_id)[:64]}")
        return found

    def payment(self, payment_id: Any) -> Payment:
        found = self._find(Payment, as_uuid(payment_id))
        if found is None:
            raise DomainError("payment_not_found", log_message=f"no payment {str(payment_id)[:64]}")
        return found

    def attempts(self, receivable: Receivable) -> list[Payment]:
        return [p for pid in receivable.payment_ids() if (p := self._find(Payment, pid)) is not None]

    # -- saving ----------------------------------------------------------------------------
    def decide(self, command: Callable[[], T]) -> T:
        """Run ``command`` (load, decide, save) again on fresh state while its save conflicts."""
        for attempt in range(ATTEMPTS):
            try:
                return command()
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
                log.info("payments_save_conflict_retried", attempt=attempt + 1)
        raise AssertionError("unreachable")
