"""Dead letters: the messages a consumer parked in ``<queue>.dead`` (services.common.amqp
``BatchConsumer.dead_letter``), listed, shown and re-driven into their queue by an operator.

Reading takes the messages without acknowledging them and closes the channel, so RabbitMQ
puts every one back; a redrive publishes a copy to the original queue with publisher
confirms and only then acknowledges the dead letter — a message is never in neither queue.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import amqp

from services.common.amqp import DEAD_LETTER_SUFFIX, QUEUES, connect, declare_queue

#: at most this many dead letters are read at once (a list is for a person)
LIMIT = 1000


@dataclass
class DeadLetter:
    queue: str  # the consumer's queue (the message goes back there)
    index: int  # its place in the dead-letter queue, from 1
    event_id: str
    type: str
    reason: str
    dead_at: str
    redriven: int  # how often it was re-driven before
    body: dict[str, Any]
    attempts: int = 1  # deliveries to the consumer before it was parked

    def summary(self) -> dict[str, Any]:
        return {key: getattr(self, key)
                for key in ("queue", "index", "event_id", "type", "reason", "dead_at", "attempts", "redriven")}


def queues() -> list[str]:
    return list(QUEUES)


def _parse(queue: str, index: int, message: amqp.Message) -> DeadLetter:
    headers = message.properties.get("application_headers") or {}
    # parked by our consumer (x-dead-reason), or by the broker after the queue's delivery-limit (x-death)
    death = (headers.get("x-death") or [{}])[0]
    broker_reason = f"broker: {death.get('reason')} (after {death.get('count')} deliveries)" if death else ""
    try:
        body = json.loads(message.body)
    except ValueError:
        body = {"_malformed": message.body if isinstance(message.body, str) else repr(message.body)}
    body = body if isinstance(body, dict) else {"_malformed": repr(body)}
    return DeadLetter(
        queue=queue, index=index, event_id=str(body.get("event_id") or message.properties.get("message_id") or ""),
        type=str(body.get("type") or ""), reason=str(headers.get("x-dead-reason") or broker_reason),
        dead_at=str(headers.get("x-dead-at") or death.get("time", "")), redriven=int(headers.get("x-redriven", 0)), body=body,
        attempts=int(headers.get("x-dead-attempts") or death.get("count") or 1),
    )


@contextlib.contextmanager
def _taken(queue: str, uri: str | None = None) -> Iterator[tuple[amqp.Channel, list[tuple[int, DeadLetter]]]]:
    """The dead letters of ``queue``, taken unacknowledged; whatever the caller does not ack
    goes back to the dead-letter queue when the channel closes."""
    if queue not in QUEUES:
        raise LookupError(f"unknown queue {queue!r}; one of: {', '.join(QUEUES)}")
    conn = connect(uri)
    try:
        channel = conn.channel()
        declare_queue(channel, queue + DEAD_LETTER_SUFFIX)
        taken: list[tuple[int, DeadLetter]] = []
        while len(taken) < LIMIT:
            message = channel.basic_get(queue + DEAD_LETTER_SUFFIX, no_ack=False)
            if message is None:
                break
            taken.append((message.delivery_info["delivery_tag"], _parse(queue, len(taken) + 1, message)))
        yield channel, taken
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def list_dead(queue: str, uri: str | None = None) -> list[DeadLetter]:
    with _taken(queue, uri) as (_, taken):
        return [letter for _, letter in taken]


def counts(uri: str | None = None) -> dict[str, int]:
    """Dead letters waiting per consumer queue."""
    conn = connect(uri)
    try:
        channel = conn.channel()
        return {queue: declare_queue(channel, queue + DEAD_LETTER_SUFFIX) for queue in QUEUES}
    finally:
        conn.close()


def find(queue: str, key: str, uri: str | None = None) -> DeadLetter:
    """One dead letter by its event id or its index in the list."""
    for letter in list_dead(queue, uri):
        if key in (letter.event_id, str(letter.index)):
            return letter
    raise LookupError(f"no dead letter {key!r} in {queue}{DEAD_LETTER_SUFFIX}")


def redrive(queue: str, select: Callable[[DeadLetter], bool] = lambda _: True, uri: str | None = None) -> list[DeadLetter]:
    """Publish the selected dead letters to ``queue`` again (persistent, confirmed), then
    acknowledge them in the dead-letter queue; returns those re-driven."""
    done: list[DeadLetter] = []
    with _taken(queue, uri) as (channel, taken):
        for tag, letter in taken:
            if not select(letter):
                continue
            message = amqp.Message(
                json.dumps(letter.body, separators=(",", ":"), default=str), content_type="application/json",
                delivery_mode=2, message_id=letter.event_id, type=letter.type,
                application_headers={"x-redriven": letter.redriven + 1, "x-last-dead-reason": letter.reason[:500]},
            )
            channel.basic_publish_confirm(message, exchange="", routing_key=queue)
            channel.basic_ack(tag)
            done.append(letter)
    return done
