"""Every process of the platform refuses to start under VR_ENV=production with an unsafe
development setting: it exits non-zero, naming the setting, before it connects anywhere.
`make run` (deploy/run.py) says that it is a development setup."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT, free_port
from tests.unit.test_production_guard import SAFE

#: The platform's processes, as deploy/run.py and tests/support.Platform start them.
PROCESSES = {
    "gateway": ["-m", "services.common.launch", "gateway"],
    "identity": ["-m", "services.common.launch", "identity"],
    "relay": ["-m", "services.submissions.relay"],
    "projector": ["-m", "services.submissions.projector", "run"],
    "web": ["-m", "services.web"],
}


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Start a process with a clean platform environment; if the guard let it through, its
    broker is a closed port it would wait for, so the timeout fails the test."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VR_", "IDENTITY_", "AMQP", "COOKIE", "PUBLIC_", "DEV_"))}
    unreachable = f"amqp://rathaus:Ein-langes-Broker-Passwort@127.0.0.1:{free_port()}/"
    full = {**base, "PYTHONPATH": str(ROOT), "VR_VAR_DIR": str(tmp_path / "var"), "METRICS_PORT": "0",
            "GATEWAY_PORT": str(free_port()), **SAFE, "AMQP_URI": unreachable, **env}
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("process", list(PROCESSES))
def test_a_process_refuses_production_with_the_eid_simulator(process: str, tmp_path: Path) -> None:
    done = run(PROCESSES[process], tmp_path, IDENTITY_EID_PROVIDER="simulated", COOKIE_SECURE="0")
    assert done.returncode != 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "refus" in line.lower()]
    assert any("IDENTITY_EID_PROVIDER" in line for line in lines), done.stderr
    assert any("COOKIE_SECURE" in line for line in lines), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "var").exists()  # nothing generated: it stopped before opening any store


def test_the_launcher_refuses_a_generated_signing_key(tmp_path: Path) -> None:
    done = run(PROCESSES["gateway"], tmp_path, IDENTITY_SIGNING_KEY_FILE="")
    assert done.returncode != 0
    assert "IDENTITY_SIGNING_KEY_FILE" in done.stderr and "Traceback" not in done.stderr


def test_make_run_refuses_production(tmp_path: Path) -> None:
    """deploy/run.py starts the eID simulator unless told otherwise: a development default."""
    done = run(["deploy/run.py"], tmp_path)
    assert done.returncode != 0
    assert "IDENTITY_EID_PROVIDER" in done.stderr and "development setup" not in done.stderr


def test_make_run_says_it_is_a_development_setup(tmp_path: Path) -> None:
    done = run(["deploy/run.py"], tmp_path, VR_ENV="")  # development; the broker is unreachable, so it stops
    assert "development setup" in done.stderr.lower(), done.stderr
    assert done.returncode != 0  # the closed broker port, after the notice
