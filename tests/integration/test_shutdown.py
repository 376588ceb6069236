"""Bounded SIGTERM of a plain process under load (services/common/shutdown.py): the KPI
projector, in the middle of 5,000 events, stops consuming, commits the batch in hand,
closes its connections and exits 0 within SHUTDOWN_SECONDS; started again, it folds the
rest — not one event lost, none counted twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

from services.common.amqp import QUEUES, ConfirmingPublisher
from services.common.db import ReadStore
from tests import support
from tests.support import eventually

EVENTS = 5_000
BOUND = 10


def envelopes() -> list[dict]:
    return [{
        "event_id": str(uuid.uuid4()), "type": "case.submitted.v1", "occurred_at": "2026-11-02T08:00:00+00:00",
        "tenant": "03460009", "service_id": "hundeanmeldung", "aggregate_id": str(uuid.uuid4()), "aggregate_version": 1,
        "position": n + 1, "actor": "x", "correlation_id": "c",
        "data": {"submitted_at": "2026-11-02T08:00:00+00:00", "processing_days": 14},
    } for n in range(EVENTS)]


def folded() -> int:
    store = ReadStore("insights")
    try:
        return int(store.query("SELECT COUNT(*) FROM kpi_cases")[0][0])
    except Exception:  # noqa: BLE001 - the projector has not created its tables yet
        return 0
    finally:
        store.close()


def start(env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "services.insights.projector"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_sigterm_under_load_exits_0_within_the_bound_and_loses_nothing(postgres) -> None:
    uri = support.fresh_vhost("vr_shutdown")
    publisher = ConfirmingPublisher(uri, queues={"insights.kpis": QUEUES["insights.kpis"]})
    events = envelopes()
    for start_at in range(0, EVENTS, 1000):
        publisher.publish_batch(events[start_at:start_at + 1000])
    publisher.close()
    env = {**os.environ, "AMQP_URI": uri, "METRICS_PORT": "0", "SHUTDOWN_SECONDS": str(BOUND),
           "PYTHONPATH": str(support.ROOT), "PYTHONWARNINGS": "ignore::DeprecationWarning"}

    first = start(env)
    eventually(lambda: folded() > 0, timeout=60, interval=0.05)  # under way
    first.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    code = first.wait(timeout=BOUND + 5)
    _, err = first.communicate()
    assert code == 0, err[-3000:]
    assert time.monotonic() - sent <= BOUND, "the shutdown bound was exceeded"
    assert "shutdown_requested" in err and "kpi_projector_stopped" in err
    stopped_at = folded()
    assert 0 < stopped_at < EVENTS, f"{stopped_at} folded: the signal did not come in the middle of the work"

    second = start(env)
    try:
        eventually(lambda: folded() == EVENTS, timeout=120, interval=0.2)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=BOUND + 5) == 0

