"""``python -m services.catalog.search [cases.yaml]``: the offline search evaluation on the
packaged data and definitions (no database), printing every miss and the figures."""

from __future__ import annotations

import sys
import time

from services.catalog.definitions import load_definitions
from services.catalog.reference import DATA_DIR
from services.catalog.search.evaluation import DEFAULT_CASES, evaluate_groups, load_cases
from services.catalog.search.index import SearchIndex


def main(argv: list[str]) -> int:
    started = time.perf_counter()
    index = SearchIndex.load(DATA_DIR, load_definitions())
    load_ms = (time.perf_counter() - started) * 1000.0
    groups = evaluate_groups(index, load_cases(argv[0] if argv else DEFAULT_CASES))
    for miss in groups["all"]["misses"]:
        print(f"MISS {miss['query']!r} expected {miss['expected']} rank {miss['rank']}")
        for ozg_id, name in miss["top"]:
            print(f"       {ozg_id} {name}")
    print({"load_ms": round(load_ms, 1)})
    for name, report in groups.items():
        print(name, {k: v for k, v in report.items() if k != "misses"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
