"""The rules consumer: ``python -m services.rules.consumer`` — a plain process (no eventlet)
consuming ``rules.cases`` (new, paid, answered and questioned cases), letting the tenant's
active rules act through ordinary case commands to submissions over RPC.

Idempotent: what the rules did for a batch of case events is saved with the tracking record
of its last event, in one transaction, before the batch is acked (a redelivered event does
nothing); the case commands are idempotent by the case's own state. Poison messages (malformed, a case that does not exist) go to
``rules.cases.dead`` (the shared saga loop); a submissions outage leaves them unacked.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

from services.common import logs, metrics
from services.common.amqp import BatchConsumer, Delivery, check_broker
from services.common.production import refuse_unsafe_start
from services.common.saga import Poison, SagaConsumer
from services.rules.application import RulesApp, open_rules
from services.rules.application.consuming import CaseCommands, CaseEventBatch

QUEUE = "rules.cases"
REMINDER_INTERVAL = 60.0  # seconds between rounds of due reminders (reminders are due by days)
log = logs.get_logger("rules-consumer")


class RpcCases:
    """Case commands to submissions over one standalone RPC proxy (reopened after an error)."""

    def __init__(self) -> None:
        self._proxy: Any = None
        self._cluster: Any = None

    def _submissions(self) -> Any:
        if self._cluster is None:
            from nameko.standalone.rpc import ClusterRpcProxy

            from services.common.config import nameko_config

            self._proxy = ClusterRpcProxy(nameko_config("rules-consumer"), timeout=30)
            self._cluster = self._proxy.start()
        return self._cluster.submissions

    def _call(self, method: str, *args: Any, service: str = "submissions") -> Any:
        from nameko.exceptions import RemoteError

        from services.common.nameko_deps import domain_error

        try:
            self._submissions()
            return getattr(getattr(self._cluster, service), method)(*args)
        except RemoteError as exc:
            raise domain_error(exc) or exc from None
        except Exception:
            self.close()  # a broken connection: the next call opens a new one
            raise

    def rule_facts(self, case_id: str) -> dict[str, Any]:
        return self._call("rule_facts", case_id)

    def decide_automatically(self, case_id: str, outcome: str, reason: str, rule: str) -> str:
        return self._call("decide_automatically", case_id, outcome, reason, rule)

    def assign(self, case_id: str, clerk: str, rule: str) -> str:
        self._call("act", case_id, "reassign", {"clerk": clerk}, rule)
        return "assigned"

    def send_reminder(self, reminder: dict[str, Any]) -> dict[str, int]:
        return self._call("send_reminder", reminder, service="notifications")

    def staff_with_role(self, tenant: str, role: str) -> list[dict[str, str]]:
        return self._call("staff_with_role", tenant, role, service="identity")

    def close(self) -> None:
        if self._proxy is not None:
            with contextlib.suppress(Exception):  # closing a broken proxy
                self._proxy.stop()
        self._proxy = self._cluster = None


class RulesConsumer(SagaConsumer):
    """The saga loop with one transaction per batch on the rules store: each message is
    handled (or parked) in order, then what the rules did and the tracking record of the
    last event are saved together, and only then is the batch acked. A transient error
    saves what was handled before it, acks that much and propagates."""

    def __init__(self, app: RulesApp, cases: CaseCommands) -> None:
        super().__init__(QUEUE, self._handle, "rules-consumer")
        self.app, self.cases = app, cases
        self.batch: CaseEventBatch | None = None

    def _handle(self, envelope: dict[str, Any]) -> str:
        if "aggregate_id" not in envelope or "event_id" not in envelope or "tenant" not in envelope:
            raise Poison("not a case integration event")
        assert self.batch is not None  # set by handle_batch
        return self.batch.consume(envelope, self.cases)

    def handle_batch(self, consumer: BatchConsumer, batch: list[Delivery]) -> None:
        self.batch = self.app.open_batch()
        done: Delivery | None = None
        try:
            for delivery in batch:
                self.handle_one(consumer, delivery)
                done = delivery
        finally:
            self.batch.commit()
            if done is not None:
                consumer.ack_through(done.delivery_tag)


def remind_forever(app: RulesApp, stop: threading.Event, interval: float = REMINDER_INTERVAL) -> None:
    """The reminder timer (a plain thread next to the consumer loop, with its own RPC proxy to
    submissions, notifications and identity — the overdue case's team leads):
    a failed round is logged and tried again next time (reminding.py makes that harmless)."""
    rpc = RpcCases()
    try:
        while not stop.wait(interval):
            try:
                counts = app.deliver_due(rpc, rpc, rpc)
                if counts:
                    log.info("reminders_delivered", **counts)
            except Exception as exc:  # noqa: BLE001 - the next round tries again; nothing is lost
                log.warning("reminders_failed", error=exc.__class__.__name__)
    finally:
        rpc.close()


def main() -> int:
    refuse_unsafe_start("rules-consumer")
    logs.configure("rules-consumer")
    check_broker()
    metrics.serve("rules-consumer")
    cases, app, stop = RpcCases(), open_rules(), threading.Event()
    threading.Thread(target=remind_forever, args=(app, stop), name="reminders", daemon=True).start()
    try:
        RulesConsumer(app, cases).run()
    finally:
        stop.set()
        cases.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
