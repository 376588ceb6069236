"""The KPI projector: a plain (non-eventlet) process that folds case, draft and payment
integration events from queue ``insights.kpis`` into the KPI read model.

    python -m services.insights.projector

Each batch is folded in one transaction and acked after the commit; the rows are keyed by
aggregate or event, so a redelivered batch changes nothing. A malformed message goes to
``insights.kpis.dead``. The rebuild reads the other services' event stores and therefore
lives in the operator CLI (``python -m services.ops rebuild-kpis``), not here.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from services.common import logs, metrics, shutdown
from services.common.amqp import BatchConsumer, Delivery, check_broker
from services.common.batches import fold_or_park
from services.common.db import ReadStore
from services.common.production import refuse_unsafe_start
from services.insights.projections import KpiReadModel

QUEUE = "insights.kpis"
PROCESS = "insights-projector"


class KpiProjector:
    def __init__(self) -> None:
        self.running = True
        self.model = KpiReadModel(ReadStore("insights"))
        self.log = logs.get_logger(PROCESS)

    def stop(self, *_: Any) -> None:
        """SIGTERM: finish the batch in hand, ack it, close the connections, exit."""
        self.running = False

    def handle(self, consumer: BatchConsumer, batch: list[Delivery]) -> None:
        good = []
        for delivery in batch:
            body = delivery.body if isinstance(delivery.body, dict) else {}
            if "_malformed" in body or not all(k in body for k in ("type", "tenant", "aggregate_id", "occurred_at")):
                self.log.error("malformed_event_dead_lettered", type=body.get("type"), keys=sorted(body)[:20])
                consumer.dead_letter(body, "malformed event: not an integration event", delivery)
                continue
            good.append(delivery)
        applied = fold_or_park(consumer, good, self.model.apply, self.log)
        consumer.ack_through(batch[-1].delivery_tag)
        metrics.PROJECTION_APPLIED.labels("kpis", "applied").inc(applied)
        metrics.PROJECTION_APPLIED.labels("kpis", "skipped").inc(len(batch) - applied)
        metrics.BATCH_SIZE.labels(PROCESS).observe(len(batch))

    def run(self) -> None:
        shutdown.on_terminate(self.stop, PROCESS)
        consumer = None
        self.log.info("kpi_projector_started", queue=QUEUE)
        while self.running:
            try:
                if consumer is None:
                    consumer = BatchConsumer(QUEUE, prefetch=500)
                batch = consumer.next_batch(max_size=500, wait=0.2)
                if batch:
                    self.handle(consumer, batch)
            except Exception as exc:  # noqa: BLE001 - reconnect and carry on; unacked events come back
                self.log.warning("kpi_projector_retry", error=repr(exc))
                if consumer is not None:
                    consumer.close()
                consumer = None
                self.model.store.close()
                time.sleep(1.0)
        if consumer is not None:
            consumer.close()
        self.model.close()
        self.log.info("kpi_projector_stopped")


def main() -> int:
    refuse_unsafe_start(PROCESS)
    logs.configure(PROCESS)
    check_broker()
    metrics.serve(PROCESS)
    KpiProjector().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
