"""Offline evaluation of the catalog search against citizen-phrased queries.

Usage (prints the misses and the figures)::

    .venv/bin/python -m services.catalog.search [tests/search_eval.yaml]

A case is ``{"query": str, "expected": [ozg_id, ...]}`` with optional ``lang`` (``de``, the
default, or ``en``) and ``kind`` (``sentence`` for whole sentences); it is a hit at rank k when
a result at rank <= k has one of the expected OZG-IDs. :func:`evaluate_groups` reports the
figures per group: German keywords, German sentences, English. Latencies are wall-clock per ``search`` call,
measured on the first (cold-cache) run of every query unless ``rounds`` > 1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CASES = REPO_ROOT / "tests" / "search_eval.yaml"


def load_cases(path: Path | str = DEFAULT_CASES) -> list[dict[str, Any]]:
    """Cases from a YAML file with a top-level ``cases`` list."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    cases = raw["cases"] if isinstance(raw, dict) else raw
    return [
        {"query": str(c["query"]), "expected": [str(e) for e in c["expected"]], "lang": str(c.get("lang", "de")),
         "kind": str(c.get("kind", "words"))}
        for c in cases
    ]


def group_of(case: Mapping[str, Any]) -> str:
    """``de`` (German words), ``de_sentence`` or ``en`` (English words and sentences)."""
    lang = case.get("lang", "de")
    return f"{lang}_sentence" if lang == "de" and case.get("kind") == "sentence" else lang


def evaluate_groups(index: Any, cases: Iterable[Mapping[str, Any]], **kwargs: Any) -> dict[str, dict[str, Any]]:
    """:func:`evaluate` per group of cases (see :func:`group_of`), plus ``all``."""
    cases = list(cases)
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for case in cases:
        groups.setdefault(group_of(case), []).append(case)
    figures = {name: evaluate(index, members, **kwargs) for name, members in sorted(groups.items())}
    figures["all"] = evaluate(index, cases, **kwargs)
    return figures


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def evaluate(index: Any, cases: Iterable[Mapping[str, Any]], k: int = 5, rounds: int = 1,
             offered: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Recall@k, MRR (over the first 10 results) and latency percentiles of ``index.search``.

    Returns ``{"recall_at_5", "mrr", "n", "p50_ms", "p99_ms", "misses"}`` where ``misses`` lists
    the queries without a hit in the first ``k`` results (the key name stays ``recall_at_5``
    for the default k).
    """
    cases = list(cases)
    if not cases:
        raise ValueError("no evaluation cases")
    hits = 0
    reciprocal_ranks = 0.0
    timings: list[float] = []
    misses: list[dict[str, Any]] = []
    for case in cases:
        expected = {str(e) for e in case["expected"]}
        results: list[dict[str, Any]] = []
        for _ in range(max(1, rounds)):
            started = time.perf_counter()
            results = index.search(case["query"], offered, limit=10, lang=case.get("lang", "de"))
            timings.append((time.perf_counter() - started) * 1000.0)
        rank = next((i for i, r in enumerate(results, 1) if r.get("ozg_id") in expected), None)
        if rank is not None:
            reciprocal_ranks += 1.0 / rank
        if rank is not None and rank <= k:
            hits += 1
        else:
            misses.append({"query": case["query"], "expected": sorted(expected), "rank": rank,
                           "top": [(r.get("ozg_id"), r.get("name")) for r in results[:k]]})
    return {
        "recall_at_5": round(hits / len(cases), 4),
        "mrr": round(reciprocal_ranks / len(cases), 4),
        "n": len(cases),
        "p50_ms": round(percentile(timings, 0.50), 3),
        "p99_ms": round(percentile(timings, 0.99), 3),
        "misses": misses,
    }
