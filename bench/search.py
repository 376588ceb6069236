"""Search quality and speed for `make bench`: recall@5 and MRR on the citizen-phrased
evaluation set (tests/search_eval.yaml) per language — German words (``recall_at_5``, ``mrr``:
the figures as before), German sentences (``_de_sentence``) and English (``_en``) — and
latency in-process and through the gateway."""

from __future__ import annotations

import statistics
import time
from typing import Any

import httpx

from services.catalog.application import CatalogApp
from services.catalog.search import ServiceFinder, load_cases, percentile
from services.catalog.search.evaluation import evaluate_groups

PORTAL = "03460009"  # Vechta


class _FinderAdapter:
    """evaluate() calls .search(query, offered, limit); route it through the tenant wiring."""

    def __init__(self, finder: ServiceFinder, portal: str):
        self.finder = finder
        self.portal = portal

    def search(self, query: str, offered: Any = None, limit: int = 10, lang: str = "de") -> list[dict[str, Any]]:
        return self.finder.search(self.portal, query, limit, lang)


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
    groups = evaluate_groups(_FinderAdapter(finder, PORTAL), cases, rounds=rounds)
    german, everything = groups["de"], groups["all"]
    result: dict[str, Any] = {
        "queries": german["n"],
        "recall_at_5": german["recall_at_5"],
        "mrr": german["mrr"],
    }
    for name in ("de_sentence", "en"):
        if name in groups:
            result.update({f"queries_{name}": groups[name]["n"], f"recall_at_5_{name}": groups[name]["recall_at_5"],
                           f"mrr_{name}": groups[name]["mrr"]})
    result.update({
        "index_load_s": round(load_s, 3),
        "inprocess_p50_ms": everything["p50_ms"],
        "inprocess_p99_ms": everything["p99_ms"],
        "misses": [m["query"] for m in everything["misses"]],
        "target": "recall@5 >= 0.9 in every language, p99 <= 20 ms",
    })
    if base_url:
        timings = []
        with httpx.Client(base_url=base_url, timeout=30) as http:
            for _ in range(rounds):
                for case in cases:
                    t0 = time.perf_counter()
                    response = http.get(f"/api/v1/tenants/{PORTAL}/services", params={"q": case["query"], "lang": case["lang"]})
                    timings.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
        result["http_p50_ms"] = round(statistics.median(timings), 2)
        result["http_p99_ms"] = round(percentile(timings, 0.99), 2)
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(run_search_bench(), indent=2, ensure_ascii=False))
