"""How often the sender tries to compose a postbox item, and when it gives up.

Why: composing asks other services; one that refuses for good (the case is not found, e.g.
an item recorded for the wrong case) was asked again every round, forever. Now each failed
attempt waits longer (doubling from ``base`` up to ``cap`` seconds); after ``max_attempts`` the
item is parked as a dead letter in ``notifications.events.dead`` (as every consumer parks a
message it cannot handle), counted in ``vr_dead_letters_total``, and not tried again.
The attempts are operational state, not the item's history: a table of their own, which a
read-model rebuild leaves alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from services.common.db import ReadStore
from services.notifications.postbox.domain import PostboxItem

DDL = """
CREATE TABLE IF NOT EXISTS postbox_compose_attempts (item_id TEXT PRIMARY KEY, attempts INTEGER NOT NULL,
    next_try_at DOUBLE PRECISION NOT NULL, last_error TEXT NOT NULL, dead INTEGER NOT NULL)
"""
#: The consumer queue whose dead-letter queue takes the items given up on.
QUEUE = "notifications.events"
#: The dead letter's type; re-driven, the notifications consumer clears the item's attempts.
ABANDONED = "postbox.compose_abandoned"


class ComposeAttempts:
    """Failed attempts per item: which items wait for their next try, which were given up."""

    def __init__(self, store: ReadStore, max_attempts: int, base: float, cap: float) -> None:
        self.store, self.max_attempts, self.base, self.cap = store, max_attempts, base, cap
        store.executescript(DDL)

    def waiting(self, now: float) -> set[str]:
        """Items not to try now: backing off, or given up."""
        rows = self.store.query("SELECT item_id FROM postbox_compose_attempts WHERE dead = 1 OR next_try_at > ?", (now,))
        return {row[0] for row in rows}

    def failed(self, item_id: str, error: str, now: float) -> int:
        """Count a failed attempt and set the next try; returns the attempts so far."""
        with self.store.transaction() as cur:
            row = cur.execute("SELECT attempts FROM postbox_compose_attempts WHERE item_id = ?", (item_id,)).fetchone()
            attempts = (row[0] if row else 0) + 1
            next_try = now + min(self.base * 2 ** (attempts - 1), self.cap)
            cur.execute(
                "INSERT INTO postbox_compose_attempts (item_id, attempts, next_try_at, last_error, dead) "
                "VALUES (?, ?, ?, ?, 0) ON CONFLICT (item_id) DO UPDATE SET attempts = excluded.attempts, "
                "next_try_at = excluded.next_try_at, last_error = excluded.last_error",
                (item_id, attempts, next_try, error[:300]),
            )
        return attempts

    def give_up(self, item_id: str) -> None:
        with self.store.transaction() as cur:
            cur.execute("UPDATE postbox_compose_attempts SET dead = 1 WHERE item_id = ?", (item_id,))

    def attempts(self, item_id: str) -> tuple[int, bool] | None:
        row = self.store.query("SELECT attempts, dead FROM postbox_compose_attempts WHERE item_id = ?", (item_id,))
        return (row[0][0], bool(row[0][1])) if row else None


def dead_letter_body(item: Any, attempts: int, error: str) -> dict[str, Any]:
    """What the dead letter says about the item (never its text: ids, kind, case). Re-driven
    into notifications.events (``python -m services.ops dead-letters``), the consumer clears
    the item's attempts (:func:`forget`), and the sender tries it afresh."""
    data = {"item_id": str(item_id_of(item)), "attempts": attempts, "error": error[:300]}
    envelope: dict[str, Any] = {"type": ABANDONED, "event_id": f"{data['item_id']}:{attempts}", "data": data}
    if isinstance(item, PostboxItem):
        data |= {"source_event_id": item.source_event_id, "case_id": item.case_id, "kind": item.kind}
        envelope["tenant"] = item.tenant
    return envelope


def forget(store: ReadStore, item_id: str) -> int:
    """Clear an item's attempts (a re-driven dead letter): it is due again at once."""
    store.executescript(DDL)
    with store.transaction() as cur:
        return cur.execute("DELETE FROM postbox_compose_attempts WHERE item_id = ?", (item_id,)).rowcount


def item_id_of(item: Any) -> Any:
    return getattr(item, "id", item)


def try_compose(item_id: str, compose: Callable[[], Any], attempts: ComposeAttempts, load: Callable[[str], Any],
                park: Callable[[dict[str, Any], str], None], now: Callable[[], float] = time.time) -> tuple[str, Any]:
    """One attempt at one item: ``("composed", view)``, ``("retry", error)`` or ``("dead", error)``.
    ``compose`` raises for a failure; ``park`` publishes the dead letter (if it fails, the item
    is tried again next time and parked then)."""
    try:
        view = compose()
    except Exception as exc:  # noqa: BLE001 - a service away, refusing, or our bug: counted alike
        error = f"{type(exc).__name__}: {getattr(exc, 'code', '') or str(exc)[:200]}"
        count = attempts.failed(item_id, error, now())
        if count < attempts.max_attempts:
            return "retry", error
        park(dead_letter_body(load(item_id) or item_id, count, error), f"postbox item not composed after {count} attempts: {error}")
        attempts.give_up(item_id)
        return "dead", error
    return "composed", view
