"""The KPI read model: one row per case, draft and payment outcome, folded from the
integration events of submissions and payments — never from their tables.

Why facts and not counters: every row is keyed by the aggregate (case, draft) or by the
event (payment id and version) and written with upserts that keep what is known, so an
event delivered twice, or v1 and v2 of the same decision, or events out of order change
nothing — the rows *are* the tracking records, in the same transaction as the effect. The
per-day numbers are counted from these rows when asked (:mod:`services.insights.report`).

No personal data: no names, addresses, form contents or applicant references — only ids
of cases, drafts and payments, the tenant, the service, dates, outcomes and the form page
where a draft was left. So the model survives an erasure and needs no erasure of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.common.db import ReadStore
from services.common.partitions import source_of_position
from services.insights.report import ZONE

DDL = """
CREATE TABLE IF NOT EXISTS kpi_cases (
    case_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, service_id TEXT NOT NULL,
    submitted_at TEXT, submitted_on TEXT, processing_days INTEGER,
    decided_at TEXT, decided_on TEXT, decision TEXT, information_requested INTEGER NOT NULL DEFAULT 0,
    withdrawn_at TEXT);
CREATE INDEX IF NOT EXISTS kpi_cases_tenant ON kpi_cases (tenant, submitted_on);
CREATE TABLE IF NOT EXISTS kpi_drafts (
    draft_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, service_id TEXT NOT NULL,
    started_on TEXT, submitted_on TEXT, discarded_on TEXT, last_page TEXT, page_version INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS kpi_drafts_tenant ON kpi_drafts (tenant, started_on);
CREATE TABLE IF NOT EXISTS kpi_payments (
    payment_id TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT NOT NULL, service_id TEXT NOT NULL,
    day TEXT NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (payment_id, version));
CREATE INDEX IF NOT EXISTS kpi_payments_tenant ON kpi_payments (tenant, day);
CREATE TABLE IF NOT EXISTS kpi_position (source TEXT PRIMARY KEY, position BIGINT NOT NULL);
"""
TABLES = ("kpi_cases", "kpi_drafts", "kpi_payments")

PAYMENT_OUTCOMES = {"payment.succeeded": "succeeded", "payment.failed": "failed", "payment.refunded": "refunded"}
DECISIONS = {"case.approved": "approved", "case.rejected": "rejected"}

Statement = tuple[str, tuple[Any, ...]]


def local_day(timestamp: str) -> str:
    """The Berlin date of an ISO 8601 timestamp (naive ones are UTC, as the envelopes')."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZONE).date().isoformat()


def source_of(envelope: dict[str, Any]) -> str:
    """Whose event store the envelope's ``position`` counts in."""
    base = "payments" if str(envelope.get("type", "")).startswith("payment.") else "submissions"
    return source_of_position(base, envelope.get("position"))  # one source per case partition


def statements(envelope: dict[str, Any]) -> list[Statement]:
    """The upserts one integration event causes (none for events the KPIs do not count)."""
    kind = ".".join(str(envelope.get("type", "")).split(".")[:2])
    tenant, service = str(envelope["tenant"]), str(envelope.get("service_id") or "")
    aggregate, at = str(envelope["aggregate_id"]), str(envelope["occurred_at"])
    data = envelope.get("data") or {}
    if kind == "case.submitted":
        submitted = str(data.get("submitted_at") or at)
        return [(
            "INSERT INTO kpi_cases (case_id, tenant, service_id, submitted_at, submitted_on, processing_days) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET submitted_at = excluded.submitted_at, "
            "submitted_on = excluded.submitted_on, processing_days = excluded.processing_days",
            (aggregate, tenant, service, submitted, local_day(submitted), data.get("processing_days")),
        )]
    if kind in DECISIONS:  # v1 and v2 both arrive: the first one counts
        return [(
            "INSERT INTO kpi_cases (case_id, tenant, service_id, decided_at, decided_on, decision) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (case_id) DO UPDATE SET decided_at = COALESCE(kpi_cases.decided_at, excluded.decided_at), "
            "decided_on = COALESCE(kpi_cases.decided_on, excluded.decided_on), "
            "decision = COALESCE(kpi_cases.decision, excluded.decision)",
            (aggregate, tenant, service, at, local_day(at), DECISIONS[kind]),
        )]
    if kind == "case.information_requested":
        return [(
            "INSERT INTO kpi_cases (case_id, tenant, service_id, information_requested) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (case_id) DO UPDATE SET information_requested = 1",
            (aggregate, tenant, service),
        )]
    if kind == "case.withdrawn":
        return [(
            "INSERT INTO kpi_cases (case_id, tenant, service_id, withdrawn_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (case_id) DO UPDATE SET withdrawn_at = COALESCE(kpi_cases.withdrawn_at, excluded.withdrawn_at)",
            (aggregate, tenant, service, at),
        )]
    if kind in ("draft.started", "draft.saved"):
        started = local_day(at) if kind == "draft.started" else None
        version = int(envelope.get("aggregate_version") or 0)
        return [(
            "INSERT INTO kpi_drafts (draft_id, tenant, service_id, started_on, last_page, page_version) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (draft_id) DO UPDATE SET "
            "started_on = COALESCE(kpi_drafts.started_on, excluded.started_on), "
            "last_page = CASE WHEN excluded.page_version > kpi_drafts.page_version THEN excluded.last_page ELSE kpi_drafts.last_page END, "
            "page_version = CASE WHEN excluded.page_version > kpi_drafts.page_version THEN excluded.page_version ELSE kpi_drafts.page_version END",
            (aggregate, tenant, service, started, data.get("page"), version),
        )]
    if kind in ("draft.submitted", "draft.discarded"):
        column = "submitted_on" if kind == "draft.submitted" else "discarded_on"
        return [(
            f"INSERT INTO kpi_drafts (draft_id, tenant, service_id, {column}) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT (draft_id) DO UPDATE SET {column} = COALESCE(kpi_drafts.{column}, excluded.{column})",
            (aggregate, tenant, service, local_day(at)),
        )]
    if kind in PAYMENT_OUTCOMES:
        return [(
            "INSERT INTO kpi_payments (payment_id, version, tenant, service_id, day, outcome) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (payment_id, version) DO NOTHING",
            (aggregate, int(envelope.get("aggregate_version") or 0), tenant, service, local_day(at), PAYMENT_OUTCOMES[kind]),
        )]
    return []


class KpiReadModel:
    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def close(self) -> None:  # Provided() calls it when the container stops
        self.store.close()

    def _fold(self, cur: Any, envelopes: Iterable[dict[str, Any]], tenant: str | None = None) -> int:
        applied, heads = 0, {}
        for envelope in envelopes:
            source = source_of(envelope)
            if envelope.get("position") is not None:
                heads[source] = max(heads.get(source, 0), int(envelope["position"]))
            if tenant not in (None, envelope.get("tenant")):
                continue
            for sql, params in statements(envelope):
                applied += max(cur.execute(sql, params).rowcount, 0)
        for source, position in heads.items():
            cur.execute(
                "INSERT INTO kpi_position (source, position) VALUES (?, ?) ON CONFLICT (source) DO UPDATE "
                "SET position = excluded.position WHERE kpi_position.position < excluded.position",
                (source, position),
            )
        return applied

    def apply(self, envelopes: Iterable[dict[str, Any]]) -> int:
        """Fold a batch of integration events in one transaction; rows changed."""
        with self.store.transaction() as cur:
            return self._fold(cur, envelopes)

    def rebuild(self, envelopes: Iterable[dict[str, Any]], tenant: str | None = None) -> int:
        """Empty (all tenants or one) and refold from the given events, in one transaction."""
        with self.store.transaction(exclusive=True) as cur:
            where, params = (" WHERE tenant = ?", (tenant,)) if tenant else ("", ())
            for table in TABLES:
                cur.execute(f"DELETE FROM {table}{where}", params)
            return self._fold(cur, envelopes, tenant)

    def positions(self) -> dict[str, int]:
        return {str(s): int(p) for s, p in self.store.query("SELECT source, position FROM kpi_position")}

    def facts(self, tenant: str | None, service: str | None) -> dict[str, list[tuple]]:
        """The rows of one tenant (or all), optionally of one service, for the report."""
        where, params = ["1 = 1"], []
        if tenant:
            where.append("tenant = ?")
            params.append(tenant)
        if service:
            where.append("service_id = ?")
            params.append(service)
        clause = " AND ".join(where)
        return {
            "cases": self.store.query(
                "SELECT tenant, service_id, submitted_at, submitted_on, processing_days, decided_at, decided_on, "
                f"decision, information_requested, withdrawn_at FROM kpi_cases WHERE {clause}", params),
            "drafts": self.store.query(
                f"SELECT tenant, service_id, started_on, submitted_on, discarded_on, last_page FROM kpi_drafts WHERE {clause}",
                params),
            "payments": self.store.query(f"SELECT tenant, service_id, day, outcome FROM kpi_payments WHERE {clause}", params),
        }
