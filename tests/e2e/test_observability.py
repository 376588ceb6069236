"""Every process (but the development mail sink) exposes Prometheus metrics; one correlation id travels from HTTP into the
stored event and the integration event."""

from __future__ import annotations

import uuid

import httpx

from services.common import health
from tests.e2e.conftest import VECHTA, eventually
from tests.examples import form
from tests.support import Platform

EXPECTED = {
    "gateway": ["vr_http_request_seconds_bucket", "vr_batch_size_messages_bucket"],
    "catalog": ["vr_entrypoint_seconds_bucket"],
    "identity": ["vr_entrypoint_seconds_bucket"],
    "submissions": ["vr_entrypoint_seconds_bucket", "vr_batch_size_messages_bucket"],
    "relay": ["vr_events_relayed_total", "vr_relay_position_events"],
    "projector": ["vr_projection_lag_events", "vr_projection_events_total"],
    "psp_simulator": ["vr_psp_sim_webhooks_pending_messages"],
    # the submission's confirmation mail: consumed, attempted, and the pending gauges set
    "notifications": ['vr_notifications_attempts_total{channel="email"', "vr_notifications_oldest_pending_seconds",
                      'vr_notifications_pending_messages{status="created"}',
                      'vr_notifications_pending_messages{status="deferred"}', "vr_notifications_deferred_total"],
    "notifications-consumer": ['vr_projection_events_total{projection="notifications",result="applied"}'],
}


def test_every_process_exposes_its_metrics(running: Platform, citizen: httpx.Client) -> None:
    case = citizen.post(
        f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert case.status_code == 201

    def scrape(name: str) -> str:
        return httpx.get(f"http://127.0.0.1:{running.metrics_ports[name]}/metrics", timeout=5).text

    for name, metrics in EXPECTED.items():
        eventually(lambda name=name, metrics=metrics: all(m in scrape(name) for m in metrics), timeout=20)
    assert 'route="submit_case"' in scrape("gateway")
    # readiness with each process's dependencies (services/common/health.py), used by the k8s probes
    for name, port in running.metrics_ports.items():
        if name in running.procs and name != "mail-sink":
            ready = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=10)
            assert ready.status_code == 200, (name, ready.text)
            assert set(ready.json()["checks"]) == set(health.dependencies(name)), (name, ready.text)
            assert httpx.get(f"http://127.0.0.1:{port}/live", timeout=5).status_code == 200
    lag = [line for line in scrape("projector").splitlines() if line.startswith("vr_projection_lag_events{")]
    assert lag and all(float(line.rsplit(" ", 1)[1]) >= 0 for line in lag)


def test_the_correlation_id_reaches_the_stored_event_and_the_logs(running: Platform, citizen: httpx.Client) -> None:
    correlation = f"trace-{uuid.uuid4().hex[:12]}"
    response = citizen.post(
        f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
        headers={"Idempotency-Key": uuid.uuid4().hex, "X-Correlation-ID": correlation},
    )
    assert response.status_code == 201 and response.headers["X-Correlation-ID"] == correlation
    # gateway and submissions both log the request under the caller's id
    for name in ("gateway", "submissions"):
        eventually(lambda name=name: correlation in running.tail(name, 5_000_000), timeout=10)
