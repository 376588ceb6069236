"""The loop of a saga consumer: a plain (non-eventlet) process that takes integration events
from one queue and hands each to a handler, in order, acking only what was handled.

Handlers must be idempotent (events come at least once): they act through an aggregate
whose own state tells a repeat (the case is paid already, the receivable exists). A message
the handler can never handle (``Poison``, a DomainError, a malformed body) goes to the
queue's dead-letter queue (``<queue>.dead``) with its reason, logged and counted, and the
consumer carries on; any other error (broker, database, a service not answering) leaves the
message unacked, and it comes back after a reconnect — up to ``amqp.MAX_ATTEMPTS`` deliveries,
then it is parked as well (``x-dead-attempts`` says how often it was tried).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter

from services.common import logs, metrics, shutdown
from services.common.amqp import MAX_ATTEMPTS, BatchConsumer, Delivery
from services.common.problems import DomainError

SAGA_MESSAGES = Counter("vr_saga_messages_total", "Saga messages by consumer and result", ["queue", "result"])

Handler = Callable[[dict[str, Any]], str]


class Poison(Exception):
    """This message can never be handled (it goes to the dead-letter queue)."""


class SagaConsumer:
    def __init__(self, queue: str, handle: Handler, process: str):
        self.queue = queue
        self.handle = handle
        self.running = True
        self.log = logs.get_logger(process)

    def stop(self, *_: Any) -> None:
        self.running = False

    def handle_batch(self, consumer: BatchConsumer, batch: list[Delivery]) -> None:
        """Handle in order; then ack everything handled or dead-lettered with one ``multiple``
        ack (one frame per batch instead of one per message: less work for the broker). A
        transient error propagates: what was handled before it is acked, the rest of the
        batch stays unacked and is delivered again."""
        handled: int | None = None
        try:
            for delivery in batch:
                self.handle_one(consumer, delivery)
                handled = delivery.delivery_tag
        finally:
            if handled is not None:
                consumer.ack_through(handled)

    def handle_one(self, consumer: BatchConsumer, delivery: Delivery) -> str:
        """Handle one message, or park it (poison, or MAX_ATTEMPTS transient failures);
        raises on a transient error before that. The caller acks."""
        body = delivery.body if isinstance(delivery.body, dict) else {}
        logs.bind_correlation_id(body.get("correlation_id"))
        try:
            if "_malformed" in body or "type" not in body or "data" not in body:
                raise Poison("malformed message")
            result = self.handle(body)
        except (Poison, DomainError, KeyError, TypeError, ValueError) as exc:
            reason = f"{type(exc).__name__}: {getattr(exc, 'code', exc)}"
            result = self.park(consumer, delivery, reason)
        except Exception as exc:
            if delivery.attempts < MAX_ATTEMPTS:
                raise  # transient: unacked, it comes back after the reconnect
            result = self.park(consumer, delivery, f"gave up after {delivery.attempts} attempts: {exc!r}")
        SAGA_MESSAGES.labels(self.queue, result).inc()
        return result

    def park(self, consumer: BatchConsumer, delivery: Delivery, reason: str) -> str:
        body = delivery.body if isinstance(delivery.body, dict) else {}
        # never the body in the log: only what identifies the event
        self.log.error("saga_dead_letter", queue=self.queue, type=body.get("type"),
                       event_id=body.get("event_id"), reason=reason[:500], attempts=delivery.attempts)
        consumer.dead_letter(body, reason, delivery)
        return "dead_letter"

    def run(self) -> None:
        shutdown.on_terminate(self.stop, self.queue)
        consumer = None
        self.log.info("saga_consumer_started", queue=self.queue)
        while self.running:
            try:
                if consumer is None:
                    consumer = BatchConsumer(self.queue, prefetch=50)
                batch = consumer.next_batch(max_size=50, wait=0.2)
                if batch:
                    self.handle_batch(consumer, batch)
                    metrics.BATCH_SIZE.labels(self.queue).observe(len(batch))
            except Exception as exc:  # noqa: BLE001 - reconnect and carry on; unacked events come back
                self.log.warning("saga_consumer_retry", queue=self.queue, error=repr(exc))
                if consumer is not None:
                    consumer.close()
                consumer = None
                time.sleep(1.0)
        if consumer is not None:
            consumer.close()
        self.log.info("saga_consumer_stopped", queue=self.queue)
