"""GATEWAY_REPLICAS in the configuration and in deploy/run.py: the replicas' names, their
place in the process list and their own /metrics ports (the HTTP side is
tests/integration/test_gateway_replicas.py)."""

from __future__ import annotations

from services.common.config import GATEWAY_REPLICA_METRICS_BASE, METRICS_PORTS, Settings
from tests.unit.test_deployment import DEPLOY, load


def test_replica_names_and_metrics_ports() -> None:
    assert Settings.from_env({}).gateway_processes() == ["gateway"]
    three = Settings.from_env({"GATEWAY_REPLICAS": "3"})
    assert three.gateway_processes() == ["gateway", "gateway-2", "gateway-3"]
    ports = [three.metrics_port_for(name) for name in three.gateway_processes()]
    assert ports == [METRICS_PORTS["gateway"], GATEWAY_REPLICA_METRICS_BASE + 2, GATEWAY_REPLICA_METRICS_BASE + 3]
    assert not set(ports[1:]) & set(METRICS_PORTS.values())
    assert Settings.from_env({"GATEWAY_REPLICAS": "3", "METRICS_PORT": "0"}).metrics_port_for("gateway-2") == 0


def test_run_starts_the_replicas_after_the_gateway() -> None:
    run = load(DEPLOY / "run.py")
    processes = run.with_gateway_replicas(run.PROCESSES, ["gateway", "gateway-2"])
    names = [name for name, _ in processes]
    assert names[names.index("gateway") + 1] == "gateway-2"
    assert dict(processes)["gateway-2"] == dict(processes)["gateway"]
    assert len(names) == len(run.PROCESSES) + 1
