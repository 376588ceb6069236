"""The provider's HTTP API, as the PSP simulator documents it (services/payments/psp_simulator/
README.md): ``/v1`` with ``Authorization: Bearer <API key>`` per merchant, ``Idempotency-Key``
on every create, JSON in and out, errors as ``{"error": {"code", "message"}}``, the daily
settlement report as CSV.

Why here and not in the application: only this module knows the provider's wire format; the
application sees :mod:`services.payments.psp`'s dataclasses. Timeouts, connection errors
and 5xx answers are :class:`ProviderUnavailable` (every call may be repeated safely).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx

from services.payments.domain.reconciliation import PAYMENT_LINE, REFUND_LINE, Line
from services.payments.merchants import Merchant
from services.payments.psp import ProviderError, ProviderPayment, ProviderRefund, ProviderUnavailable


def refund_from_json(data: dict[str, Any]) -> ProviderRefund:
    return ProviderRefund(
        psp_refund_id=str(data["id"]), status=str(data["status"]), amount_cents=int(data["amount"]),
        reference=str(data.get("merchant_reference") or ""), completed_at=data.get("completed_at"),
        reason=str(data.get("reason") or ""),
    )


def payment_from_json(data: dict[str, Any]) -> ProviderPayment:
    """A payment as the provider shows it (API answer or webhook ``data.payment``)."""
    return ProviderPayment(
        psp_payment_id=str(data["id"]), status=str(data["status"]), amount_cents=int(data["amount"]),
        reference=str(data.get("merchant_reference") or ""), pay_url=str(data.get("pay_url") or ""),
        expires_at=data.get("expires_at"), method=data.get("method"), succeeded_at=data.get("succeeded_at"),
        completed_at=data.get("completed_at"),
        refunds=tuple(refund_from_json(r) for r in data.get("refunds") or ()),
    )


def settlement_from_csv(text: str) -> list[Line]:
    """The settlement report's lines (payments positive, refunds negative, in cents)."""
    lines = []
    for row in csv.DictReader(io.StringIO(text)):
        refund = row["type"] == "refund"
        lines.append(Line(
            kind=REFUND_LINE if refund else PAYMENT_LINE, psp_id=row["refund_id"] if refund else row["payment_id"],
            amount_cents=int(row["amount"]), reference=row.get("merchant_reference") or "",
            psp_payment_id=row["payment_id"],
        ))
    return lines


class HttpProvider:
    """One HTTP client (connection pool) for every merchant; the merchant is in each call."""

    def __init__(self, base_url: str, timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None

    @property
    def client(self) -> httpx.Client:
        if self._client is None:  # built on first use: the relay and the projections never call out
            self._client = httpx.Client(base_url=self.base_url, timeout=self.timeout, transport=self._transport)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def _call(self, merchant: Merchant, method: str, path: str, *, key: str | None = None,
              json: dict[str, Any] | None = None, params: dict[str, str] | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {merchant.api_key}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        for attempt in (1, 2):
            try:
                response = self.client.request(method, path, headers=headers, json=json, params=params)
                break
            except httpx.RemoteProtocolError as exc:
                # a pooled keep-alive connection the provider closed a moment ago: once more on a
                # fresh one (safe: GETs, and every create carries its Idempotency-Key)
                if attempt == 2:
                    raise ProviderUnavailable(0, type(exc).__name__, str(exc)[:200]) from exc
            except httpx.HTTPError as exc:
                raise ProviderUnavailable(0, type(exc).__name__, str(exc)[:200]) from exc
        if response.status_code >= 500:
            raise ProviderUnavailable(response.status_code, _error_code(response))
        if response.status_code >= 400:
            raise ProviderError(response.status_code, _error_code(response), response.text[:300])
        return response

    def create_payment(self, merchant: Merchant, *, idempotency_key: str, amount_cents: int, purpose: str,
                       reference: str, return_url: str, expires_in: int, metadata: dict[str, str]) -> ProviderPayment:
        body = {
            "amount": amount_cents, "currency": "EUR", "purpose": purpose, "merchant_reference": reference,
            "return_url": return_url, "expires_in": expires_in, "metadata": metadata,
        }
        return payment_from_json(self._call(merchant, "POST", "/v1/payments", key=idempotency_key, json=body).json())

    def payment(self, merchant: Merchant, psp_payment_id: str) -> ProviderPayment:
        return payment_from_json(self._call(merchant, "GET", f"/v1/payments/{psp_payment_id}").json())

    def payments_by_reference(self, merchant: Merchant, reference: str) -> list[ProviderPayment]:
        found = self._call(merchant, "GET", "/v1/payments", params={"merchant_reference": reference}).json()
        return [payment_from_json(p) for p in found["payments"]]

    def refund(self, merchant: Merchant, psp_payment_id: str, *, idempotency_key: str, amount_cents: int,
               reason: str, reference: str) -> ProviderRefund:
        body = {"amount": amount_cents, "reason": reason[:140], "merchant_reference": reference}
        path = f"/v1/payments/{psp_payment_id}/refunds"
        return refund_from_json(self._call(merchant, "POST", path, key=idempotency_key, json=body).json())

    def settlement(self, merchant: Merchant, day: date) -> list[Line]:
        return settlement_from_csv(self._call(merchant, "GET", f"/v1/settlements/{day.isoformat()}").text)


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http_{response.status_code}"
