"""Hand-over throughput for ``make bench``: decided cases fetched and acknowledged per second
through the submission API (HTTP Basic client → gateway → handover service → the case data
from submissions), by a few back-office clients at once.

The cases are the bench's own submitted ones, offered in-process as the hand-over consumer
offers a decision (``HandoverApp.offer``) — deciding thousands of cases over HTTP would
measure the clerk's actions, not the hand-over. The client is issued and approved in-process
too (two different actors: four-eyes).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from services.common.db import ReadStore
from services.handover.application import open_handover

VECHTA = "03460009"


def run_handover_bench(base_url: str, var_dir: str, n: int = 2000, tenants: int = 4, clients: int = 2,
                       batch: int = 50) -> dict[str, Any]:
    """``tenants`` with the most cases, ``clients`` competing back-office clients each."""
    os.environ["VR_VAR_DIR"] = var_dir  # the platform's development secret keys the client secrets
    app = open_handover()
    store = ReadStore("submissions")
    try:
        busiest = [row[0] for row in store.query(
            "SELECT tenant FROM worklist GROUP BY tenant ORDER BY COUNT(*) DESC LIMIT ?", (tenants,))]
        rows = store.query(
            f"SELECT case_id, tenant, service_id FROM worklist WHERE tenant IN ({', '.join('?' * len(busiest))}) "
            "ORDER BY submitted_at LIMIT ?", (*busiest, n))
        offered_at = datetime.now(UTC).isoformat()
        started = time.perf_counter()
        for case_id, tenant, service_id in rows:
            app.offer(case_id, tenant, service_id, "approved", offered_at, "bench-handover")
        offer_s = time.perf_counter() - started
        credentials = {}
        for tenant in sorted({row[1] for row in rows}):
            issued = app.register_client(tenant, "Bench-Fachverfahren", ["*"], "bench-admin-a", "bench")
            app.approve_client(issued["client_id"], tenant, "bench-admin-b", "bench")
            credentials[tenant] = (issued["client_id"], issued["client_secret"])
    finally:
        store.close()
        app.close()
    done: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(auth: tuple[str, str]) -> None:
        with httpx.Client(base_url=base_url, auth=auth, timeout=60) as http:
            while True:
                response = http.post("/api/v1/handover/fetch", json={"limit": batch})
                if response.status_code != 200:
                    errors.append(response.text[:200])
                    return
                submissions = response.json()["submissions"]
                if not submissions:
                    return
                for submission in submissions:
                    ack = http.post(f"/api/v1/handover/submissions/{submission['case_id']}/ack")
                    if ack.status_code != 200:
                        errors.append(ack.text[:200])
                with lock:
                    done.append(len(submissions))

    # several clients per tenant compete for the same queue (leases keep them apart)
    workers = [threading.Thread(target=work, args=(auth,)) for auth in credentials.values() for _ in range(clients)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    handed_over = sum(done)
    return {
        "cases_offered": len(rows),
        "offered_per_s": round(len(rows) / offer_s, 1) if offer_s else None,
        "tenants": len(credentials),
        "clients": len(workers),
        "batch": batch,
        "cases_fetched_and_acknowledged": handed_over,
        "duplicates": handed_over - len(rows) if handed_over > len(rows) else 0,
        "seconds": round(elapsed, 2),
        "cases_per_s": round(handed_over / elapsed, 1) if elapsed else None,
        "errors": errors[:5],
    }
