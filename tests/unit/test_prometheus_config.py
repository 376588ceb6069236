"""The Prometheus configuration and alert rules in deploy/prometheus: promtool accepts them,
their unit tests pass, every process is scraped at its port, and every metric they use is
one the code exports (contracts/metrics.yaml)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml

from services.common.config import METRICS_PORTS
from services.common.contracts import metric_catalog

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = sorted((PROMETHEUS / "rules").glob("*.yml"))
#: scraped though not (yet) in METRICS_PORTS: the web front end's process (issue #14, port 9113)
EXPECTED_LATER = {"web": 9113}
#: series Prometheus makes itself, not the platform
BUILTIN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
METRIC = re.compile(r"\b(vr_[a-z0-9_]+|up)\b")
SUFFIXES = ("_bucket", "_count", "_sum")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: `make system-deps` installs Debian's prometheus package"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=120, cwd=PROMETHEUS)


def metrics_in(promql: str) -> set[str]:
    """The metric names a PromQL expression reads (a histogram's _bucket/_count/_sum as the histogram)."""
    names = set()
    for name in METRIC.findall(promql):
        base = next((name.removesuffix(s) for s in SUFFIXES if name.endswith(s)), name)
        names.add(base if base in metric_catalog() else name)
    return names


def test_promtool_checks_the_rules_and_the_configuration() -> None:
    rules = promtool("check", "rules", *map(str, RULES))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    config = promtool("check", "config", "--syntax-only", "prometheus.yml")
    assert config.returncode == 0, config.stdout + config.stderr


def test_the_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", *map(str, sorted((PROMETHEUS / "tests").glob("*.yml"))))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_process_is_scraped_at_its_metrics_port() -> None:
    for name, host in (("prometheus.yml", lambda job: "127.0.0.1"), ("prometheus.compose.yml", lambda job: job.replace("_", "-"))):
        config = yaml.safe_load((PROMETHEUS / name).read_text(encoding="utf-8"))
        jobs = {job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]}
        assert jobs == {job: [f"{host(job)}:{port}"] for job, port in {**METRICS_PORTS, **EXPECTED_LATER}.items()}, name


def test_the_rules_use_only_listed_metrics_and_link_the_runbook() -> None:
    catalog = metric_catalog()
    runbook = (ROOT / "deploy" / "RUNBOOK.md").read_text(encoding="utf-8").lower()
    alerts = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                alerts.append(rule["alert"])
                unknown = metrics_in(rule["expr"]) - set(catalog) - BUILTIN
                assert not unknown, f"{rule['alert']} uses {unknown}, not in contracts/metrics.yaml"
                assert rule["labels"]["severity"] in {"warning", "critical"}
                anchor = rule["annotations"].get("runbook", "#").split("#", 1)[1]
                assert not anchor or f"## {anchor.replace('-', ' ')}" in runbook, f"{rule['alert']}: no section {anchor}"
    for needed in ("VrProjectionLagging", "VrRelayStalled", "VrHighHttpErrorRate", "VrDeadLetters",
                   "VrPaymentReconciliationMismatch", "VrMessagesUndelivered", "VrDiskAlmostFull"):
        assert needed in alerts
