"""The deployment in deploy/: compose.yaml and the Kubernetes manifests are deploy/manifests.py's
output, deploy every process of `make run`, and the manifests are valid against the Kubernetes
JSON schemas (kubernetes-validate, offline; there is no cluster here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import kubernetes_validate
import yaml

from services.common.amqp import QUEUES
from services.common.config import METRICS_PORTS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBERNETES_VERSION = "1.30.0"
DEVELOPMENT_ONLY = {"psp_simulator", "mail-sink", "oparl_server"}  # stand-ins for other organisations and an SMTP server
SECRET_WORDS = ("PASSWORD", "SECRET", "AMQP_URI", "TOKEN", "USERNAME")


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_processes() -> set[str]:
    """deploy/run.py's processes with the deployment's case partitions (a relay each)."""
    run = load(DEPLOY / "run.py")
    partitions = int(load(DEPLOY / "manifests.py").CONFIG["CASE_PARTITIONS"])
    return {name for name, _ in [*run.PROCESSES, *run.partition_relays(partitions)]}


def documents() -> list[dict]:
    return [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))]


def test_the_files_are_the_generators_output() -> None:
    for name, text in load(DEPLOY / "manifests.py").render().items():
        assert (DEPLOY / name).read_text(encoding="utf-8") == text, f"run python deploy/manifests.py ({name})"


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    docs = documents()
    assert {doc["kind"] for doc in docs} >= {"Namespace", "ConfigMap", "Deployment", "Service", "StatefulSet", "Job"}
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_process_runs_in_the_cluster_with_probes_limits_and_its_config() -> None:
    deployments = {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == "Deployment"}
    wanted = {name.replace("_", "-") for name in run_processes() - DEVELOPMENT_ONLY}
    assert set(deployments) == wanted
    for name, doc in deployments.items():
        spec = doc["spec"]
        [container] = spec["template"]["spec"]["containers"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert probe in container, f"{name}: no {probe}"
        assert set(container["resources"]) == {"requests", "limits"}
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["envFrom"] == [{"configMapRef": {"name": "vr-config"}}, {"secretRef": {"name": "vr-secrets"}}]
        port = int(spec["template"]["metadata"]["annotations"]["prometheus.io/port"])
        assert port == METRICS_PORTS[next(p for p in METRICS_PORTS if p.replace("_", "-") == name)]
        # RPC services, the gateway and the web (sessions in sealed cookies) are stateless: several
        # replicas; ordered consumers run once, never twice
        stateless = ("services.common.launch" in container["command"] and name != "notifications") or name == "web"
        assert (spec["replicas"] >= 2) == stateless, name
        assert spec["strategy"]["type"] == ("RollingUpdate" if stateless else "Recreate"), name
    assert deployments["gateway"]["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/health/ready"


def test_config_holds_no_secrets_and_the_event_queues_are_quorum_queues() -> None:
    docs = documents()
    config = next(doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "vr-config")["data"]
    assert not [key for key in config if any(word in key for word in SECRET_WORDS)]
    assert config["VR_ENV"] == "production" and config["AMQP_QUEUE_TYPE"] == "quorum"
    rabbit = next(doc for doc in docs if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "rabbitmq-config")["data"]
    assert "default_queue_type = quorum" in rabbit["rabbitmq.conf"]
    for queue in QUEUES:  # a message that keeps failing goes to <queue>.dead after the delivery limit
        assert f'"dead-letter-routing-key":"{queue}.dead"' in rabbit["policies.sh"]
    assert next(doc for doc in docs if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == "rabbitmq")["spec"]["replicas"] == 3


def test_compose_runs_everything_with_prometheus_and_grafana_provisioned() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]
    assert set(compose) == {name.replace("_", "-") for name in run_processes()} | {"rabbitmq", "postgres", "prometheus", "grafana"}
    for mount in compose["prometheus"]["volumes"] + compose["grafana"]["volumes"]:
        source = mount.split(":", 1)[0]
        assert not source.startswith("./") or (DEPLOY / source).exists(), mount
    assert "./grafana/dashboards:/var/lib/grafana/dashboards/vr:ro" in compose["grafana"]["volumes"]
    assert all(compose[name]["restart"] == "unless-stopped" for name in compose)
