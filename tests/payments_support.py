"""Payments test support: an in-memory payment provider that keeps the PSP simulator's
contract (services/payments/psp_simulator/README.md) — idempotent creates, the same JSON
payment views, webhook bodies signed the same way — for application tests that must not
depend on a running simulator process. The HTTP adapter is tested against the real one."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.payments.domain.reconciliation import PAYMENT_LINE, REFUND_LINE, Line
from services.payments.merchants import Merchant, Merchants
from services.payments.psp import ProviderError, ProviderPayment, ProviderRefund, ProviderUnavailable
from services.payments.psp.http import payment_from_json, refund_from_json
from services.payments.psp.webhooks import sign

BERLIN = ZoneInfo("Europe/Berlin")
CLOPPENBURG, VECHTA = "03453004", "03460009"
SECRET = b"test-deployment-secret-of-32-bytes!!"


def merchants() -> Merchants:
    """Development merchants (every AGS), credentials derived from a fixed test secret."""
    return Merchants((), derive_secret=SECRET)


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def atomic(method: Callable[..., Any]) -> Callable[..., Any]:
    """One call at a time, as the provider's own transactions make it."""

    @functools.wraps(method)
    def call(self: FakeProvider, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)

    return call


class FakeProvider:
    """Payments and refunds in memory; ``complete``/``settle_refund`` play the payer and the
    provider and return the webhook body the provider would send (deliver it, or lose it)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.payments: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.keys: dict[tuple[str, str], tuple[Any, str]] = {}
        self.down = False
        self.calls: list[str] = []

    def _check(self, call: str) -> None:
        self.calls.append(call)
        if self.down:
            raise ProviderUnavailable(0, "ConnectError", "the provider is down")

    def _view(self, pid: str) -> dict[str, Any]:
        row = self.payments[pid]
        refunds = [self.refunds[r] for r in row["refunds"]]
        return {**{k: v for k, v in row.items() if k != "refunds"}, "refunds": refunds}

    def _idempotent(self, merchant: Merchant, key: str, body: Any) -> str | None:
        stored = self.keys.get((merchant.merchant_id, key))
        if stored is None:
            return None
        if stored[0] != body:
            raise ProviderError(409, "idempotency_key_reused")
        return stored[1]

    # -- the port ----------------------------------------------------------------------------
    @atomic
    def create_payment(self, merchant: Merchant, *, idempotency_key: str, amount_cents: int, purpose: str, reference: str,
                       return_url: str, expires_in: int, metadata: dict[str, str]) -> ProviderPayment:
        self._check("create_payment")
        body = json.dumps([amount_cents, purpose, reference, return_url, expires_in, metadata], sort_keys=True)
        pid = self._idempotent(merchant, idempotency_key, body)
        if pid is None:
            pid = f"pay_{uuid.uuid4().hex[:16]}"
            now = self.clock()
            self.payments[pid] = {
                "id": pid, "object": "payment", "merchant_id": merchant.merchant_id, "status": "open",
                "amount": amount_cents, "currency": "EUR", "purpose": purpose, "merchant_reference": reference,
                "method": None, "pay_url": f"http://psp.test/pay/{pid}", "return_url": return_url, "metadata": metadata,
                "created": iso(now), "expires_at": iso(now + timedelta(seconds=expires_in)), "completed_at": None,
                "succeeded_at": None, "refunds": [],
            }
            self.keys[(merchant.merchant_id, idempotency_key)] = (body, pid)
        return payment_from_json(self._view(pid))

    @atomic
    def payment(self, merchant: Merchant, psp_payment_id: str) -> ProviderPayment:
        self._check("payment")
        return payment_from_json(self._view(psp_payment_id))

    @atomic
    def payments_by_reference(self, merchant: Merchant, reference: str) -> list[ProviderPayment]:
        self._check("payments_by_reference")
        return [payment_from_json(self._view(p)) for p, row in self.payments.items()
                if row["merchant_reference"] == reference and row["merchant_id"] == merchant.merchant_id]

    @atomic
    def refund(self, merchant: Merchant, psp_payment_id: str, *, idempotency_key: str, amount_cents: int, reason: str,
               reference: str) -> ProviderRefund:
        self._check("refund")
        body = json.dumps([psp_payment_id, amount_cents, reason, reference])
        rid = self._idempotent(merchant, idempotency_key, body)
        if rid is None:
            if self.payments[psp_payment_id]["status"] != "succeeded":
                raise ProviderError(409, "payment_not_refundable")
            rid = f"re_{uuid.uuid4().hex[:16]}"
            self.refunds[rid] = {
                "id": rid, "object": "refund", "payment_id": psp_payment_id, "merchant_id": merchant.merchant_id,
                "amount": amount_cents, "currency": "EUR", "status": "pending", "reason": reason,
                "merchant_reference": reference, "created": iso(self.clock()), "completed_at": None,
            }
            self.payments[psp_payment_id]["refunds"].append(rid)
            self.keys[(merchant.merchant_id, idempotency_key)] = (body, rid)
        return refund_from_json(self.refunds[rid])

    @atomic
    def settlement(self, merchant: Merchant, day: date) -> list[Line]:
        self._check("settlement")

        def on(moment: str | None) -> bool:
            return moment is not None and datetime.fromisoformat(moment).astimezone(BERLIN).date() == day

        lines = [Line(PAYMENT_LINE, p["id"], p["amount"], p["merchant_reference"], psp_payment_id=p["id"])
                 for p in self.payments.values()
                 if p["merchant_id"] == merchant.merchant_id and p["status"] == "succeeded" and on(p["succeeded_at"])]
        lines += [Line(REFUND_LINE, r["id"], -r["amount"], r["merchant_reference"], psp_payment_id=r["payment_id"])
                  for r in self.refunds.values()
                  if r["merchant_id"] == merchant.merchant_id and r["status"] == "succeeded" and on(r["completed_at"])]
        return lines

    # -- the payer and the provider's own doings --------------------------------------------
    @atomic
    def complete(self, psp_payment_id: str, outcome: str, method: str = "wero") -> dict[str, Any]:
        """The payer decides (succeeded, failed, cancelled), or the page expires (expired);
        also a late success after any of those. Returns the webhook event body."""
        row = self.payments[psp_payment_id]
        now = iso(self.clock())
        row.update(status=outcome, completed_at=now)
        if outcome == "succeeded":
            row.update(method=method, succeeded_at=now)
        return self.event(row["merchant_id"], f"payment.{outcome}", {"payment": self._view(psp_payment_id)})

    @atomic
    def settle_refund(self, refund_id: str, succeeded: bool = True) -> dict[str, Any]:
        refund = self.refunds[refund_id]
        refund.update(status="succeeded" if succeeded else "failed", completed_at=iso(self.clock()))
        payment = self._view(refund["payment_id"])
        return self.event(refund["merchant_id"], f"refund.{refund['status']}", {"refund": dict(refund), "payment": payment})

    def event(self, merchant_id: str, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"id": f"evt_{uuid.uuid4().hex[:24]}", "type": kind, "created": iso(self.clock()),
                "merchant_id": merchant_id, "data": json.loads(json.dumps(data))}


def signed(event: dict[str, Any], merchant: Merchant, at: datetime) -> tuple[bytes, str]:
    """The raw body and ``PSP-Signature`` header of one delivery of ``event``."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return body, sign(merchant.webhook_secret, int(at.timestamp()), body)
