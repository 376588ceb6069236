"""Checks of request bodies: strict like a real provider's API (unknown fields are errors,
amounts are integer cents, the purpose fits a SEPA remittance field)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from services.payments.psp_simulator.errors import ApiError, invalid

MAX_AMOUNT = 99_999_999  # 999.999,99 EUR
PURPOSE_LENGTH = 27
#: SEPA Latin characters plus the German umlauts and ß that German banks carry.
PURPOSE = re.compile(r"[A-Za-z0-9ÄÖÜäöüß /?:().,'+&*-]+")
MAX_EXPIRES_IN = 86400
MAX_METADATA = 20
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")
METHODS = ("wero", "paypal", "card", "sepa_direct_debit")


@dataclass(frozen=True)
class PaymentRequest:
    amount: int
    purpose: str
    merchant_reference: str
    return_url: str
    expires_in: int
    metadata: dict[str, str]


@dataclass(frozen=True)
class RefundRequest:
    amount: int | None
    reason: str
    merchant_reference: str | None


def json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from exc


def idempotency_key(value: str | None) -> str:
    if not value:
        raise ApiError(400, "idempotency_key_missing", "the Idempotency-Key header is required")
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(400, "idempotency_key_invalid", "the Idempotency-Key must be 1 to 255 visible ASCII characters")
    return value


def fingerprint(method: str, path: str, body: Any) -> str:
    """Same request = same method, path and JSON value (key order and spacing do not count)."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _object(body: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("body", "expected a JSON object")
    for name in body:
        if name not in allowed:
            raise invalid(name, "unknown field")
    for name in sorted(required):
        if body.get(name) is None:
            raise invalid(name, "required")
    return body


def _integer(body: dict[str, Any], name: str, low: int, high: int) -> int:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise invalid(name, f"expected an integer from {low} to {high}")
    return value


def _text(body: dict[str, Any], name: str, limit: int, pattern: re.Pattern[str] | None = None) -> str:
    value = body[name]
    if not isinstance(value, str) or not value.strip() or len(value) > limit or not value.isprintable():
        raise invalid(name, f"expected printable text of 1 to {limit} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(name, "only SEPA characters (A-Z a-z 0-9 ÄÖÜäöüß space / ? : ( ) . , ' + & * -)")
    return value


def http_url(body: dict[str, Any], name: str) -> str:
    value = body[name]
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2048:
        raise invalid(name, "expected an absolute http(s) URL")
    return value


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or len(value) > MAX_METADATA:
        raise invalid("metadata", f"expected an object of at most {MAX_METADATA} entries")
    for key, item in value.items():
        if not 1 <= len(key) <= 40 or not isinstance(item, str) or len(item) > 500:
            raise invalid("metadata", "keys of 1 to 40 characters, text values of up to 500")
    return value


def payment_request(body: Any, default_ttl: int) -> PaymentRequest:
    fields = {"amount", "currency", "purpose", "merchant_reference", "return_url", "expires_in", "metadata"}
    body = _object(body, fields, {"amount", "currency", "purpose", "merchant_reference", "return_url"})
    if body["currency"] != "EUR":
        raise ApiError(422, "currency_not_supported", "only EUR is supported", field="currency")
    return PaymentRequest(
        amount=_integer(body, "amount", 1, MAX_AMOUNT),
        purpose=_text(body, "purpose", PURPOSE_LENGTH, PURPOSE),
        merchant_reference=_text(body, "merchant_reference", 64),
        return_url=http_url(body, "return_url"),
        expires_in=_integer(body, "expires_in", 1, MAX_EXPIRES_IN) if body.get("expires_in") is not None else default_ttl,
        metadata=_metadata(body["metadata"]) if body.get("metadata") is not None else {},
    )


def refund_request(body: Any) -> RefundRequest:
    body = _object(body, {"amount", "reason", "merchant_reference"}, set())
    return RefundRequest(
        amount=_integer(body, "amount", 1, MAX_AMOUNT) if body.get("amount") is not None else None,
        reason=_text(body, "reason", 140) if body.get("reason") is not None else "",
        merchant_reference=_text(body, "merchant_reference", 64) if body.get("merchant_reference") is not None else None,
    )
