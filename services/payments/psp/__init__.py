"""The port to the payment service provider (PSP): what the payments application needs from
any provider, in its own words. :mod:`services.payments.psp.http` is the adapter for the
provider's HTTP API (in development and tests the PSP simulator); tests may hand the
application another implementation.

Why a port: the application decides, the provider only carries money. Every call that
creates something carries an idempotency key derived from our own ids, so a retried call
(after a timeout, a crash, a restart) is the same payment or refund at the provider.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Protocol

from services.payments.domain.reconciliation import Line
from services.payments.merchants import Merchant

#: The provider's payment statuses.
OPEN, SUCCEEDED, FAILED, CANCELLED, EXPIRED, PENDING = "open", "succeeded", "failed", "cancelled", "expired", "pending"


@dataclass(frozen=True)
class ProviderRefund:
    psp_refund_id: str
    status: str  # pending | succeeded | failed
    amount_cents: int
    reference: str  # ours: the refund id we sent
    completed_at: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class ProviderPayment:
    psp_payment_id: str
    status: str  # open | succeeded | failed | cancelled | expired
    amount_cents: int
    reference: str  # ours: the payment id we sent
    pay_url: str = ""
    expires_at: str | None = None
    method: str | None = None
    succeeded_at: str | None = None
    completed_at: str | None = None
    refunds: tuple[ProviderRefund, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refunds": [asdict(r) for r in self.refunds]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProviderPayment:
        return cls(**{**data, "refunds": tuple(ProviderRefund(**r) for r in data.get("refunds", ()))})


class ProviderError(Exception):
    """The provider refused the request (``code`` is the provider's own error code)."""

    def __init__(self, status: int, code: str, message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code


class ProviderUnavailable(ProviderError):
    """No answer, or a server error: try again later (every call may be repeated safely)."""


class PaymentProvider(Protocol):
    def create_payment(
        self, merchant: Merchant, *, idempotency_key: str, amount_cents: int, purpose: str, reference: str,
        return_url: str, expires_in: int, metadata: dict[str, str],
    ) -> ProviderPayment: ...

    def payment(self, merchant: Merchant, psp_payment_id: str) -> ProviderPayment: ...

    def payments_by_reference(self, merchant: Merchant, reference: str) -> list[ProviderPayment]: ...

    def refund(
        self, merchant: Merchant, psp_payment_id: str, *, idempotency_key: str, amount_cents: int, reason: str,
        reference: str,
    ) -> ProviderRefund: ...

    def settlement(self, merchant: Merchant, day: date) -> list[Line]: ...
