"""Measuring for ``make bench-scale`` (bench/scale.py): timed HTTP pages, the same pages on
the read model in-process, and the resident memory of a process."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import latency_summary

SERVICE_KEYS = ["hundeanmeldung", "meldebescheinigung", "gewerbeanmeldung"]  # the clerk's authorisation


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def timed_get(client: httpx.Client, path: str, repeats: int, params: Any = None) -> dict[str, Any]:
    """p50/p99 of ``repeats`` GETs (after 5 warm-ups); the rows of the last answer."""
    for _ in range(5):
        client.get(path, params=params)
    times, statuses, rows = [], set(), 0
    for _ in range(repeats):
        began = time.perf_counter()
        response = client.get(path, params=params)
        times.append(time.perf_counter() - began)
        statuses.add(response.status_code)
        rows = len(response.json().get("items", [])) if response.status_code == 200 else -1
    return {**latency_summary(times), "statuses": sorted(statuses), "rows": rows}


def direct_queries(chosen: dict[str, str], repeats: int, village_only: bool) -> dict[str, Any]:
    """The same pages on the read model in-process (no HTTP, no RPC): what the database
    costs, apart from the processes that share the box's cores."""
    from services.common.db import ReadStore
    from services.submissions.projections import CaseReadModels

    models = CaseReadModels(ReadStore("submissions"))
    out: dict[str, Any] = {}
    for name, ags in chosen.items():
        if village_only and name == "town":
            continue
        for label, params in (("", {}), ("_in_review", {"status": "in_review"}), ("_closed", {"state": "closed"})):
            times, rows = [], 0
            for _ in range(repeats):
                began = time.perf_counter()
                rows = len(models.worklist(ags, service_ids=SERVICE_KEYS, **params)["items"])
                times.append(time.perf_counter() - began)
            out[f"direct_{name}{label}"] = {**latency_summary(times), "statuses": ["in-process"], "rows": rows}
    models.close()
    return out
