"""GATEWAY_REPLICAS: several real gateway processes listen on one port (SO_REUSEPORT) and
the kernel spreads the connections over them — each replica answers real HTTP requests,
counted on its own /metrics port. Only the gateways run: the routes asked for need no
service behind them (liveness, and the problem+json 404)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx

from tests import support


def served(metrics_url: str) -> int:
    """Requests this replica answered (its request-latency histogram's counts)."""
    text = httpx.get(metrics_url, timeout=5).text
    return int(sum(float(v) for v in re.findall(r'^vr_http_request_seconds_count\{[^}]*\} (\S+)$', text, re.M)))


def wait_live(base_url: str, plat: support.Platform, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in plat.procs.items():
            assert proc.poll() is None, f"{name} exited: {plat.tail(name)}"
        try:
            if httpx.get(f"{base_url}/health/live", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(" | ".join(plat.tail(n) for n in plat.procs))


def test_two_gateway_replicas_on_one_port_both_serve(amqp_uri: str, tmp_path: Path) -> None:
    plat = support.Platform({"AMQP_URI": amqp_uri, "GATEWAY_REPLICAS": "2", "VR_VAR_DIR": str(tmp_path)}, tmp_path)
    assert plat.gateway_replicas == ["gateway-2"]
    try:
        plat.start("gateway")
        plat.start("gateway-2")
        wait_live(plat.base_url, plat)
        deadline = time.monotonic() + 60
        counts = dict.fromkeys(("gateway", "gateway-2"), 0)
        while time.monotonic() < deadline and not all(counts.values()):
            for _ in range(20):  # a new connection each: the kernel picks a listener per connection
                with httpx.Client(base_url=plat.base_url, timeout=10) as client:
                    live = client.get("/health/live")
                    missing = client.get("/api/v1/gibt-es-nicht", headers={"Accept-Language": "de"})
                assert live.status_code == 200 and live.json() == {"status": "ok"}
                assert missing.status_code == 404 and missing.json()["code"] == "not_found"
            counts = {name: served(f"http://127.0.0.1:{plat.metrics_ports[name]}/metrics") for name in counts}
        assert all(counts.values()), counts
    finally:
        plat.stop_all()
