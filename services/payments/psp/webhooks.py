"""Incoming provider webhooks: the signature checked before anything is believed, then the
body read into the port's dataclasses.

The scheme (Stripe's): header ``PSP-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
"<t>.<raw body>" under the merchant's webhook secret>``. A timestamp more than the tolerance
(300 s) away is stale; digests are compared in constant time; the secret is the merchant's
named in the body (``merchant_id``), so one tenant's secret never vouches for another's
payments. Replays (the same signed message twice) are recognised by the inbox
(:class:`services.payments.domain.notice.Notice`), which remembers each delivery's signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from services.common.problems import DomainError
from services.payments.domain.notice import KINDS
from services.payments.merchants import Merchant, Merchants
from services.payments.psp import ProviderPayment, ProviderRefund
from services.payments.psp.http import payment_from_json, refund_from_json

SIGNATURE_HEADER = "PSP-Signature"
MAX_BODY = 256 * 1024
MALFORMED, STALE, SIGNATURE, REPLAYED = "malformed", "stale", "signature", "replayed"


class WebhookRejected(DomainError):
    """Not answered with a 2xx: the provider (or whoever sent it) gets a 400 and logs it."""

    code = "webhook_rejected"


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str
    kind: str
    merchant_id: str
    created: str
    payment: ProviderPayment | None  # None: a type we do not handle
    refund: ProviderRefund | None


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value for ``body`` (what the provider sends; tests sign with it too)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str, secret: str, now: float, tolerance: int) -> str:
    """The verified signature (``t=…,v1=…``, as the inbox remembers it), or WebhookRejected."""
    timestamp, candidates = None, []
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit() and len(value) <= 12:
            timestamp = int(value)
        elif name == "v1" and len(value) == 64:
            candidates.append(value.lower())
    if timestamp is None or not candidates:
        raise WebhookRejected(reason=MALFORMED)
    if abs(now - timestamp) > tolerance:
        raise WebhookRejected(reason=STALE, log_message=f"signature {int(now - timestamp)} s old")
    expected = _digest(secret, timestamp, body)
    matching = [c for c in candidates if hmac.compare_digest(expected, c)]  # every candidate: constant time
    if not matching:
        raise WebhookRejected(reason=SIGNATURE)
    return f"t={timestamp},v1={matching[0]}"


def read(body: bytes, header: str, merchants: Merchants, now: float, tolerance: int,
         merchant_header: str | None = None) -> tuple[Merchant, WebhookEvent, str]:
    """Check a webhook and read it: its merchant, the event and the verified signature.
    ``merchant_header`` (``PSP-Merchant-Id``), when given, must name the body's merchant."""
    if len(body) > MAX_BODY:
        raise WebhookRejected(reason=MALFORMED, log_message=f"{len(body)} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRejected(reason=MALFORMED) from None
    merchant = merchants.by_id(str(data.get("merchant_id", ""))) if isinstance(data, dict) else None
    if merchant is None:  # nobody's secret can have signed it
        raise WebhookRejected(reason=SIGNATURE, log_message="unknown merchant")
    signature = verify(body, header, merchant.webhook_secret, now, tolerance)
    if merchant_header is not None and merchant_header != merchant.merchant_id:
        raise WebhookRejected(reason=MALFORMED, log_message="PSP-Merchant-Id differs from the body's merchant")
    return merchant, _event(data), signature


def _event(data: dict[str, Any]) -> WebhookEvent:
    """The event; one of a type we do not handle comes without payment (answered 2xx, ignored)."""
    try:
        event_id, kind, merchant_id, created = (str(data[k]) for k in ("id", "type", "merchant_id", "created"))
        payload = data["data"] if kind in KINDS else None
        payment = payment_from_json(payload["payment"]) if payload is not None else None
        refund = refund_from_json(payload["refund"]) if payload is not None and kind.startswith("refund.") else None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise WebhookRejected(reason=MALFORMED, log_message="signed, but not an event we can read") from None
    if not 0 < len(event_id) <= 200:
        raise WebhookRejected(reason=MALFORMED, log_message="event id")
    return WebhookEvent(event_id, kind, merchant_id, created, payment, refund)
