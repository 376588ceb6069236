"""Bench step ``partitions``: the same submissions through the real platform with the case
event store in 1 and then in 2 partitions (services/common/partitions.py), each partition
with its own relay. The platform's case-store processes (submissions, projector, the payment
consumer) are restarted with ``CASE_PARTITIONS`` set and ``relay-p1`` is started for 2.
Rounds alternate (1 2 1 2) so that load from elsewhere on the shared box does not land on
one setting only; compare within one run. Afterwards the platform is back at 1 partition.
"""

from __future__ import annotations

import signal
import sys
import time
from typing import Any

from bench.common import BenchPlatform
from tests import support

#: the processes that open the case store (the relays are per partition)
CASE_STORE_PROCESSES = ("submissions", "projector", "submissions-payments")
PARTITION_MAP = ""  # the default: tenants spread by a stable hash of their AGS


def set_partitions(plat: BenchPlatform, partitions: int) -> None:
    for name in CASE_STORE_PROCESSES:
        plat.restart(name, CASE_PARTITIONS=str(partitions), CASE_PARTITION_MAP=PARTITION_MAP)
    for k in range(1, 2):
        name = f"relay-p{k}"
        if partitions > k and name not in plat.procs:
            plat.PLAIN = {**plat.PLAIN, name: ["-m", "services.submissions.relay", "--partition", str(k)]}
            plat.metrics_ports.setdefault(name, support.free_port())
            started = plat.tail(name, 10**8).count("relay_started")
            plat.start(name)
            wait_started(plat, name, started)
        elif partitions <= k and name in plat.procs:
            plat.kill(name, signal.SIGTERM)


def wait_started(plat: BenchPlatform, name: str, before: int, timeout: float = 120.0) -> None:
    """Until the relay logged its start (on a box whose PostgreSQL is shared it may be refused
    a connection and be restarted by the supervisor first): no round measures a missing relay."""
    deadline = time.monotonic() + timeout
    while plat.tail(name, 10**8).count("relay_started") <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not start: {plat.tail(name)}")
        time.sleep(0.5)


def prepare(partitions: int = 2) -> None:
    """Create every partition's schema and tables before the processes race for them."""
    from services.submissions.application import open_submissions

    for k in range(partitions):
        open_submissions(k).close()


def partition_runs(submit: Any, plat: BenchPlatform, n: int, rounds: int, raw_insert: float | None,
                   tenants: tuple[str, ...]) -> dict[str, Any]:
    """``submit(n, tag)`` per round and setting; the figures per run and the mean per setting."""
    from services.common.partitions import PartitionMap

    prepare(2)
    spread = [PartitionMap(2).of_tenant(t) for t in tenants]
    runs: list[dict[str, Any]] = []
    try:
        for rep in range(1, rounds + 1):
            for partitions in (1, 2):
                set_partitions(plat, partitions)
                print(f"[bench] partitions={partitions} round {rep}", file=sys.stderr)
                run = submit(n, f"part{partitions}-{rep}")
                run["partitions"] = f"{partitions} (round {rep})"
                run["ratio_end_to_end_vs_raw_insert"] = (
                    round((run["end_to_end_per_s"] or 0) / raw_insert, 3) if raw_insert else None)
                runs.append(run)
    finally:
        set_partitions(plat, 1)
    summary = {}
    for partitions in (1, 2):
        mine = [r for r in runs if r["partitions"].startswith(f"{partitions} ")]
        summary[str(partitions)] = {
            key: round(sum(r[key] or 0 for r in mine) / len(mine), 1)
            for key in ("submissions_per_s", "end_to_end_per_s")
        } | {
            "ratio_end_to_end_vs_raw_insert": round(sum(r["ratio_end_to_end_vs_raw_insert"] or 0 for r in mine) / len(mine), 3),
            "submit_p99_ms": max(r["submit_latency"]["p99_ms"] or 0 for r in mine),
            "visible_p99_ms": max(r["submit_to_visible_latency"]["p99_ms"] or 0 for r in mine),
        }
    return {"n": n, "rounds": rounds, "raw_insert_rows_per_s": raw_insert,
            "tenants_per_partition": {str(k): spread.count(k) for k in (0, 1)}, "runs": runs, "mean": summary}
