"""Monitoring of the running platform: every process's vr_ metrics are in the one list
(contracts/metrics.yaml), and a real Prometheus with the rules of deploy/prometheus scrapes
every process and finds the key series."""

from __future__ import annotations

import uuid

import httpx
from prometheus_client.parser import text_string_to_metric_families

from services.common.contracts import metric_catalog
from tests.e2e.conftest import VECHTA, eventually
from tests.examples import form
from tests.support import Platform


def exported(text: str) -> dict[str, set[str]]:
    """vr_ metric names as exported (a counter with its _total) and the label names seen."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        name = family.name + "_total" if family.type == "counter" else family.name
        if name.startswith("vr_"):
            labels = found.setdefault(name, set())
            for sample in family.samples:
                labels.update(set(sample.labels) - {"le", "quantile"})
    return found


def submit(citizen: httpx.Client) -> None:
    response = citizen.post(
        f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text


def scrape_all(running: Platform) -> dict[str, dict[str, set[str]]]:
    return {
        name: exported(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text)
        for name, port in running.metrics_ports.items() if name in running.procs and name != "mail-sink"
    }


def test_every_vr_metric_of_every_process_is_in_the_list(running: Platform, citizen: httpx.Client) -> None:
    submit(citizen)
    # the relay reads the queue depths every few seconds; the projector its lag every second
    eventually(lambda: "vr_queue_depth_messages" in scrape_all(running)["relay"], timeout=20)
    catalog = metric_catalog()
    scraped = scrape_all(running)
    for process, metrics in scraped.items():
        for name, labels in metrics.items():
            assert name in catalog, f"{process} exports {name}, which contracts/metrics.yaml does not list"
            assert labels <= set(catalog[name]["labels"]), f"{process}: {name} has labels {labels}"
    seen = set().union(*scraped.values())
    for name in ("vr_http_request_seconds", "vr_entrypoint_seconds", "vr_events_relayed_total", "vr_relay_lag_events",
                 "vr_projection_lag_events", "vr_projection_lag_seconds", "vr_queue_depth_messages",
                 "vr_db_connections", "vr_notifications_oldest_pending_seconds", "vr_saga_messages_total"):
        assert name in seen, f"no process exports {name}"
