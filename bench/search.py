"""Search quality and speed for `make bench`: recall@5 and MRR on the citizen-phrased
evaluation set (tests/search_eval.yaml), latency in-process and through the gateway."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from services.catalog.application import CatalogApp
from services.catalog.search import ServiceFinder, evaluate, load_cases, percentile

PORTAL = "03460009"  # Vechta


class _FinderAdapter:
    """evaluate() calls .search(query, offered, limit); route it through the tenant wiring."""

    def __init__(self, finder: ServiceFinder, portal: str):
        self.finder = finder
        self.portal = portal

    def search(self, query: str, offered: Any = None, limit: int = 10) -> list[dict[str, Any]]:
        return self.finder.search(self.portal, query, limit)


def run_search_bench(base_url: str | None = None, rounds: int = 3) -> dict[str, Any]:
    cases = load_cases()
    catalog = CatalogApp({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    catalog.import_definitions()
    catalog.import_tenants()
    catalog.sync_offerings()
    finder = ServiceFinder(catalog)
    started = time.perf_counter()
    finder.index  # noqa: B018 - build the index once, timed
    load_s = time.perf_counter() - started
    quality = evaluate(_FinderAdapter(finder, PORTAL), cases, rounds=rounds)
    result: dict[str, Any] = {
        "queries": quality["n"],
        "recall_at_5": quality["recall_at_5"],
        "mrr": quality["mrr"],
        "index_load_s": round(load_s, 3),
        "inprocess_p50_ms": quality["p50_ms"],
        "inprocess_p99_ms": quality["p99_ms"],
        "misses": [m["query"] for m in quality["misses"]],
        "target": "recall@5 >= 0.9, p99 <= 20 ms",
    }
    if base_url:
        timings = []
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for _ in range(rounds):
                for case in cases:
                    t0 = time.perf_counter()
                    response = http.get(f"/api/v1/tenants/{PORTAL}/services", params={"q": case["query"]})
                    timings.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
        result["http_p50_ms"] = round(statistics.median(timings), 2)
        result["http_p99_ms"] = round(percentile(timings, 0.99), 2)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run_search_bench(), indent=2, ensure_ascii=False))
