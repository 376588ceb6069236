"""The KPIs of a period, counted from the read model's facts (pure: no SQL, no nameko).

Days are Berlin dates (``YYYY-MM-DD``), ``date_from`` and ``date_to`` inclusive. Counts
per day and service are what happened that day; the summary per service adds the
durations from submission to decision of the cases *decided* in the period (median and
90th percentile, nearest rank, in days) against the published processing time, the
share of them decided without an information request, and the backlog and overdue cases
at the end of the period (or now, if that is earlier).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

#: Days are counted in the municipalities' time zone.
ZONE = ZoneInfo("Europe/Berlin")

DAY_FIELDS = (
    "drafts_started", "drafts_submitted", "submissions", "decisions",
    "payments_succeeded", "payments_failed", "payments_refunded",
)
SUMMARY_FIELDS = (
    *DAY_FIELDS, "draft_completion_rate", "approved", "rejected", "withdrawn",
    "decided_without_information_request", "share_without_information_request",
    "decision_days_median", "decision_days_p90", "processing_days", "decided_within_processing_time",
    "backlog", "overdue",
)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0.5 is the median of an odd count's middle)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report(facts: dict[str, list[tuple]], date_from: date, date_to: date, now: datetime | None = None) -> dict[str, Any]:
    first, last = date_from.isoformat(), date_to.isoformat()
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), ZONE)
    cutoff = min(end, now or datetime.now(UTC))
    days: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    summary: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {"durations": [], "pages": Counter(), **dict.fromkeys(SUMMARY_FIELDS, 0)})

    def inside(day: str | None) -> bool:
        return bool(day) and first <= day <= last

    for tenant, service, started, submitted, _discarded, page in facts["drafts"]:
        if inside(started):
            days[(started, tenant, service)]["drafts_started"] += 1
            summary[(tenant, service)]["drafts_started"] += 1
            if not submitted:
                summary[(tenant, service)]["pages"][page or "?"] += 1
        if inside(submitted):
            days[(submitted, tenant, service)]["drafts_submitted"] += 1
            summary[(tenant, service)]["drafts_submitted"] += 1
    for tenant, service, day, outcome in facts["payments"]:
        if inside(day):
            days[(day, tenant, service)][f"payments_{outcome}"] += 1
            summary[(tenant, service)][f"payments_{outcome}"] += 1
    for (tenant, service, submitted_at, submitted_on, processing_days, decided_at, decided_on,
         decision, information_requested, withdrawn_at) in facts["cases"]:
        row = summary[(tenant, service)]
        if processing_days:
            row["processing_days"] = int(processing_days)
        if inside(submitted_on):
            days[(submitted_on, tenant, service)]["submissions"] += 1
            row["submissions"] += 1
        submitted, decided, withdrawn = _moment(submitted_at), _moment(decided_at), _moment(withdrawn_at)
        if inside(decided_on):
            days[(decided_on, tenant, service)]["decisions"] += 1
            row["decisions"] += 1
            row[decision] += 1
            row["decided_without_information_request"] += 0 if information_requested else 1
            if submitted and decided:
                took = (decided - submitted).total_seconds() / 86400
                row["durations"].append(took)
                if processing_days and took <= int(processing_days):
                    row["decided_within_processing_time"] += 1
        if withdrawn and inside(withdrawn.astimezone(ZONE).date().isoformat()):
            row["withdrawn"] += 1
        if submitted and submitted < cutoff and not (decided and decided < cutoff) and not (withdrawn and withdrawn < cutoff):
            row["backlog"] += 1
            if processing_days and submitted + timedelta(days=int(processing_days)) < cutoff:
                row["overdue"] += 1

    services = [_finish(tenant, service, row) for (tenant, service), row in sorted(summary.items())]
    total = _finish(None, None, _merge(summary.values()))
    total.pop("processing_days")
    return {
        "from": first, "to": last, "timezone": str(ZONE),
        "total": total,
        "services": services,
        "days": [
            {"date": day, "tenant": tenant, "service_id": service, **{k: counts[k] for k in DAY_FIELDS}}
            for (day, tenant, service), counts in sorted(days.items())
        ],
    }


def _merge(rows: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {"durations": [], "pages": Counter(), **dict.fromkeys(SUMMARY_FIELDS, 0)}
    for row in rows:
        for key in SUMMARY_FIELDS:
            if isinstance(row[key], int) and key != "processing_days":
                merged[key] += row[key]
        merged["durations"] += row["durations"]
        merged["pages"] += row["pages"]
    return merged


def _finish(tenant: str | None, service: str | None, row: dict[str, Any]) -> dict[str, Any]:
    durations, pages = row["durations"], row["pages"]
    median, p90 = percentile(durations, 0.5), percentile(durations, 0.9)
    head = {"tenant": tenant, "service_id": service} if service is not None else {}
    return {
        **head,
        **{k: row[k] for k in SUMMARY_FIELDS},
        "draft_completion_rate": _rate(row["drafts_submitted"], row["drafts_started"]),
        "share_without_information_request": _rate(row["decided_without_information_request"], row["decisions"]),
        "decision_days_median": None if median is None else round(median, 2),
        "decision_days_p90": None if p90 is None else round(p90, 2),
        "processing_days": row["processing_days"] or None,
        "drop_off_pages": dict(sorted(pages.items())),
    }
