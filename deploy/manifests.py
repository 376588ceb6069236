"""The deployment as code: ``python deploy/manifests.py`` writes ``deploy/compose.yaml``
and ``deploy/k8s/*.yaml`` from one table of the platform's processes.

Edit here, not in the YAML: tests/unit/test_deployment.py checks that the files are this
module's output, that every process of deploy/run.py is deployed, and validates the
Kubernetes manifests against the Kubernetes JSON schemas (kubernetes-validate, offline).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
sys.path.insert(0, str(ROOT))

from services.common.amqp import DEAD_LETTER_SUFFIX, QUEUES  # noqa: E402
from services.common.config import METRICS_PORTS  # noqa: E402

IMAGE = "virtuelles-rathaus:latest"
NAMESPACE = "virtuelles-rathaus"
#: a message redelivered this often goes to its dead-letter queue (quorum queues' delivery-limit)
DELIVERY_LIMIT = 20


@dataclass(frozen=True)
class Process:
    name: str
    args: tuple[str, ...]
    replicas: int = 1  # >1: stateless (an RPC service or the gateway); 1: a single ordered consumer or writer
    cpu: tuple[str, str] = ("100m", "1")
    memory: tuple[str, str] = ("192Mi", "512Mi")
    http_port: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    development_only: bool = False  # compose only, never in the cluster

    @property
    def host(self) -> str:
        return self.name.replace("_", "-")

    @property
    def metrics_port(self) -> int | None:
        return METRICS_PORTS.get(self.name)


def nameko(service: str) -> tuple[str, ...]:
    return ("python", "-m", "services.common.launch", service)


PROCESSES: tuple[Process, ...] = (
    Process("gateway", nameko("gateway"), replicas=2, http_port=8000, cpu=("250m", "2"), memory=("256Mi", "768Mi")),
    Process("catalog", nameko("catalog"), replicas=2, memory=("256Mi", "768Mi")),
    Process("identity", nameko("identity"), replicas=2, cpu=("250m", "2"), memory=("256Mi", "768Mi")),
    Process("submissions", nameko("submissions"), replicas=2, cpu=("250m", "2"), memory=("256Mi", "768Mi")),
    Process("payments", nameko("payments"), replicas=2),
    # one sender: its timer delivers due messages (two would race for the same message)
    Process("notifications", nameko("notifications")),
    Process("relay", ("python", "-m", "services.submissions.relay")),
    # one relay per case partition (CASE_PARTITIONS below; deploy/SCALING.md)
    Process("relay-p1", ("python", "-m", "services.submissions.relay", "--partition", "1")),
    Process("projector", ("python", "-m", "services.submissions.projector", "run")),
    Process("payments-relay", ("python", "-m", "services.payments.relay")),
    Process("payments-saga", ("python", "-m", "services.payments.saga")),
    Process("submissions-payments", ("python", "-m", "services.submissions.payment_consumer")),
    Process("notifications-consumer", ("python", "-m", "services.notifications.consumer")),
    Process("rules", nameko("rules"), replicas=2),
    Process("rules-consumer", ("python", "-m", "services.rules.consumer")),
    Process("insights", nameko("insights"), replicas=2),
    Process("insights-projector", ("python", "-m", "services.insights.projector")),
    Process("handover", nameko("handover"), replicas=2),  # stateless: leases are decided by optimistic concurrency
    Process("handover-consumer", ("python", "-m", "services.handover.consumer")),
    # the portals and the clerk workspace: a client of the gateway's API; its sessions are encrypted
    # cookies under WEB_SESSION_SECRET (vr-secrets), so any replica serves any session
    Process("web", ("python", "-m", "services.web"), http_port=8080, replicas=2,
            env={"WEB_HOST": "0.0.0.0", "WEB_GATEWAY_URL": "http://gateway:8000"}),
    Process("psp_simulator", ("python", "-m", "services.payments.psp_simulator"), http_port=8090, development_only=True,
            env={"PSP_SIMULATOR_HOST": "0.0.0.0", "PSP_SIMULATOR_PUBLIC_URL": "http://127.0.0.1:8090"}),
    Process("council", nameko("council"), replicas=2),
    # one writer per tenant's source: two would fetch every source twice
    Process("council-sync", ("python", "-m", "services.council.sync")),
    Process("oparl_server", ("python", "-m", "services.council.oparl_server"), http_port=8095, development_only=True,
            env={"OPARL_SERVER_HOST": "0.0.0.0", "OPARL_SERVER_PUBLIC_URL": "http://oparl-server:8095"}),
    # the development SMTP sink: its SMTP port for the notifications service (its page stays inside)
    Process("mail-sink", ("python", "-m", "services.notifications.sink"), development_only=True,
            env={"SMTP_HOST": "0.0.0.0"}),
)

#: configuration every process reads (services/common/config.py); secrets are not here
CONFIG = {
    "VR_ENV": "production",
    "PUBLIC_BASE_URL": "https://rathaus.example.de",
    "ALLOWED_ORIGINS": "https://rathaus.example.de",
    "WEB_PUBLIC_URL": "https://rathaus.example.de",
    "GATEWAY_HOST": "0.0.0.0",
    "METRICS_ADDR": "0.0.0.0",
    "AMQP_QUEUE_TYPE": "quorum",
    "CASE_PARTITIONS": "2",
    "POSTGRES_HOST": "postgres",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DBNAME": "vr",
    "POSTGRES_USER": "vr",
    "POSTGRES_POOL_SIZE": "4",
    "SMTP_HOST": "smtp.example.de",
    "SMTP_PORT": "587",
    "SMTP_STARTTLS": "1",
    "MAIL_FROM": "noreply@rathaus.example.de",
    "PSP_BASE_URL": "https://psp.example.de",
    "IDENTITY_SIGNING_KEY_FILE": "/etc/vr/signing/signing-key.pem",
    "IDENTITY_SIGNING_KEY_ID": "k-2026-1",
    "PAYMENTS_MERCHANTS_FILE": "/etc/vr/payments/merchants.json",
    "TRUSTED_PROXIES": "10.0.0.1",
    "LOG_LEVEL": "INFO",
}
#: the keys of the Secret ``vr-secrets`` (deploy/RUNBOOK.md creates it)
SECRET_KEYS = ("AMQP_URI", "POSTGRES_PASSWORD", "VR_SECRET_KEY", "WEB_SESSION_SECRET", "SMTP_USERNAME", "SMTP_PASSWORD",
               "IDENTITY_SIGNING_KEY_PASSWORD")


# -- Kubernetes ------------------------------------------------------------------------------
def meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/part-of": "virtuelles-rathaus",
                                                             "app.kubernetes.io/name": name, **labels}}


def probe(process: Process, path: str, **timing: int) -> dict[str, Any]:
    port = process.http_port if process.name == "gateway" else process.metrics_port
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": 10, "timeoutSeconds": 3, **timing}


def deployment(process: Process) -> dict[str, Any]:
    # every process answers /live and /ready (its dependencies: database, broker) on its metrics
    # port (services/common/health.py); the gateway on its HTTP port as well
    live, ready = ("/health/live", "/health/ready") if process.name == "gateway" else ("/live", "/ready")
    ports = [{"name": "metrics", "containerPort": process.metrics_port}]
    if process.http_port:
        ports.insert(0, {"name": "http", "containerPort": process.http_port})
    container = {
        "name": process.host, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": list(process.args),
        "ports": ports,
        "envFrom": [{"configMapRef": {"name": "vr-config"}}, {"secretRef": {"name": "vr-secrets"}}],
        "env": [{"name": "METRICS_PORT", "value": str(process.metrics_port)}],
        "resources": {"requests": {"cpu": process.cpu[0], "memory": process.memory[0]},
                      "limits": {"cpu": process.cpu[1], "memory": process.memory[1]}},
        "startupProbe": probe(process, live, failureThreshold=30),
        "livenessProbe": probe(process, live, failureThreshold=3),
        "readinessProbe": probe(process, ready, failureThreshold=2),
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, {"name": "var", "mountPath": "/var/lib/vr"},
                         {"name": "signing-key", "mountPath": "/etc/vr/signing", "readOnly": True},
                         {"name": "merchants", "mountPath": "/etc/vr/payments", "readOnly": True}],
    }
    labels = {"app.kubernetes.io/component": process.host}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(process.host, **labels),
        "spec": {
            "replicas": process.replicas,
            "revisionHistoryLimit": 5,
            # a single consumer or writer never runs twice, not even during a rollout
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
            if process.replicas > 1 else {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": process.host}},
            "template": {
                "metadata": {"labels": {"app.kubernetes.io/name": process.host, **labels},
                             "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": str(process.metrics_port)}},
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 10001},
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "var", "emptyDir": {}},
                                {"name": "signing-key", "secret": {"secretName": "vr-signing-key"}},
                                {"name": "merchants", "secret": {"secretName": "vr-payments-merchants"}}],
                },
            },
        },
    }


def gateway_service() -> list[dict[str, Any]]:
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta("gateway"),
         "spec": {"selector": {"app.kubernetes.io/name": "gateway"},
                  "ports": [{"name": "http", "port": 8000, "targetPort": "http"}]}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta("gateway"),
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": "gateway"}}}},
    ]


def platform_documents() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("vr-config"), "data": CONFIG},
    ]
    docs += [deployment(p) for p in PROCESSES if not p.development_only]
    return docs + gateway_service()


def rabbitmq_policies_script() -> str:
    """PUT one policy per event queue: quorum queues dead-letter a message after
    DELIVERY_LIMIT deliveries into ``<queue>.dead`` (at-least-once), never drop it."""
    lines = ["set -eu", 'API="http://rabbitmq:15672/api/policies/%2F"']
    for queue in QUEUES:
        definition = (f'{{"pattern":"^{queue.replace(".", "[.]")}$","apply-to":"quorum_queues","priority":1,'
                      f'"definition":{{"delivery-limit":{DELIVERY_LIMIT},"dead-letter-exchange":"",'
                      f'"dead-letter-routing-key":"{queue}{DEAD_LETTER_SUFFIX}","dead-letter-strategy":"at-least-once",'
                      f'"overflow":"reject-publish"}}}}')
        lines.append(f"curl -fsS -u \"$RABBITMQ_DEFAULT_USER:$RABBITMQ_DEFAULT_PASS\" -X PUT -H 'content-type: application/json' "
                     f"\"$API/vr-{queue}\" -d '{definition}'")
    return "\n".join(lines) + "\n"


def rabbitmq_documents() -> list[dict[str, Any]]:
    name = "rabbitmq"
    conf = "\n".join([
        "cluster_formation.peer_discovery_backend = rabbit_peer_discovery_k8s",
        "cluster_formation.k8s.host = kubernetes.default.svc.cluster.local",
        "cluster_formation.k8s.address_type = hostname",
        f"cluster_formation.k8s.service_name = {name}-nodes",
        "queue_master_locator = client-local",
        "default_queue_type = quorum",
        "disk_free_limit.absolute = 2GB",
        "vm_memory_high_watermark.relative = 0.6",
    ]) + "\n"
    credentials = [{"name": key, "valueFrom": {"secretKeyRef": {"name": "rabbitmq-secrets", "key": key}}}
                   for key in ("RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS")]
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(name),
         "rules": [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]},
                   {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(name),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
         "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("rabbitmq-config"),
         "data": {"rabbitmq.conf": conf, "enabled_plugins": "[rabbitmq_management,rabbitmq_peer_discovery_k8s,rabbitmq_prometheus].\n",
                  "policies.sh": rabbitmq_policies_script()}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(f"{name}-nodes"),
         "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app.kubernetes.io/name": name},
                  "ports": [{"name": "epmd", "port": 4369}, {"name": "cluster", "port": 25672}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name),
         "spec": {"selector": {"app.kubernetes.io/name": name},
                  "ports": [{"name": "amqp", "port": 5672}, {"name": "management", "port": 15672},
                            {"name": "prometheus", "port": 15692}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name),
         "spec": {
             "serviceName": f"{name}-nodes", "replicas": 3, "podManagementPolicy": "Parallel",
             "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
             "template": {
                 "metadata": {"labels": {"app.kubernetes.io/name": name}},
                 "spec": {
                     "serviceAccountName": name, "terminationGracePeriodSeconds": 120,
                     "containers": [{
                         "name": name, "image": "rabbitmq:3.13-management",
                         "env": [*credentials,
                                 {"name": "RABBITMQ_ERLANG_COOKIE", "valueFrom": {"secretKeyRef": {"name": "rabbitmq-secrets", "key": "RABBITMQ_ERLANG_COOKIE"}}},
                                 {"name": "RABBITMQ_USE_LONGNAME", "value": "true"},
                                 {"name": "MY_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                                 {"name": "RABBITMQ_NODENAME", "value": f"rabbit@$(MY_POD_NAME).{name}-nodes.{NAMESPACE}.svc.cluster.local"}],
                         "ports": [{"name": "amqp", "containerPort": 5672}, {"name": "management", "containerPort": 15672},
                                   {"name": "prometheus", "containerPort": 15692}, {"name": "epmd", "containerPort": 4369},
                                   {"name": "cluster", "containerPort": 25672}],
                         "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
                         "readinessProbe": {"exec": {"command": ["rabbitmq-diagnostics", "-q", "check_port_connectivity"]},
                                            "periodSeconds": 30, "timeoutSeconds": 20},
                         "livenessProbe": {"exec": {"command": ["rabbitmq-diagnostics", "-q", "status"]},
                                           "initialDelaySeconds": 60, "periodSeconds": 60, "timeoutSeconds": 30},
                         "volumeMounts": [{"name": "data", "mountPath": "/var/lib/rabbitmq/mnesia"},
                                          {"name": "config", "mountPath": "/etc/rabbitmq/rabbitmq.conf", "subPath": "rabbitmq.conf"},
                                          {"name": "config", "mountPath": "/etc/rabbitmq/enabled_plugins", "subPath": "enabled_plugins"}],
                     }],
                     "volumes": [{"name": "config", "configMap": {"name": "rabbitmq-config"}}],
                 },
             },
             "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}],
         }},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta("rabbitmq-policies"),
         "spec": {"backoffLimit": 10, "template": {"spec": {
             "restartPolicy": "OnFailure",
             "containers": [{"name": "policies", "image": "curlimages/curl:8.10.1", "command": ["sh", "/scripts/policies.sh"],
                             "env": credentials,
                             "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
                             "volumeMounts": [{"name": "scripts", "mountPath": "/scripts"}]}],
             "volumes": [{"name": "scripts", "configMap": {"name": "rabbitmq-config"}}]}}}},
    ]


def postgres_documents() -> list[dict[str, Any]]:
    name = "postgres"
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(name),
         "spec": {"selector": {"app.kubernetes.io/name": name}, "ports": [{"name": "postgres", "port": 5432}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(name),
         "spec": {
             "serviceName": name, "replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
             "template": {"metadata": {"labels": {"app.kubernetes.io/name": name}}, "spec": {
                 "terminationGracePeriodSeconds": 60,
                 "containers": [{
                     "name": name, "image": "postgres:16",
                     "env": [{"name": "POSTGRES_DB", "value": "vr"}, {"name": "POSTGRES_USER", "value": "vr"},
                             {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "vr-secrets", "key": "POSTGRES_PASSWORD"}}},
                             {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
                     "args": ["-c", "max_connections=300", "-c", "shared_buffers=512MB"],
                     "ports": [{"name": "postgres", "containerPort": 5432}],
                     "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
                     "readinessProbe": {"exec": {"command": ["pg_isready", "-U", "vr", "-d", "vr"]}, "periodSeconds": 10},
                     "livenessProbe": {"exec": {"command": ["pg_isready", "-U", "vr", "-d", "vr"]},
                                       "initialDelaySeconds": 30, "periodSeconds": 30},
                     "volumeMounts": [{"name": "data", "mountPath": "/var/lib/postgresql/data"}],
                 }],
             }},
             "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}}}],
         }},
    ]


# -- compose ---------------------------------------------------------------------------------
#: compose runs the whole platform on one machine with development settings (eID simulator,
#: PSP simulator, SMTP sink); deploy/RUNBOOK.md says what to change for production
COMPOSE_ENV = {
    "VR_ENV": "development",
    "AMQP_URI": "amqp://vr:${RABBITMQ_PASSWORD:-vr-dev}@rabbitmq:5672/",
    "POSTGRES_HOST": "postgres", "POSTGRES_PORT": "5432", "POSTGRES_DBNAME": "vr", "POSTGRES_USER": "vr",
    "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:-vr-dev}",
    "GATEWAY_HOST": "0.0.0.0", "METRICS_ADDR": "0.0.0.0",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000", "COOKIE_SECURE": "0", "IDENTITY_EID_PROVIDER": "simulated",
    "SMTP_HOST": "mail-sink", "SMTP_PORT": "1025", "PSP_BASE_URL": "http://psp-simulator:8090",
    "VR_VAR_DIR": "/var/lib/vr",
    "CASE_PARTITIONS": "2",
}


def compose_service(process: Process) -> dict[str, Any]:
    port = process.metrics_port
    service: dict[str, Any] = {
        # every process from one image (built once; the other services reuse the cached layers)
        "image": IMAGE, "build": {"context": "..", "dockerfile": "deploy/Dockerfile"},
        "command": list(process.args), "restart": "unless-stopped",
        "environment": {**COMPOSE_ENV, **process.env},
        "volumes": ["vr-var:/var/lib/vr"],
        "depends_on": {"rabbitmq": {"condition": "service_healthy"}, "postgres": {"condition": "service_healthy"}},
    }
    if process.name == "gateway":
        service["ports"] = ["8000:8000"]
    elif process.http_port:
        service["ports"] = [f"{process.http_port}:{process.http_port}"]
    if port:
        probe = f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready', timeout=3)"
        service["healthcheck"] = {"test": ["CMD", "python", "-c", probe], "interval": "15s", "timeout": "5s", "retries": 5}
    return service


def compose() -> dict[str, Any]:
    services: dict[str, Any] = {
        "rabbitmq": {
            "image": "rabbitmq:3.13-management", "restart": "unless-stopped",
            "environment": {"RABBITMQ_DEFAULT_USER": "vr", "RABBITMQ_DEFAULT_PASS": "${RABBITMQ_PASSWORD:-vr-dev}"},
            "ports": ["5672:5672", "15672:15672"], "volumes": ["rabbitmq-data:/var/lib/rabbitmq"],
            "healthcheck": {"test": ["CMD", "rabbitmq-diagnostics", "-q", "ping"], "interval": "10s", "timeout": "10s", "retries": 10},
        },
        "postgres": {
            "image": "postgres:16", "restart": "unless-stopped",
            "environment": {"POSTGRES_DB": "vr", "POSTGRES_USER": "vr", "POSTGRES_PASSWORD": "${POSTGRES_PASSWORD:-vr-dev}"},
            "command": ["postgres", "-c", "max_connections=300"],
            "ports": ["5432:5432"], "volumes": ["postgres-data:/var/lib/postgresql/data"],
            "healthcheck": {"test": ["CMD", "pg_isready", "-U", "vr", "-d", "vr"], "interval": "5s", "timeout": "5s", "retries": 20},
        },
    }
    for process in PROCESSES:
        services[process.host] = compose_service(process)
    services["prometheus"] = {
        "image": "prom/prometheus:v2.53.2", "restart": "unless-stopped",
        "command": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus",
                    "--storage.tsdb.retention.time=30d"],
        "volumes": ["./prometheus/prometheus.compose.yml:/etc/prometheus/prometheus.yml:ro",
                    "./prometheus/rules:/etc/prometheus/rules:ro", "prometheus-data:/prometheus"],
        "ports": ["9090:9090"],
    }
    services["grafana"] = {
        "image": "grafana/grafana:11.2.2", "restart": "unless-stopped",
        "environment": {"VR_PROMETHEUS_URL": "http://prometheus:9090", "GF_AUTH_ANONYMOUS_ENABLED": "false",
                        "GF_SECURITY_ADMIN_PASSWORD": "${GRAFANA_ADMIN_PASSWORD:-vr-dev}"},
        "volumes": ["./grafana/provisioning:/etc/grafana/provisioning:ro",
                    "./grafana/dashboards:/var/lib/grafana/dashboards/vr:ro", "grafana-data:/var/lib/grafana"],
        "ports": ["3000:3000"], "depends_on": ["prometheus"],
    }
    return {"name": "virtuelles-rathaus", "services": services,
            "volumes": {name: {} for name in ("vr-var", "rabbitmq-data", "postgres-data", "prometheus-data", "grafana-data")}}


# -- files -----------------------------------------------------------------------------------
HEADER = "# Generated by deploy/manifests.py — edit there, then run: python deploy/manifests.py\n"


def dump(documents: list[dict[str, Any]]) -> str:
    return HEADER + "---\n".join(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=120) for doc in documents)


def render() -> dict[str, str]:
    """Every file, by its path relative to deploy/."""
    return {
        "compose.yaml": dump([compose()]),
        "k8s/platform.yaml": dump(platform_documents()),
        "k8s/rabbitmq.yaml": dump(rabbitmq_documents()),
        "k8s/postgres.yaml": dump(postgres_documents()),
    }


def main() -> int:
    for name, text in render().items():
        (DEPLOY / name).write_text(text, encoding="utf-8")
        print(f"wrote deploy/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
