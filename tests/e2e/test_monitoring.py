"""Monitoring of the running platform: every process's vr_ metrics are in the one list
(contracts/metrics.yaml), and a real Prometheus with the rules of deploy/prometheus scrapes
every process and finds the key series."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.common.contracts import metric_catalog
from tests.e2e.conftest import VECHTA, eventually
from tests.examples import form
from tests.support import ROOT, Platform, free_port

PROMETHEUS = ROOT / "deploy" / "prometheus"


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


def prometheus_config(running: Platform, rules: Path) -> dict:
    """deploy/prometheus/prometheus.yml with the test platform's ports and a 1 s interval."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules / "*.yml")]
    config["scrape_configs"] = [
        {"job_name": job["job_name"],
         "static_configs": [{"targets": [f"127.0.0.1:{running.metrics_ports[job['job_name']]}"]}]}
        for job in config["scrape_configs"] if job["job_name"] in running.procs
    ]
    return config


@contextmanager
def prometheus(running: Platform, tmp: Path) -> Iterator[str]:
    """A real Prometheus (Debian's package) on a free port with its own storage, scraping the platform."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: `make system-deps` installs Debian's prometheus package"
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(prometheus_config(running, PROMETHEUS / "rules")), encoding="utf-8")
    port = free_port()
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [binary, f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(base: str, promql: str) -> list[dict]:
    try:
        response = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.HTTPError:
        return []
    return response.json()["data"]["result"] if response.status_code == 200 else []


def test_a_real_prometheus_scrapes_every_process_and_loads_the_alerts(
    running: Platform, citizen: httpx.Client, tmp_path: Path,
) -> None:
    submit(citizen)
    with prometheus(running, tmp_path) as base:
        jobs = {name for name in running.procs if name != "mail-sink"}
        eventually(lambda: {r["metric"]["job"] for r in query(base, "up == 1")} >= jobs, timeout=60)
        for series in ("vr_http_request_seconds_count", "vr_entrypoint_seconds_count", "vr_events_relayed_total",
                       "vr_projection_lag_events", "vr_projection_lag_seconds", "vr_queue_depth_messages",
                       "vr_relay_lag_events", "vr_notifications_oldest_pending_seconds", "vr_disk_available_bytes"):
            eventually(lambda series=series: query(base, series), timeout=30)
        assert {r["metric"]["queue"] for r in query(base, "vr_queue_depth_messages")} >= {
            "submissions.projections", "submissions.projections.dead", "payments.saga.dead"}
        rules = httpx.get(f"{base}/api/v1/rules", timeout=5).json()["data"]["groups"]
        loaded = {rule["name"] for group in rules for rule in group["rules"]}
        assert {"VrProjectionLagging", "VrRelayStalled", "VrDeadLetters", "VrDiskAlmostFull"} <= loaded
