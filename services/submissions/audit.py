"""Audit trail of a case: every read (recorded here) and every state change (the case's
own events, which carry actor and time), queryable per case by tenant admins."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.common.db import ReadStore

DDL = """
CREATE TABLE IF NOT EXISTS case_access_log (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_access_by_case ON case_access_log (case_id, at)
"""


class AuditLog:
    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def close(self) -> None:
        self.store.close()

    def record(self, case_id: str, tenant: str, actor: str, action: str, entry_id: str | None = None) -> str:
        entry_id = entry_id or uuid.uuid4().hex
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO case_access_log (id, case_id, tenant, actor, action, at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                (entry_id, case_id, tenant, actor, action, datetime.now(UTC).isoformat()),
            )
        return entry_id

    def reads(self, case_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT at, actor, action, tenant FROM case_access_log WHERE case_id = ? ORDER BY at", (case_id,)
        )
        return [{"at": at, "actor": actor, "action": action, "tenant": tenant} for at, actor, action, tenant in rows]
