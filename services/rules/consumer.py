"""The rules consumer: ``python -m services.rules.consumer`` — a plain process (no eventlet)
consuming ``rules.cases`` (new, paid, answered and questioned cases), letting the tenant's
active rules act through ordinary case commands to submissions over RPC.

Idempotent: the tracking record of each case event is saved with what the rules did, in one
transaction (a redelivered event does nothing); the case commands are idempotent by the
case's own state. Poison messages (malformed, a case that does not exist) go to
``rules.cases.dead`` (the shared saga loop); a submissions outage leaves them unacked.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

from services.common import logs, metrics
from services.common.amqp import check_broker
from services.common.production import refuse_unsafe_start
from services.common.saga import Handler, Poison, SagaConsumer
from services.rules.application import RulesApp, open_rules
from services.rules.application.consuming import CaseCommands

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


def rules_handler(app: RulesApp, cases: CaseCommands) -> Handler:
    def handle(envelope: dict[str, Any]) -> str:
        if "aggregate_id" not in envelope or "event_id" not in envelope or "tenant" not in envelope:
            raise Poison("not a case integration event")
        return app.consume(envelope, cases)

    return handle


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
        SagaConsumer(QUEUE, rules_handler(app, cases), "rules-consumer").run()
    finally:
        stop.set()
        cases.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
