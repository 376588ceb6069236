"""One naming scheme for every metric: contracts/metrics.yaml lists them, the code declares
exactly those, and each name says its unit (issue #15)."""

from __future__ import annotations

import re
from pathlib import Path

from services.common.contracts import metric_catalog

ROOT = Path(__file__).resolve().parents[2]
DECLARED = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"(vr_[a-z0-9_]+)\"", re.S)
NAME = re.compile(r"^vr_[a-z][a-z0-9]*(_[a-z0-9]+)+$")
# labels whose values come from a fixed set in the code (or the few route/queue/process names)
BOUNDED_LABELS = {
    "service", "entrypoint", "error", "route", "method", "status", "stage", "source", "queue", "projection",
    "result", "channel", "outcome", "kind", "problem", "call", "state", "code", "volume",
}
#: the only metrics with a tenant label: bounded by the catalog's tenants, for the usage dashboard
PER_TENANT = {"vr_case_events_total"}
UNBOUNDED_LABELS = {"case_id", "account_id", "reference", "email", "path", "correlation_id", "event_id", "url"}


def declared_in_code() -> dict[str, str]:
    """Every vr_ metric the code declares, as exported (prometheus_client adds a counter's _total)."""
    found: dict[str, str] = {}
    for path in (ROOT / "services").rglob("*.py"):
        for kind, name in DECLARED.findall(path.read_text(encoding="utf-8")):
            if kind == "Counter" and not name.endswith("_total"):
                name += "_total"
            found[name] = str(path.relative_to(ROOT))
    return found


def test_the_code_declares_exactly_the_listed_metrics() -> None:
    declared, listed = declared_in_code(), set(metric_catalog())
    assert not set(declared) - listed, f"declared but not in contracts/metrics.yaml: {set(declared) - listed}"
    assert not listed - set(declared), f"listed but declared nowhere: {listed - set(declared)}"


def test_every_name_follows_the_scheme() -> None:
    for name, entry in metric_catalog().items():
        assert NAME.match(name), name
        assert entry["type"] in {"counter", "gauge", "histogram"}, name
        assert entry["help"] and entry["unit"], name
        if entry["type"] == "counter":
            assert name.endswith("_total"), f"{name}: a counter ends in _total"
        else:
            assert name.endswith("_" + entry["unit"]), f"{name}: a {entry['type']} ends in its unit {entry['unit']}"
        labels = set(entry["labels"]) - ({"tenant", "event"} if name in PER_TENANT else set())
        assert labels <= BOUNDED_LABELS and not labels & UNBOUNDED_LABELS, f"{name}: unbounded labels {labels}"
