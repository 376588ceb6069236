"""RabbitMQ plumbing for plain (non-eventlet) processes: topology, confirmed publishing,
batched consuming. nameko services use their own connections; this module is for the
relay and the projectors, which run outside eventlet.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

import amqp

from services.common import config, health, metrics

EXCHANGE = "vr.events"

# Every consumer queue and what it binds to. Declared (durable) by the relay before it
# publishes anything, and by each consumer, so that no event is published into the void.
QUEUES: dict[str, list[str]] = {
    "submissions.projections": ["case.#"],
    # the payment saga: payments opens and closes a case's receivable, submissions records the fee paid
    "payments.saga": ["case.submitted.v1", "case.approved.v2", "case.rejected.v2", "case.withdrawn.v2"],
    "submissions.payments": ["payment.succeeded.v1"],
    "notifications.events": [  # services/notifications/kinds.py: what a citizen hears about
        "case.submitted.v1", "case.information_requested.v2", "case.approved.v2", "case.rejected.v2",
        "case.withdrawn.v2", "case.reassigned.v1", "case.payment_requested.v1", "case.payment_received.v1",
        "payment.failed.v1", "payment.refunded.v1", "case.automatic_decision_reversed.v1",
    ],
    # services/rules/domain/evaluation.py TRIGGERS: the case events rules act on
    "rules.cases": [
        "case.submitted.v1", "case.payment_received.v1", "case.information_supplied.v1",
        "case.information_requested.v2",
    ],
    # usage and acceptance KPIs (services/insights): what a case, a draft and a payment went through
    "insights.kpis": ["case.#", "draft.#", "payment.#"],
    # services/handover: a decided case is offered to its authority's back-office system
    "handover.cases": ["case.approved.v2", "case.rejected.v2"],
}

#: A consumer's poison messages (those it can never handle) go to ``<queue>.dead``, kept for a person.
DEAD_LETTER_SUFFIX = ".dead"
#: A message whose handling failed this often (a transient error each time: the database, a
#: service not answering) is parked in the dead-letter queue too, not retried forever.
MAX_ATTEMPTS = 5
#: Deliveries seen per message id in this process (classic queues count no deliveries; a
#: quorum queue's ``x-delivery-count`` is used where there is one). Bounded: oldest dropped.
_ATTEMPTS: dict[str, int] = {}
_ATTEMPTS_KEPT = 10_000

BROKER_HINT = (
    "RabbitMQ is not reachable at {where}: start it with `rabbitmq-server -detached` "
    "(or `sudo systemctl start rabbitmq-server`), or set AMQP_URI to a running broker."
)


class BrokerUnavailable(SystemExit):
    pass


def _params(uri: str) -> dict[str, Any]:
    parsed = urlparse(uri)
    vhost = unquote(parsed.path[1:]) if parsed.path and parsed.path != "/" else "/"
    return {
        "host": f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 5672}",
        "userid": unquote(parsed.username or "guest"),
        "password": unquote(parsed.password or "guest"),
        "virtual_host": vhost,
    }


def connect(uri: str | None = None, heartbeat: int = 0, connect_timeout: float = 5) -> amqp.Connection:
    uri = uri or config.amqp_uri()
    conn = amqp.Connection(**_params(uri), heartbeat=heartbeat, connect_timeout=connect_timeout)
    conn.connect()
    return conn


def check_broker(uri: str | None = None) -> None:
    """Fail fast, in one sentence, when RabbitMQ cannot be reached."""
    uri = uri or config.amqp_uri()
    try:
        connect(uri).close()
    except (TimeoutError, OSError, amqp.exceptions.AMQPError) as exc:
        where = urlparse(uri).hostname or uri
        port = urlparse(uri).port or 5672
        message = BROKER_HINT.format(where=f"{where}:{port}") + f" ({exc.__class__.__name__})"
        print(message, file=sys.stderr)
        raise BrokerUnavailable(2) from exc


def declare_queue(channel: amqp.Channel, name: str) -> int:
    """Declare a durable event queue (idempotent; with ``AMQP_QUEUE_TYPE`` if set, e.g.
    quorum queues on a cluster); returns the messages ready in it."""
    queue_type = config.settings().amqp_queue_type
    arguments = {"x-queue-type": queue_type} if queue_type else None
    return channel.queue_declare(name, durable=True, auto_delete=False, arguments=arguments)[1]


def declare_topology(channel: amqp.Channel, queues: dict[str, list[str]] | None = None) -> None:
    """The exchange, each queue with its bindings, and each queue's dead-letter queue (so an
    operator finds it, empty, before the first poison message)."""
    channel.exchange_declare(EXCHANGE, "topic", durable=True, auto_delete=False)
    for queue, keys in (queues or QUEUES).items():
        declare_queue(channel, queue)
        declare_queue(channel, queue + DEAD_LETTER_SUFFIX)
        for key in keys:
            channel.queue_bind(queue, EXCHANGE, routing_key=key)


def queue_depths(channel: amqp.Channel, queues: Iterable[str] | None = None) -> dict[str, int]:
    """Ready messages of every consumer queue and its dead-letter queue (an idempotent
    re-declaration answers with the count), also set as ``vr_queue_depth_messages``."""
    depths: dict[str, int] = {}
    for queue in queues if queues is not None else QUEUES:
        for name in (queue, queue + DEAD_LETTER_SUFFIX):
            depths[name] = count = declare_queue(channel, name)
            metrics.QUEUE_DEPTH.labels(name).set(count)
    return depths


class ConfirmingPublisher:
    """Publishes a batch of events persistently and returns only once the broker
    confirmed every one of them (publisher confirms, acks counted by delivery tag)."""

    def __init__(self, uri: str | None = None, queues: dict[str, list[str]] | None = None):
        self.conn = connect(uri)
        self.channel = self.conn.channel()
        declare_topology(self.channel, queues)
        self.channel.confirm_select()
        self._published = 0
        self._acked = 0
        self._nacked = False
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._acked = max(self._acked, delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True

    def publish_batch(self, events: Iterable[dict[str, Any]], timeout: float = 30.0) -> int:
        count = 0
        for envelope in events:
            message = amqp.Message(
                json.dumps(envelope, separators=(",", ":"), default=str),
                content_type="application/json",
                delivery_mode=2,
                message_id=envelope["event_id"],
                type=envelope["type"],
                correlation_id=envelope.get("correlation_id") or "",
            )
            self.channel.basic_publish(message, exchange=EXCHANGE, routing_key=envelope["type"])
            count += 1
        self._published += count
        deadline = time.monotonic() + timeout
        while self._acked < self._published:
            if self._nacked:
                raise RuntimeError("broker refused (nacked) a published event")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("broker did not confirm the published events in time")
            try:
                self.conn.drain_events(timeout=min(remaining, 1.0))
            except TimeoutError:
                continue
        return count

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a broken connection
            self.conn.close()


def _publish_dead(channel: amqp.Channel, queue: str, body: dict[str, Any], reason: str, confirm: bool = False,
                  attempts: int = 1, redriven: int = 0) -> None:
    dead = queue + DEAD_LETTER_SUFFIX
    declare_queue(channel, dead)
    message = amqp.Message(
        json.dumps(body, separators=(",", ":"), default=str), content_type="application/json",
        delivery_mode=2, message_id=str(body.get("event_id") or ""),
        application_headers={"x-dead-reason": reason[:500], "x-dead-queue": queue,
                             "x-dead-at": datetime.now(UTC).isoformat(timespec="seconds"),
                             "x-dead-attempts": attempts, "x-redriven": redriven},
    )
    if confirm:
        channel.basic_publish_confirm(message, exchange="", routing_key=dead, confirm_timeout=10)
    else:
        channel.basic_publish(message, exchange="", routing_key=dead)
    metrics.DEAD_LETTERS.labels(queue).inc()


def park_dead_letter(queue: str, body: dict[str, Any], reason: str, uri: str | None = None) -> None:
    """Park ``body`` in ``<queue>.dead`` from outside a consumer (e.g. work given up on after
    its retries), confirmed by the broker before this returns."""
    conn = connect(uri)
    try:
        _publish_dead(conn.channel(), queue, body, reason, confirm=True)
    finally:
        with contextlib.suppress(Exception):
            conn.close()


@dataclass
class Delivery:
    delivery_tag: int
    body: dict[str, Any]
    redelivered: bool
    attempts: int = 1  # this delivery included
    headers: dict[str, Any] = field(default_factory=dict)


def count_attempt(message_id: str, headers: dict[str, Any], redelivered: bool) -> int:
    """How often this message has been delivered, this time included."""
    if "x-delivery-count" in headers:  # quorum queues: deliveries before this one
        return int(headers["x-delivery-count"]) + 1
    if not message_id:
        return 2 if redelivered else 1
    count = _ATTEMPTS.pop(message_id, 0) + 1
    _ATTEMPTS[message_id] = count  # re-inserted: the newest last
    if len(_ATTEMPTS) > _ATTEMPTS_KEPT:
        del _ATTEMPTS[next(iter(_ATTEMPTS))]
    return max(count, 2 if redelivered else 1)


class BatchConsumer:
    """Takes messages from one queue in batches; the caller acks after its commit."""

    def __init__(self, queue: str, uri: str | None = None, prefetch: int = 1000):
        self.queue = queue
        self.conn = connect(uri)
        self.channel = self.conn.channel()
        declare_topology(self.channel, {queue: QUEUES.get(queue, [])})
        self.channel.basic_qos(0, prefetch, False)
        self._buffer: list[Delivery] = []
        self.channel.basic_consume(queue, callback=self._on_message)
        self.prefetch = prefetch

    def _on_message(self, message: amqp.Message) -> None:
        try:
            body = json.loads(message.body)
        except ValueError:
            body = {"_malformed": message.body if isinstance(message.body, str) else repr(message.body)}
        redelivered = bool(message.delivery_info.get("redelivered"))
        if redelivered:
            metrics.REDELIVERIES.labels(self.queue).inc()
        headers = dict(message.properties.get("application_headers") or {})
        message_id = str(message.properties.get("message_id") or (body.get("event_id") if isinstance(body, dict) else "") or "")
        attempts = count_attempt(message_id, headers, redelivered)
        self._buffer.append(Delivery(message.delivery_info["delivery_tag"], body, redelivered, attempts, headers))

    def next_batch(self, max_size: int = 500, wait: float = 0.2, linger: float = 0.0) -> list[Delivery]:
        """Wait up to ``wait`` seconds for the first message, then up to ``linger`` seconds
        more for others (under load: fewer, larger transactions), then take what is buffered."""
        deadline = time.monotonic() + wait
        full_by: float | None = None  # when the first message was there: stop gathering at this time
        while len(self._buffer) < max_size:
            now = time.monotonic()
            if self._buffer and full_by is None:
                full_by = now + linger
            remaining = (full_by if full_by is not None else deadline) - now
            try:
                self.conn.drain_events(timeout=max(remaining, 0.001))
            except TimeoutError:
                if (self._buffer and time.monotonic() >= (full_by or 0.0)) or time.monotonic() >= deadline:
                    break
        batch, self._buffer = self._buffer[:max_size], self._buffer[max_size:]
        return batch

    def dead_letter(self, body: dict[str, Any], reason: str, delivery: Delivery | None = None) -> None:
        """Park a message this consumer can never handle in ``<queue>.dead`` (persistent),
        with the reason, how often it was delivered (``x-dead-attempts``) and how often an
        operator re-drove it before (``x-redriven``); the caller acks the original after this returned."""
        _publish_dead(self.channel, self.queue, body, reason, attempts=delivery.attempts if delivery else 1,
                      redriven=int((delivery.headers if delivery else {}).get("x-redriven", 0)))

    def ack_through(self, delivery_tag: int) -> None:
        self.channel.basic_ack(delivery_tag, multiple=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def _ready() -> None:
    """The readiness check ``broker`` (services/common/health.py): a login that closes."""
    connect(heartbeat=0).close()


health.CHECKS["broker"] = _ready
