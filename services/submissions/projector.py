"""The submissions projector: a plain (non-eventlet) process that folds case events from
RabbitMQ into the worklist and case-status read models, plus the rebuild command.

    python -m services.submissions.projector run
    python -m services.submissions.projector rebuild [--projection worklist|case_status|all] [--tenant AGS]
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from services.common import logs, metrics, shutdown
from services.common.amqp import BatchConsumer, Delivery, check_broker
from services.common.batches import fold_or_park
from services.common.db import ReadStore
from services.common.partitions import encode_position, partition_of_position
from services.common.production import refuse_unsafe_start
from services.submissions.partitioning import CaseStore, open_case_store
from services.submissions.projections import PROJECTIONS, CaseReadModels
from services.submissions.reading import envelopes_from_store

QUEUE = "submissions.projections"
#: Seconds a batch gathers after its first event: under load one read-model transaction
#: (and one ack) covers tens of events instead of a few; the worklist shows them that much later.
LINGER = 0.02


def rebuild(projection: str = "all", tenant: str | None = None, progress: bool = True) -> int:
    """Refold the read models from every case partition (a tenant's cases may lie in more than
    one, if the partition map changed: each case is in the partition its id names)."""
    store = open_case_store()
    models = CaseReadModels(ReadStore("submissions"))
    heads = {app.partition: app.recorder.max_notification_id() or 0 for app in store.apps}
    projections = PROJECTIONS if projection == "all" else (projection,)
    envelopes = (e for app in store.apps for e in envelopes_from_store(app, heads[app.partition], progress, tenant))
    count = models.rebuild(envelopes, projections, tenant=tenant, head=heads)
    logs.get_logger("projector").info(
        "projection_rebuilt", projections=list(projections), tenant=tenant, events=count, heads=heads
    )
    store.close()
    models.close()
    return count


def count_case_event(body: dict[str, Any]) -> None:
    """``vr_case_events_total{tenant, event}``: ``case.submitted.v1`` counts as ``submitted``."""
    parts = str(body.get("type", "")).split(".")
    if len(parts) == 3 and body.get("tenant"):
        metrics.CASE_EVENTS.labels(str(body["tenant"]), parts[1]).inc()


class Projector:
    def __init__(self, cases: CaseStore | None = None, models: CaseReadModels | None = None) -> None:
        self.running = True
        self.cases = cases or open_case_store()
        self.models = models or CaseReadModels(ReadStore("submissions"))
        self.log = logs.get_logger("projector")

    def stop(self, *_: Any) -> None:
        self.running = False

    def update_lag(self) -> None:
        """Per projection and partition: the partition's head against the tracked position."""
        heads = [encode_position(app.partition, app.recorder.max_notification_id() or 0) for app in self.cases.apps]
        for projection, position in self.models.positions().items():
            partition = partition_of_position(position)
            if partition < len(heads):
                metrics.observe_projection(projection, heads[partition], position)

    def handle(self, consumer: BatchConsumer, batch: list[Delivery]) -> None:
        """Fold one batch in one transaction, then ack it; malformed events and, after
        ``MAX_ATTEMPTS`` failed deliveries, an event that keeps failing are parked."""
        good = []
        for delivery in batch:
            if "_malformed" in delivery.body or "aggregate_id" not in delivery.body:
                body = delivery.body if isinstance(delivery.body, dict) else {}
                # never the body itself: an event's data may hold form contents
                self.log.error("malformed_event_dead_lettered", type=body.get("type"), keys=sorted(body)[:20])
                consumer.dead_letter(body, "malformed event: no aggregate_id", delivery)
                continue
            good.append(delivery)
            if not delivery.redelivered:  # a redelivered event was counted before
                count_case_event(delivery.body)
        applied = fold_or_park(consumer, good, self.models.apply, self.log)
        consumer.ack_through(batch[-1].delivery_tag)
        metrics.PROJECTION_APPLIED.labels("case", "applied").inc(applied)
        metrics.PROJECTION_APPLIED.labels("case", "skipped").inc(len(batch) - applied)
        metrics.BATCH_SIZE.labels("projector").observe(len(batch))
        for delivery in good[:1]:
            logs.bind_correlation_id(delivery.body.get("correlation_id"))
            self.log.debug("batch_applied", events=len(batch), applied=applied)

    def run(self) -> None:
        shutdown.on_terminate(self.stop, "projector")
        consumer = None
        last_lag = 0.0
        self.log.info("projector_started", queue=QUEUE)
        while self.running:
            try:
                if consumer is None:
                    consumer = BatchConsumer(QUEUE)
                batch = consumer.next_batch(max_size=500, wait=0.2, linger=LINGER)
                if batch:
                    self.handle(consumer, batch)
                if time.monotonic() - last_lag > 1.0:
                    self.update_lag()
                    last_lag = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - reconnect and carry on; unacked events come back
                self.log.warning("projector_retry", error=repr(exc))
                if consumer is not None:
                    consumer.close()
                consumer = None
                self.models.store.close()
                time.sleep(1.0)
        if consumer is not None:
            consumer.close()
        self.log.info("projector_stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.submissions.projector")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="fold events from RabbitMQ into the read models")
    rb = sub.add_parser("rebuild", help="drop and rebuild read models from the event store")
    rb.add_argument("--projection", choices=("all", *PROJECTIONS), default="all")
    rb.add_argument("--tenant", help="only this tenant (AGS)")
    args = parser.parse_args(argv)
    refuse_unsafe_start("projector")
    logs.configure("projector")
    if args.command == "rebuild":
        count = rebuild(args.projection, args.tenant)
        print(f"rebuilt {args.projection} from {count} events" + (f" for tenant {args.tenant}" if args.tenant else ""))
        return 0
    check_broker()
    metrics.serve("projector")
    Projector().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
