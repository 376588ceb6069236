"""Webhooks: events written to the outbox in the transaction that changes a payment, then
delivered by the dispatcher, signed like Stripe's and retried with exponential backoff
until the merchant answers 2xx. Undelivered ones survive a restart (at-least-once: a crash
between the merchant's 2xx and our note of it sends the event again, same id)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.config import PspSimulatorSettings
from services.common.logs import get_logger
from services.payments.psp_simulator.chaos import Chaos, count
from services.payments.psp_simulator.store import Store
from services.payments.psp_simulator.telemetry import WEBHOOK_ATTEMPTS, WEBHOOKS_PENDING

SIGNATURE_HEADER = "PSP-Signature"
USER_AGENT = "vr-psp-simulator/1"

log = get_logger(__name__)


def iso(moment: float | None) -> str | None:
    """Unix seconds as an ISO 8601 UTC timestamp, as every time in the API is written."""
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`` (the README's scheme)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def enqueue(
    conn: sqlite3.Connection, chaos: Chaos, now: float, merchant_id: str, kind: str, payment_id: str, data: dict
) -> str:
    """Write an event and its deliveries (as the chaos switches say) in the caller's transaction."""
    event_id = f"evt_{secrets.token_hex(12)}"
    body = {"id": event_id, "type": kind, "created": iso(now), "merchant_id": merchant_id, "data": data}
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    conn.execute(
        "INSERT INTO events (id, merchant_id, type, payment_id, body, created) VALUES (?, ?, ?, ?, ?, ?)",
        (event_id, merchant_id, kind, payment_id, raw, now),
    )
    if chaos.roll(chaos.drop_rate):
        _delivery(conn, event_id, "dropped", now, "dropped")
        count(conn, "dropped")
        return event_id
    due, tags = now, []
    if chaos.delay > 0:
        due, tags = due + chaos.delay, [*tags, "delayed"]
        count(conn, "delayed")
    if chaos.roll(chaos.out_of_order_rate):
        due, tags = due + chaos.out_of_order_delay, [*tags, "out_of_order"]
        count(conn, "out_of_order")
    _delivery(conn, event_id, "pending", due, ",".join(tags))
    if chaos.roll(chaos.duplicate_rate):
        _delivery(conn, event_id, "pending", due + chaos.rng.random(), ",".join([*tags, "duplicate"]))
        count(conn, "duplicate")
    return event_id


def _delivery(conn: sqlite3.Connection, event_id: str, status: str, due: float, tags: str) -> None:
    conn.execute(
        "INSERT INTO deliveries (event_id, status, due_at, chaos) VALUES (?, ?, ?, ?)", (event_id, status, due, tags)
    )


def flush(store: Store, merchant_id: str | None = None) -> int:
    """Make every pending delivery (of one merchant) due now; the number made due."""
    with store.transaction() as conn:
        return conn.execute(
            "UPDATE deliveries SET due_at = ? WHERE status = 'pending' AND (? IS NULL OR event_id IN "
            "(SELECT id FROM events WHERE merchant_id = ?))",
            (time.time(), merchant_id, merchant_id),
        ).rowcount


class Dispatcher:
    """The background loop: runs the provider's due jobs (``jobs(now)``), then sends the due
    deliveries, at most ``webhook_concurrency`` at once."""

    def __init__(self, store: Store, settings: PspSimulatorSettings, jobs: Callable[[float], None]) -> None:
        self.store = store
        self.settings = settings
        self.jobs = jobs
        self.in_flight: dict[int, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None

    def wake(self) -> None:
        """Look for due work now rather than at the next tick (called on the loop's thread)."""
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        self._wake = asyncio.Event()
        async with httpx.AsyncClient(timeout=self.settings.webhook_timeout, follow_redirects=False) as client:
            try:
                while True:
                    try:
                        self._round(client)
                    except Exception:  # the loop must outlive one bad round; the next tick retries
                        log.exception("psp_dispatch_round_failed")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout=self.settings.tick)
                    self._wake.clear()
            finally:
                for task in list(self.in_flight.values()):
                    task.cancel()
                await asyncio.gather(*self.in_flight.values(), return_exceptions=True)

    def _round(self, client: httpx.AsyncClient) -> None:
        now = time.time()
        try:
            self.jobs(now)
        except Exception:  # a failing job must not stop the deliveries
            log.exception("psp_jobs_failed")
        room = self.settings.webhook_concurrency - len(self.in_flight)
        if room > 0:
            busy = ",".join(str(i) for i in self.in_flight) or "0"
            rows = self.store.all(
                f"SELECT id FROM deliveries WHERE status = 'pending' AND due_at <= ? AND id NOT IN ({busy}) "
                "ORDER BY due_at, id LIMIT ?",
                (now, room),
            )
            for row in rows:
                self.in_flight[row["id"]] = asyncio.create_task(self._deliver(client, row["id"]))
        pending = self.store.one("SELECT count(*) AS n FROM deliveries WHERE status = 'pending'")
        WEBHOOKS_PENDING.set(pending["n"] if pending else 0)

    async def _deliver(self, client: httpx.AsyncClient, delivery_id: int) -> None:
        try:
            row = self.store.one(
                "SELECT d.attempts, e.id AS event_id, e.type, e.body, m.merchant_id, m.webhook_url, m.webhook_secret "
                "FROM deliveries d JOIN events e ON e.id = d.event_id JOIN merchants m ON m.merchant_id = e.merchant_id "
                "WHERE d.id = ?",
                (delivery_id,),
            )
            if row is not None:
                await self._attempt(client, delivery_id, row)
        finally:
            self.in_flight.pop(delivery_id, None)

    async def _attempt(self, client: httpx.AsyncClient, delivery_id: int, row: Any) -> None:
        body = row["body"].encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: sign(row["webhook_secret"], int(time.time()), body),
            "PSP-Event-Id": row["event_id"],
            "PSP-Merchant-Id": row["merchant_id"],
        }
        status, error = None, ""
        try:
            status = (await client.post(row["webhook_url"], content=body, headers=headers)).status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        attempts = row["attempts"] + 1
        fields = {"event_id": row["event_id"], "type": row["type"], "attempt": attempts, "status": status}
        if status is not None and 200 <= status < 300:
            self._update(delivery_id, "delivered", attempts, status, error, delivered_at=time.time())
            WEBHOOK_ATTEMPTS.labels("delivered").inc()
            log.info("webhook_delivered", **fields)
            return
        WEBHOOK_ATTEMPTS.labels("failed").inc()
        limit = self.settings.webhook_max_attempts
        if limit and attempts >= limit:
            self._update(delivery_id, "abandoned", attempts, status, error)
            log.warning("webhook_abandoned", **fields, error=error)
            return
        backoff = min(self.settings.webhook_retry_base * 2 ** (attempts - 1), self.settings.webhook_retry_max)
        self._update(delivery_id, "pending", attempts, status, error, due_at=time.time() + backoff)
        log.info("webhook_attempt_failed", **fields, error=error, retry_in=round(backoff, 3))

    def _update(self, delivery_id: int, status: str, attempts: int, code: int | None, error: str, **extra: float) -> None:
        columns = {"status": status, "attempts": attempts, "last_status": code, "last_error": error, **extra}
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self.store.transaction() as conn:
            conn.execute(f"UPDATE deliveries SET {assignments} WHERE id = ?", (*columns.values(), delivery_id))
