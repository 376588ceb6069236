"""The provider's business: payments (open → succeeded | failed | cancelled | expired, and a
late success after failed/cancelled/expired), refunds (pending → succeeded | failed) and
idempotent creation. Every change writes its webhook event in the same transaction."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from services.common.config import PspSimulatorSettings
from services.common.logs import get_logger
from services.payments.psp_simulator import validation
from services.payments.psp_simulator.chaos import Chaos, count
from services.payments.psp_simulator.errors import ApiError, invalid, not_found
from services.payments.psp_simulator.merchants import Merchant
from services.payments.psp_simulator.store import Store
from services.payments.psp_simulator.telemetry import PAYMENTS, REFUNDS
from services.payments.psp_simulator.webhooks import enqueue, iso

OUTCOMES = {"success": "succeeded", "failure": "failed", "cancel": "cancelled"}
UNSUCCESSFUL = ("failed", "cancelled", "expired")
DEFAULT_METHOD = "card"

log = get_logger(__name__)


class Provider:
    """Payments and refunds on the store; ``notify()`` is called after a change that wrote
    events, so the dispatcher sends them without waiting for its next tick."""

    def __init__(self, store: Store, settings: PspSimulatorSettings, chaos: Chaos) -> None:
        self.store = store
        self.settings = settings
        self.chaos = chaos
        self.notify: Callable[[], None] = lambda: None

    # -- views -------------------------------------------------------------------------------
    def payment_view(self, conn: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        refunds = conn.execute("SELECT * FROM refunds WHERE payment_id = ? ORDER BY created, id", (row["id"],)).fetchall()
        refunded = sum(r["amount"] for r in refunds if r["status"] == "succeeded")
        reserved = sum(r["amount"] for r in refunds if r["status"] in ("pending", "succeeded"))
        return {
            "id": row["id"], "object": "payment", "merchant_id": row["merchant_id"], "status": row["status"],
            "amount": row["amount"], "currency": row["currency"], "purpose": row["purpose"],
            "merchant_reference": row["merchant_reference"], "method": row["method"],
            "pay_url": f"{self.settings.public_url}/pay/{row['pay_token']}", "return_url": row["return_url"],
            "metadata": json.loads(row["metadata"]), "created": iso(row["created"]),
            "expires_at": iso(row["expires_at"]), "completed_at": iso(row["completed_at"]),
            "succeeded_at": iso(row["succeeded_at"]), "amount_refunded": refunded,
            "amount_refundable": row["amount"] - reserved if row["status"] == "succeeded" else 0,
            "refunds": [refund_view(r) for r in refunds],
        }

    def payment(self, merchant: Merchant, payment_id: str) -> dict[str, Any]:
        with self.store.transaction() as conn:
            return self.payment_view(conn, _payment_row(conn, payment_id, merchant.merchant_id))

    def payments_by_reference(self, merchant: Merchant, reference: str) -> list[dict[str, Any]]:
        with self.store.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM payments WHERE merchant_id = ? AND merchant_reference = ? ORDER BY created, id",
                (merchant.merchant_id, reference),
            ).fetchall()
            return [self.payment_view(conn, row) for row in rows]

    def refund(self, merchant: Merchant, refund_id: str) -> dict[str, Any]:
        row = self.store.one("SELECT * FROM refunds WHERE id = ? AND merchant_id = ?", (refund_id, merchant.merchant_id))
        if row is None:
            raise not_found("refund")
        return refund_view(row)

    def by_token(self, token: str) -> tuple[sqlite3.Row, str]:
        """The payment behind a pay-page token and its merchant's name (expired first if due)."""
        self.run_due(time.time())
        row = self.store.one(
            "SELECT p.*, m.name AS merchant_name FROM payments p JOIN merchants m USING (merchant_id) WHERE pay_token = ?",
            (token,),
        )
        if row is None:
            raise not_found("payment")
        return row, row["merchant_name"]

    # -- commands ----------------------------------------------------------------------------
    def create_payment(self, merchant: Merchant, key: str, body: Any) -> tuple[int, dict[str, Any], bool]:
        """(status, body, replayed): the same key and body answer the first answer again."""
        fingerprint = validation.fingerprint("POST", "/v1/payments", body)
        with self.store.transaction() as conn:
            stored = _idempotent(conn, merchant.merchant_id, key, fingerprint)
            if stored is not None:
                return stored
            request = validation.payment_request(body, self.settings.payment_ttl)
            now, payment_id = time.time(), f"pay_{secrets.token_hex(12)}"
            conn.execute(
                "INSERT INTO payments (id, merchant_id, pay_token, status, amount, currency, purpose, merchant_reference,"
                " return_url, metadata, created, expires_at) VALUES (?, ?, ?, 'open', ?, 'EUR', ?, ?, ?, ?, ?, ?)",
                (payment_id, merchant.merchant_id, secrets.token_urlsafe(24), request.amount, request.purpose,
                 request.merchant_reference, request.return_url, json.dumps(request.metadata), now,
                 now + request.expires_in),
            )
            view = self.payment_view(conn, _payment_row(conn, payment_id))
            _remember(conn, merchant.merchant_id, key, fingerprint, 201, view, now)
        PAYMENTS.labels("open").inc()
        log.info("payment_created", payment_id=payment_id, merchant_id=merchant.merchant_id, amount=request.amount)
        return 201, view, False

    def complete(self, token: str, method: str | None, outcome: str | None) -> sqlite3.Row:
        """The payer's decision on the pay page; the payment row afterwards."""
        if outcome not in OUTCOMES:
            raise invalid("outcome", "expected success, failure or cancel")
        if outcome != "cancel" and method not in validation.METHODS:
            raise invalid("method", "choose a payment method")
        row, _ = self.by_token(token)
        with self.store.transaction() as conn:
            current = _payment_row(conn, row["id"])
            if current["status"] != "open":
                raise ApiError(409, "payment_not_open", "the payment is no longer open", payment_status=current["status"])
            self._move(conn, current, OUTCOMES[outcome], time.time(), method if outcome != "cancel" else None)
            result = _payment_row(conn, row["id"])
        self.notify()
        return result

    def create_refund(self, merchant: Merchant, payment_id: str, key: str, body: Any) -> tuple[int, dict[str, Any], bool]:
        fingerprint = validation.fingerprint("POST", f"/v1/payments/{payment_id}/refunds", body)
        with self.store.transaction() as conn:
            stored = _idempotent(conn, merchant.merchant_id, key, fingerprint)
            if stored is not None:
                return stored
            request = validation.refund_request(body)
            payment = _payment_row(conn, payment_id, merchant.merchant_id)
            if payment["status"] != "succeeded":
                raise ApiError(409, "payment_not_refundable", "only a succeeded payment can be refunded")
            refundable = self.payment_view(conn, payment)["amount_refundable"]
            amount = refundable if request.amount is None else request.amount
            if amount < 1 or amount > refundable:
                raise ApiError(422, "amount_exceeds_refundable", "more than is left to refund", field="amount",
                               amount_refundable=refundable)
            now, refund_id = time.time(), f"re_{secrets.token_hex(12)}"
            conn.execute(
                "INSERT INTO refunds (id, payment_id, merchant_id, amount, status, reason, merchant_reference, created,"
                " settle_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?)",
                (refund_id, payment_id, merchant.merchant_id, amount, request.reason,
                 request.merchant_reference or payment["merchant_reference"], now, now + self.settings.refund_delay),
            )
            view = refund_view(conn.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone())
            _remember(conn, merchant.merchant_id, key, fingerprint, 201, view, now)
        REFUNDS.labels("pending").inc()
        log.info("refund_created", refund_id=refund_id, payment_id=payment_id, amount=amount)
        self.notify()
        return 201, view, False

    def late_success(self, payment_id: str, method: str | None) -> dict[str, Any]:
        """Admin: a payment reported failed, cancelled or expired is captured after all."""
        if method is not None and method not in validation.METHODS:
            raise invalid("method", "unknown payment method")
        with self.store.transaction() as conn:
            row = _payment_row(conn, payment_id)
            if row["status"] not in UNSUCCESSFUL:
                raise ApiError(409, "payment_not_unsuccessful", "only a failed, cancelled or expired payment can succeed late")
            self._move(conn, row, "succeeded", time.time(), method or row["method"] or DEFAULT_METHOD)
            view = self.payment_view(conn, _payment_row(conn, payment_id))
        self.notify()
        return view

    def expire(self, payment_id: str) -> dict[str, Any]:
        """Admin: an open payment expires now."""
        with self.store.transaction() as conn:
            row = _payment_row(conn, payment_id)
            if row["status"] != "open":
                raise ApiError(409, "payment_not_open", "the payment is no longer open", payment_status=row["status"])
            self._move(conn, row, "expired", time.time(), None)
            view = self.payment_view(conn, _payment_row(conn, payment_id))
        self.notify()
        return view

    def run_due(self, now: float) -> None:
        """Expire open payments past their expiry, carry out due late successes, settle due refunds."""
        with self.store.transaction() as conn:
            due = conn.execute("SELECT * FROM payments WHERE status = 'open' AND expires_at <= ?", (now,)).fetchall()
            for row in due:
                self._move(conn, row, "expired", now, None)
            late = conn.execute(
                "SELECT * FROM payments WHERE late_success_at <= ? AND status IN ('failed', 'cancelled', 'expired')",
                (now,),
            ).fetchall()
            for row in late:
                self._move(conn, row, "succeeded", now, row["method"] or DEFAULT_METHOD)
                count(conn, "late_success")
            refunds = conn.execute("SELECT * FROM refunds WHERE status = 'pending' AND settle_at <= ?", (now,)).fetchall()
            for refund in refunds:
                self._settle_refund(conn, refund, now)
        if due or late or refunds:
            self.notify()

    # -- transitions ---------------------------------------------------------------------------
    def _move(self, conn: sqlite3.Connection, row: sqlite3.Row, status: str, now: float, method: str | None) -> None:
        late_at = None
        if status in UNSUCCESSFUL and self.chaos.roll(self.chaos.late_success_rate):
            late_at = now + self.chaos.late_success_delay
        conn.execute(
            "UPDATE payments SET status = ?, method = coalesce(?, method), completed_at = ?, "
            "succeeded_at = CASE WHEN ? = 'succeeded' THEN ? ELSE succeeded_at END, late_success_at = ? WHERE id = ?",
            (status, method, now, status, now, late_at, row["id"]),
        )
        view = self.payment_view(conn, _payment_row(conn, row["id"]))
        enqueue(conn, self.chaos, now, row["merchant_id"], f"payment.{status}", row["id"], {"payment": view})
        PAYMENTS.labels(status).inc()
        log.info("payment_" + status, payment_id=row["id"], merchant_id=row["merchant_id"], was=row["status"])

    def _settle_refund(self, conn: sqlite3.Connection, refund: sqlite3.Row, now: float) -> None:
        status = "failed" if self.chaos.roll(self.chaos.refund_failure_rate) else "succeeded"
        if status == "failed":
            count(conn, "refund_failed")
        conn.execute("UPDATE refunds SET status = ?, completed_at = ? WHERE id = ?", (status, now, refund["id"]))
        settled = conn.execute("SELECT * FROM refunds WHERE id = ?", (refund["id"],)).fetchone()
        payment = self.payment_view(conn, _payment_row(conn, refund["payment_id"]))
        enqueue(conn, self.chaos, now, refund["merchant_id"], f"refund.{status}", refund["payment_id"],
                {"refund": refund_view(settled), "payment": payment})
        REFUNDS.labels(status).inc()
        log.info("refund_" + status, refund_id=refund["id"], payment_id=refund["payment_id"])


def refund_view(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"], "object": "refund", "payment_id": row["payment_id"], "merchant_id": row["merchant_id"],
        "amount": row["amount"], "currency": "EUR", "status": row["status"], "reason": row["reason"],
        "merchant_reference": row["merchant_reference"], "created": iso(row["created"]),
        "completed_at": iso(row["completed_at"]),
    }


def _payment_row(conn: sqlite3.Connection, payment_id: str, merchant_id: str | None = None) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM payments WHERE id = ?", (payment_id,)).fetchone()
    if row is None or (merchant_id is not None and row["merchant_id"] != merchant_id):
        raise not_found("payment")  # another merchant's payment does not exist for this one
    return row


def _idempotent(conn: sqlite3.Connection, merchant_id: str, key: str, fingerprint: str) -> tuple[int, dict, bool] | None:
    row = conn.execute(
        "SELECT fingerprint, status, response FROM idempotency WHERE merchant_id = ? AND key = ?", (merchant_id, key)
    ).fetchone()
    if row is None:
        return None
    if row["fingerprint"] != fingerprint:
        raise ApiError(409, "idempotency_key_reused", "this Idempotency-Key was used with another request")
    return row["status"], json.loads(row["response"]), True


def _remember(conn: sqlite3.Connection, merchant_id: str, key: str, fingerprint: str, status: int, body: dict, now: float) -> None:
    conn.execute(
        "INSERT INTO idempotency (merchant_id, key, fingerprint, status, response, created) VALUES (?, ?, ?, ?, ?, ?)",
        (merchant_id, key, fingerprint, status, json.dumps(body), now),
    )
