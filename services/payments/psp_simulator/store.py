"""The simulator's durable state in one SQLite file: a real provider forgets neither
payments nor idempotency keys nor undelivered webhooks when it restarts.

Times are unix seconds (REAL). One connection, used from the event loop's thread; the lock
keeps a transaction whole should anything call in from another thread.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS merchants (
    merchant_id TEXT PRIMARY KEY, name TEXT NOT NULL, api_key_hash TEXT NOT NULL UNIQUE,
    webhook_secret TEXT NOT NULL, webhook_url TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS payments (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, pay_token TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL, purpose TEXT NOT NULL,
    merchant_reference TEXT NOT NULL, return_url TEXT NOT NULL, metadata TEXT NOT NULL,
    method TEXT, created REAL NOT NULL, expires_at REAL NOT NULL, completed_at REAL,
    succeeded_at REAL, late_success_at REAL);
CREATE INDEX IF NOT EXISTS payments_reference ON payments (merchant_id, merchant_reference);
CREATE INDEX IF NOT EXISTS payments_open ON payments (status, expires_at);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, payment_id TEXT NOT NULL, merchant_id TEXT NOT NULL, amount INTEGER NOT NULL,
    status TEXT NOT NULL, reason TEXT NOT NULL, merchant_reference TEXT NOT NULL,
    created REAL NOT NULL, settle_at REAL NOT NULL, completed_at REAL);
CREATE INDEX IF NOT EXISTS refunds_payment ON refunds (payment_id);
CREATE TABLE IF NOT EXISTS idempotency (
    merchant_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, status INTEGER NOT NULL,
    response TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (merchant_id, key));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, merchant_id TEXT NOT NULL,
    type TEXT NOT NULL, payment_id TEXT NOT NULL, body TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_payment ON events (payment_id);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, status TEXT NOT NULL,
    due_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_status INTEGER,
    last_error TEXT, delivered_at REAL, chaos TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, due_at);
CREATE TABLE IF NOT EXISTS settlement_adjustments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, merchant_id TEXT NOT NULL, booking_date TEXT NOT NULL,
    action TEXT NOT NULL, target TEXT NOT NULL, amount INTEGER, merchant_reference TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chaos_counts (kind TEXT PRIMARY KEY, count INTEGER NOT NULL);
"""


class Store:
    """The SQLite file, created with its tables on first open."""

    def __init__(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything in it is saved together or not at all."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def one(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()
