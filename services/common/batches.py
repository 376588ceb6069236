"""Folding a batch of queued events with the give-up rule every batch consumer shares.

Why here: a projector folds a whole batch in one transaction, so a transient error (the
database away) leaves the whole batch unacked. Once any of its messages has been delivered
``amqp.MAX_ATTEMPTS`` times, the batch is folded one event at a time instead: the event that
still fails is parked in ``<queue>.dead`` with its attempts (``x-dead-attempts``), the others
are folded — one broken event no longer holds its queue up forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from services.common.amqp import MAX_ATTEMPTS, BatchConsumer, Delivery

Fold = Callable[[Iterable[dict[str, Any]]], int]


def fold_or_park(consumer: BatchConsumer, deliveries: list[Delivery], fold: Fold, log: Any) -> int:
    """Fold ``deliveries`` in one go; rows changed. A transient error propagates (the batch
    comes back after the reconnect) until a message reached MAX_ATTEMPTS deliveries."""
    try:
        return fold(d.body for d in deliveries)
    except Exception:
        if not deliveries or max(d.attempts for d in deliveries) < MAX_ATTEMPTS:
            raise
    applied = 0
    for delivery in deliveries:
        try:
            applied += fold([delivery.body])
        except Exception as exc:
            if delivery.attempts < MAX_ATTEMPTS:
                raise
            # never the body in the log: an event's data may hold form contents
            log.error("event_dead_lettered", type=delivery.body.get("type"), attempts=delivery.attempts,
                      error=repr(exc)[:300])
            consumer.dead_letter(delivery.body, f"gave up after {delivery.attempts} attempts: {exc!r}", delivery)
    return applied
