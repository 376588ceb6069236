"""The daily retention job: ``python -m services.ops retention [--dry-run] [--tenant AGS]``.

Opens the catalog (retention periods: the tenant's own, else the service's) and the
submissions store (the cases, the erasure) through their factories, and prints a report of
what it erased. Idempotent and resumable (:mod:`services.submissions.retention`); run it
daily from cron or a Kubernetes CronJob.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.common import logs
from services.common.db import ReadStore
from services.ops.platform import opened


def retention(dry_run: bool = False, tenant: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    from services.submissions.audit import AuditLog
    from services.submissions.partitioning import open_case_store
    from services.submissions.retention import run_retention

    correlation_id = logs.new_correlation_id()
    store = ReadStore("submissions")
    submissions = open_case_store()  # every case partition: each case is erased where its id says
    try:
        with opened("catalog") as catalog:
            report = run_retention(submissions, store, AuditLog(store), catalog.retention_months,
                                   now or datetime.now(UTC), correlation_id, dry_run=dry_run, tenant=tenant)
    finally:
        submissions.close()
        store.close()
    logs.get_logger("ops").info("retention_run", dry_run=dry_run, cases=report["cases"], tenant=tenant)
    return report
