"""Read models of the submissions service: the clerk worklist and the citizen case status.

Both are folded from the same integration events by one pure function (:func:`fold`),
written in one transaction per batch together with the tracking record (the highest
applied event-store position), and can be dropped and rebuilt from the event store.
Idempotent by construction: an event whose version the row already has is skipped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from services.common.db import ReadStore
from services.common.partitions import partition_of_position, schema_name
from services.common.problems import DomainError
from services.submissions import rebuilding
from services.submissions.casefold import fold, status_view
from services.submissions.domain import FINAL, STATUS_DE, Status

PROJECTIONS = ("worklist", "case_status")

DDL = """
CREATE TABLE IF NOT EXISTS worklist (
    case_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    reference TEXT NOT NULL,
    service_id TEXT NOT NULL,
    status TEXT NOT NULL,
    is_open INTEGER NOT NULL,
    submitted_at TEXT NOT NULL,
    due_date TEXT NOT NULL,
    assignee TEXT,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS worklist_by_age ON worklist (tenant, is_open, submitted_at, case_id);
CREATE INDEX IF NOT EXISTS worklist_by_due ON worklist (tenant, is_open, due_date, case_id);
CREATE INDEX IF NOT EXISTS worklist_by_reference ON worklist (tenant, is_open, reference, case_id);
CREATE INDEX IF NOT EXISTS worklist_by_status ON worklist (tenant, status, submitted_at, case_id);
CREATE TABLE IF NOT EXISTS case_status (
    case_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    applicant_ref TEXT NOT NULL,
    version INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_status_by_applicant ON case_status (applicant_ref);
CREATE TABLE IF NOT EXISTS projection_tracking (
    projection TEXT PRIMARY KEY,
    position BIGINT NOT NULL
)
"""


WORKLIST_COLUMNS = ("case_id", "tenant", "reference", "service_id", "status", "is_open", "submitted_at",
                    "due_date", "assignee", "version", "updated_at")
STATUS_COLUMNS = ("case_id", "tenant", "applicant_ref", "version", "state")


def _worklist_row(state: dict[str, Any]) -> tuple:
    return (
        state["case_id"], state["tenant"], state["reference"], state["service_id"], state["status"],
        0 if Status(state["status"]) in FINAL else 1, state["submitted_at"],
        state["information_due"] or state["processing_due"], state["assignee"], state["version"],
        state["updated_at"],
    )


def _status_row(state: dict[str, Any]) -> tuple:
    return (state["case_id"], state["tenant"], state["applicant_ref"], state["version"],
            json.dumps(state, ensure_ascii=False))


def _insert(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "


#: Each read model's columns and how a fold state becomes its row (the rebuild copies by them).
ROWS = {"worklist": (WORKLIST_COLUMNS, _worklist_row), "case_status": (STATUS_COLUMNS, _status_row)}
UPSERT_WORKLIST = (
    _insert("worklist", WORKLIST_COLUMNS)
    + "ON CONFLICT (case_id) DO UPDATE SET status = excluded.status, is_open = excluded.is_open, "
    "due_date = excluded.due_date, assignee = excluded.assignee, version = excluded.version, "
    "updated_at = excluded.updated_at WHERE worklist.version < excluded.version"
)
UPSERT_STATUS = (
    _insert("case_status", STATUS_COLUMNS)
    + "ON CONFLICT (case_id) DO UPDATE SET version = excluded.version, state = excluded.state "
    "WHERE case_status.version < excluded.version"
)


class CaseReadModels:
    """Writes and queries the worklist and case-status tables."""

    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def close(self) -> None:
        self.store.close()

    # -- writing -------------------------------------------------------------------------
    def apply(self, envelopes: Iterable[dict[str, Any]], projections: tuple[str, ...] = PROJECTIONS) -> int:
        """Apply a batch in one transaction with its tracking record; returns events applied."""
        envelopes = [e for e in envelopes if e.get("type", "").startswith("case.")]
        with self.store.transaction() as cur:
            return self._apply(cur, envelopes, projections)

    def _apply(self, cur: Any, envelopes: list[dict[str, Any]], projections: tuple[str, ...]) -> int:
        if not envelopes:
            return 0
        states = self._read_states(cur, {e["aggregate_id"] for e in envelopes})
        changed: dict[str, dict[str, Any]] = {}
        applied = 0
        for envelope in sorted(envelopes, key=lambda e: (e["aggregate_id"], e["aggregate_version"])):
            new = fold(states.get(envelope["aggregate_id"]), envelope)
            if new is not None:
                states[new["case_id"]] = changed[new["case_id"]] = new
                applied += 1
        self._write(cur, list(changed.values()), projections)
        # one tracking row per projection and case partition (``worklist``, ``worklist_p1`` …):
        # positions of two partitions are not comparable
        heads: dict[int, int] = {}
        for e in envelopes:
            if e.get("position") is not None:
                partition = partition_of_position(e["position"])
                heads[partition] = max(heads.get(partition, 0), int(e["position"]))
        for partition, position in heads.items():
            self._track(cur, tuple(schema_name(p, partition) for p in projections), position)
        return applied

    @staticmethod
    def _read_states(cur: Any, case_ids: set[str]) -> dict[str, dict[str, Any]]:
        """The stored fold states of these cases (those that have one)."""
        ids = sorted(case_ids)
        states: dict[str, dict[str, Any]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            for (state,) in cur.execute(f"SELECT state FROM case_status WHERE case_id IN ({marks})", part).fetchall():
                loaded = json.loads(state)
                states[loaded["case_id"]] = loaded
        return states

    def _write(self, cur: Any, states: list[dict[str, Any]], projections: tuple[str, ...]) -> None:
        if "worklist" in projections:
            cur.executemany(UPSERT_WORKLIST, [_worklist_row(s) for s in states])
        # case_status holds the fold state, so it is always written (the worklist derives from it)
        cur.executemany(UPSERT_STATUS, [_status_row(s) for s in states])

    def _track(self, cur: Any, projections: tuple[str, ...], position: int) -> None:
        for projection in projections:
            cur.execute(
                "INSERT INTO projection_tracking (projection, position) VALUES (?, ?) ON CONFLICT (projection) "
                "DO UPDATE SET position = excluded.position WHERE projection_tracking.position < excluded.position",
                (projection, position),
            )

    def positions(self) -> dict[str, int]:
        rows = self.store.query("SELECT projection, position FROM projection_tracking")
        return {name: int(position) for name, position in rows}

    # -- reading ---------------------------------------------------------------------------
    def case_state(self, case_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT state FROM case_status WHERE case_id = ?", (case_id,))
        return json.loads(rows[0][0]) if rows else None

    def cases_of_applicant(self, applicant_ref: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT state FROM case_status WHERE applicant_ref = ? ORDER BY case_id LIMIT ?", (applicant_ref, limit)
        )
        return [status_view(json.loads(state)) for (state,) in rows]

    def worklist(
        self,
        tenant: str,
        *,
        state: str = "open",
        status: str | None = None,
        service_ids: list[str] | None = None,
        assignee: str | None = None,
        sort: str = "submitted_at",
        order: str = "asc",
        limit: int = 50,
        cursor: str | None = None,
        now: datetime | None = None,
    ) -> dict[str, Any]:
        """One page of a tenant's worklist, filtered inside the query, keyset-paginated."""
        where, params = ["tenant = ?"], [tenant]
        if state != "all":
            where.append("is_open = ?")
            params.append(1 if state == "open" else 0)
        if status:
            where.append("status = ?")
            params.append(status)
        if service_ids is not None:
            if not service_ids:
                return {"items": [], "next_cursor": None}
            where.append(f"service_id IN ({','.join('?' * len(service_ids))})")
            params.extend(service_ids)
        if assignee == "none":
            where.append("assignee IS NULL")
        elif assignee:
            where.append("assignee = ?")
            params.append(assignee)
        op, direction = (">", "ASC") if order == "asc" else ("<", "DESC")
        if cursor:
            after_value, after_id = decode_cursor(cursor, sort)
            where.append(f"({sort}, case_id) {op} (?, ?)")
            params.extend([after_value, after_id])
        sql = (
            "SELECT case_id, reference, service_id, status, submitted_at, due_date, assignee, version, updated_at "
            f"FROM worklist WHERE {' AND '.join(where)} ORDER BY {sort} {direction}, case_id {direction} LIMIT ?"
        )
        rows = self.store.query(sql, (*params, limit + 1))
        now = now or datetime.now(UTC)
        items = [
            {
                "case_id": r[0],
                "reference": r[1],
                "service_id": r[2],
                "status": r[3],
                "status_text": STATUS_DE[Status(r[3])],
                "submitted_at": r[4],
                "age_days": (now - datetime.fromisoformat(r[4])).days,
                "due_date": r[5],
                "overdue": r[5] < now.date().isoformat(),
                "assignee": r[6],
                "version": r[7],
                "updated_at": r[8],
            }
            for r in rows[:limit]
        ]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(sort, last[sort], last["case_id"])
        return {"items": items, "next_cursor": next_cursor}

    # -- rebuilding ------------------------------------------------------------------------
    def rebuild(
        self,
        envelopes: Iterable[dict[str, Any]],
        projections: tuple[str, ...] = PROJECTIONS,
        tenant: str | None = None,
        head: int | dict[int, int] | None = None,
        max_states: int = rebuilding.REBUILD_MAX_STATES,
    ) -> int:
        """Drop and refold (all tenants or one) in one transaction (services/submissions/rebuilding.py);
        ``head``: the notification id folded up to (per case partition when a dict)."""
        whole = self.store.postgres and tenant is None and set(projections) == set(PROJECTIONS)
        target = rebuilding.Swap(DDL, ROWS) if whole else rebuilding.InPlace(self, projections, tenant)
        return rebuilding.rebuild(self.store, target, envelopes, projections, tenant, head, max_states)


def encode_cursor(sort: str, value: Any, case_id: str) -> str:
    raw = json.dumps([sort, value, case_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, case_id = json.loads(raw)
    except (ValueError, TypeError):
        raise DomainError("invalid_cursor") from None
    if cursor_sort != sort or not isinstance(value, str) or not isinstance(case_id, str):
        raise DomainError("invalid_cursor")
    return value, case_id
