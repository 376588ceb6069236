"""Retention: a case's personal data are erased a set number of months after its decision
(per service, changeable per tenant — the catalog knows the period), by the same mechanism
as an account deletion (:func:`services.submissions.privacy.erase_case`): reference, dates,
fee, decision and status stay, and so do the KPI figures folded from them.

The daily job (``python -m services.ops retention``) is idempotent and resumable: a case
already erased is skipped, each case is erased on its own, so a run that stopped half way
is completed by the next. ``dry_run`` lists what would be erased and changes nothing.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from services.common.cases import FINAL
from services.submissions.application import SubmissionsApp
from services.submissions.drafting import attachment_ref
from services.submissions.privacy import erase_attachment, erase_case

RETENTION_ACTOR = "system:retention"
DECISIONS = ("Approved", "Rejected", "Withdrawn")


@dataclass(frozen=True)
class Expired:
    case_id: str
    reference: str
    tenant: str
    service_id: str
    decided_at: str
    retention_months: int
    expired_at: str
    events_redacted: int = 0


def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def decided_at(app: SubmissionsApp, case_id: str) -> datetime | None:
    for event in reversed(app.case_events(case_id)):
        if type(event).__name__ in DECISIONS:
            return event.timestamp
    return None


def expired_cases(app: SubmissionsApp, store: Any, months_for: Callable[[str, str], int | None], now: datetime,
                  tenant: str | None = None) -> list[Expired]:
    """Decided cases whose retention period ran out and whose personal data are still there
    (found through the worklist read model; decided by the case's own events)."""
    where, params = ["is_open = 0", "updated_at <= ?"], [add_months(now, -1).isoformat()]  # a month at least
    if tenant:
        where.append("tenant = ?")
        params.append(tenant)
    rows = store.query(f"SELECT case_id, tenant, service_id, reference FROM worklist WHERE {' AND '.join(where)} "
                       "ORDER BY updated_at, case_id", params)
    found = []
    for case_id, case_tenant, service_id, reference in rows:
        months = months_for(case_tenant, service_id)
        if months is None:
            continue
        case = app.get_case(case_id)
        decided = decided_at(app, case_id)
        if case.status not in FINAL or case.personal_data_erased or decided is None:
            continue
        if add_months(decided, months) <= now:
            found.append(Expired(case_id, reference, case_tenant, service_id, decided.isoformat(), months,
                                 add_months(decided, months).isoformat()))
    return found


def run_retention(app: SubmissionsApp, store: Any, audit: Any, months_for: Callable[[str, str], int | None],
                  now: datetime, correlation_id: str, dry_run: bool = False,
                  tenant: str | None = None) -> dict[str, Any]:
    """Erase every expired case (or, dry run, only list them); the report of what was erased."""
    expired = expired_cases(app, store, months_for, now, tenant)
    erased: list[Expired] = []
    for item in expired:
        if dry_run:
            erased.append(item)
            continue
        form_data = app.get_case(item.case_id).form_data
        files = [ref for ref in (attachment_ref(v) for v in form_data.values()) if ref]
        result = erase_case(app.of_case(item.case_id), item.case_id, RETENTION_ACTOR, correlation_id)
        rewritten = result.events_redacted + sum(
            erase_attachment(app.files, ref, RETENTION_ACTOR, correlation_id) for ref in files)
        entry = str(uuid5(UUID(item.case_id), "personal_data_redacted"))
        audit.record(item.case_id, item.tenant, RETENTION_ACTOR, "retention_expired", entry_id=entry)
        erased.append(Expired(**{**asdict(item), "events_redacted": rewritten}))
    return {"dry_run": dry_run, "run_at": now.isoformat(), "cases": len(erased),
            "erased": [asdict(e) for e in erased]}
