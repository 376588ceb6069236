"""The outbox relay: reads an event store's notification log from a tracked position and
publishes integration events to RabbitMQ with publisher confirms.

The position is saved only after the broker confirmed the whole batch, so a crash
re-publishes (at-least-once) and never skips. Runs in a plain process (no eventlet).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.common import logs, metrics, shutdown
from services.common.amqp import ConfirmingPublisher, check_broker, queue_depths
from services.common.db import ReadStore
from services.common.production import refuse_unsafe_start

Mapper = Callable[[Application, Notification], "dict[str, Any] | None"]

POSITION_DDL = "CREATE TABLE IF NOT EXISTS relay_position (source TEXT PRIMARY KEY, position BIGINT NOT NULL)"


class Relay:
    DEPTH_INTERVAL = 5.0  # s between readings of the queue depths (vr_queue_depth_messages)
    LAG_INTERVAL = 1.0  # s between readings of the head for vr_relay_lag_events (unless a batch was full)

    def __init__(self, app: Application, store: ReadStore, mapper: Mapper, source: str, batch_size: int = 500):
        self.app = app
        self.store = store
        self.mapper = mapper
        self.source = source
        self.batch_size = batch_size
        self.running = True
        self.log = logs.get_logger("relay")
        store.executescript(POSITION_DDL)
        self._position: int | None = None  # this process is the only writer: read once
        self._lag_read_at = 0.0

    def position(self) -> int:
        if self._position is None:
            rows = self.store.query("SELECT position FROM relay_position WHERE source = ?", (self.source,))
            self._position = int(rows[0][0]) if rows else 0
        return self._position

    def save_position(self, position: int) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO relay_position (source, position) VALUES (?, ?) "
                "ON CONFLICT (source) DO UPDATE SET position = excluded.position",
                (self.source, position),
            )
        self._position = position

    def run_once(self, publisher: ConfirmingPublisher) -> int:
        """Publish the next batch; return how many notifications were handled."""
        start = self.position()
        notifications = self.app.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            metrics.RELAY_LAG.labels(self.source).set(0)
            return 0
        envelopes = [e for n in notifications if (e := self.mapper(self.app, n)) is not None]
        publisher.publish_batch(envelopes)
        last = notifications[-1].id
        self.save_position(last)
        metrics.EVENTS_RELAYED.labels(self.source).inc(len(envelopes))
        metrics.RELAY_POSITION.labels(self.source).set(last)
        metrics.BATCH_SIZE.labels("relay").observe(len(envelopes))
        # one query less per batch: under load the batches are small and many
        if len(notifications) >= self.batch_size or time.monotonic() - self._lag_read_at > self.LAG_INTERVAL:
            metrics.RELAY_LAG.labels(self.source).set(max((self.app.recorder.max_notification_id() or 0) - last, 0))
            self._lag_read_at = time.monotonic()
        return len(notifications)

    def run(self, idle_sleep: float = 0.01) -> None:
        shutdown.on_terminate(self.stop, f"relay-{self.source}")
        publisher = None
        last_depths = 0.0
        self.log.info("relay_started", source=self.source, position=self.position())
        while self.running:
            try:
                if publisher is None:
                    publisher = ConfirmingPublisher()
                if self.run_once(publisher) < self.batch_size:  # idle, or a small batch: let more gather
                    time.sleep(idle_sleep)
                if time.monotonic() - last_depths > self.DEPTH_INTERVAL:
                    queue_depths(publisher.channel)
                    last_depths = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the relay must outlive broker and DB hiccups
                self.log.warning("relay_retry", error=repr(exc))
                if publisher is not None:
                    publisher.close()
                publisher = None
                time.sleep(1.0)
        if publisher is not None:
            publisher.close()
        self.log.info("relay_stopped", source=self.source, position=self.position())

    def stop(self) -> None:
        self.running = False


def main(process: str, open_app: Callable[[], Application], source: str, mapper: Mapper) -> int:
    """The whole relay process of one service (``python -m services.<service>.relay``): its
    application factory, its notification mapper, ``source`` = the service (read store and
    position). One entry point, so every relay starts, refuses and reports alike."""
    refuse_unsafe_start(process)
    logs.configure(process)
    check_broker()
    metrics.serve(process)
    Relay(open_app(), ReadStore(source), mapper, source=source).run()
    return 0
