"""The council sync worker's Prometheus metrics (on its process's /metrics port)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

SYNCED = Counter("vr_council_synced_objects_total", "OParl objects written to the read model, by kind", ["kind"])
SKIPPED = Counter("vr_council_skipped_objects_total", "OParl objects skipped as invalid, by kind", ["kind"])
RUNS = Counter("vr_council_sync_runs_total", "Sync runs of one tenant's source, by outcome", ["outcome"])
DURATION = Histogram(
    "vr_council_sync_duration_seconds", "Duration of one tenant's sync run, by outcome", ["outcome"],
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)
