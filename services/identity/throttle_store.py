"""Throttle counters in identity's own database, shared by every identity process.

Why: in-memory counters gave each identity worker (and each restart) a fresh budget, so
two processes meant twice the guesses. One small table next to identity's event store —
the same SQLite file or PostgreSQL schema, so ``make run`` needs nothing more — holds one
row per (scope, key): failures in the current window, when the last one was, and until
when the key waits. Every count is one upsert in one transaction (the row lock serialises
concurrent processes); a key idle for ``forget_after`` starts a new window. Times are wall
clock seconds (shared across processes and restarts, unlike ``time.monotonic``).

Keys are stored as an HMAC under the deployment secret (``keyed_hex``): the table names no
e-mail address or client address anyone could read back or test a guess against. Rows
idle for ``KEEP_SECONDS`` are deleted when a process opens the store and every
``PRUNE_EVERY`` counts, which keeps the table small whatever keys a sprayer invents.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from services.common.secrets import keyed_hex

TABLE = "throttle_counts"
PRUNE_EVERY = 1000
KEEP_SECONDS = 2 * 3600  # longer than any limiter's forget_after (1 h): rows older than this are dead


class ThrottleStore:
    """(failures, blocked_until) per (scope, key) in the datastore of identity's event store."""

    def __init__(self, datastore: Any, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self.datastore = datastore
        self._secret = secret
        self.postgres = hasattr(datastore, "schema")  # eventsourcing's PostgresDatastore
        self.table = f'"{datastore.schema}".{TABLE}' if self.postgres else TABLE
        self._counted = 0
        self._lock = threading.Lock()
        for attempt in range(5):  # identity processes starting together race on the catalog
            try:
                with self._transaction() as cur:
                    cur.execute(
                        f"CREATE TABLE IF NOT EXISTS {self.table} (scope TEXT NOT NULL, key TEXT NOT NULL, "
                        "failures INTEGER NOT NULL, last_failure DOUBLE PRECISION NOT NULL, "
                        "blocked_until DOUBLE PRECISION NOT NULL, PRIMARY KEY (scope, key))"
                    )
                break
            except Exception as exc:
                if attempt == 4 or ("already exists" not in str(exc) and "duplicate key" not in str(exc)):
                    raise
                time.sleep(0.1 * (attempt + 1))
        self._prune(clock())

    def _transaction(self) -> Any:
        return self.datastore.transaction(commit=True)

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    @staticmethod
    def _row(row: Any) -> tuple[Any, ...]:
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    def _key(self, key: str) -> str:
        return keyed_hex("throttle", key, self._secret)

    def get(self, scope: str, key: str, now: float, forget_after: float) -> tuple[int, float] | None:
        """The key's (failures, blocked_until) in its live window, or None."""
        with self.datastore.transaction(commit=False) as cur:
            cur.execute(self._sql(f"SELECT failures, blocked_until FROM {self.table} "
                                  "WHERE scope = ? AND key = ? AND last_failure > ?"), (scope, self._key(key), now - forget_after))
            row = cur.fetchone()
        return None if row is None else (int(self._row(row)[0]), float(self._row(row)[1]))

    def count(self, scope: str, key: str, now: float, forget_after: float,
              delay_for: Callable[[int], float]) -> tuple[int, float]:
        """Count one attempt; ``delay_for(failures)`` is the wait it earns (0 within the free
        attempts). Returns (failures, blocked_until) after the count."""
        fresh, key = now - forget_after, self._key(key)
        with self._transaction() as cur:
            cur.execute(self._sql(
                f"INSERT INTO {self.table} AS t (scope, key, failures, last_failure, blocked_until) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT (scope, key) DO UPDATE SET "
                "failures = CASE WHEN t.last_failure <= ? THEN 1 ELSE t.failures + 1 END, "
                "blocked_until = CASE WHEN t.last_failure <= ? THEN excluded.blocked_until ELSE t.blocked_until END, "
                "last_failure = excluded.last_failure RETURNING failures, blocked_until"
            ), (scope, key, now, now, fresh, fresh))
            failures, blocked_until = self._row(cur.fetchone())
            failures, blocked_until = int(failures), float(blocked_until)
            delay = delay_for(failures)
            if delay > 0 and now + delay > blocked_until:
                blocked_until = now + delay
                cur.execute(self._sql(f"UPDATE {self.table} SET blocked_until = ? WHERE scope = ? AND key = ?"),
                            (blocked_until, scope, key))
        self._maybe_prune(now)
        return failures, blocked_until

    def reset(self, scope: str, key: str) -> None:
        with self._transaction() as cur:
            cur.execute(self._sql(f"DELETE FROM {self.table} WHERE scope = ? AND key = ?"), (scope, self._key(key)))

    def _maybe_prune(self, now: float) -> None:
        with self._lock:
            self._counted += 1
            due = self._counted % PRUNE_EVERY == 0
        if due:
            self._prune(now)

    def _prune(self, now: float) -> None:
        with self._transaction() as cur:
            cur.execute(self._sql(f"DELETE FROM {self.table} WHERE last_failure < ?"), (now - KEEP_SECONDS,))


def store_of(recorder: Any, secret: bytes, clock: Callable[[], float] = time.time) -> ThrottleStore | None:
    """The shared store on the recorder's database; None for the in-memory (POPO) store,
    whose counters stay in the process like its events."""
    datastore = getattr(recorder, "datastore", None)
    return ThrottleStore(datastore, secret, clock) if datastore is not None else None
