"""The hand-over queue and the client list, folded from the hand-over event store.

Why a folded table: fetching "the next submissions in order" needs an index over every
open hand-over of a tenant; the aggregates decide (a lease, an acknowledgement), the table
only finds candidates, so a stale row costs a refused lease, never a double hand-over. The
order is the position of ``Offered`` in the event store's notification log.
"""

from __future__ import annotations

from typing import Any

from services.common.projection import FoldedReadModel, Statement
from services.handover.domain import ACTIVE, REVOKED, BackofficeClient, Handover

DDL = """
CREATE TABLE IF NOT EXISTS handover_queue (handover_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, tenant TEXT NOT NULL,
    service_id TEXT NOT NULL, outcome TEXT NOT NULL, decided_at TEXT NOT NULL, offered_at TEXT NOT NULL,
    seq BIGINT NOT NULL, deliveries INTEGER NOT NULL, lease_until TEXT, acknowledged_at TEXT,
    version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS handover_queue_open ON handover_queue (tenant, acknowledged_at, seq);
CREATE TABLE IF NOT EXISTS handover_clients (client_id TEXT PRIMARY KEY, tenant TEXT NOT NULL,
    name TEXT NOT NULL, service_keys TEXT NOT NULL, status TEXT NOT NULL, requested_by TEXT NOT NULL,
    approved_by TEXT, created_at TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS handover_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
NEWER = "WHERE handover_id = ? AND version < ?"
CLIENT_NEWER = "WHERE client_id = ? AND version < ?"


class HandoverBoard(FoldedReadModel):
    DDL = DDL
    TABLES = ("handover_queue", "handover_clients")
    POSITION_TABLE, BOARD = "handover_position", "queue"

    def statements(self, event: Any) -> list[Statement]:
        version = event.originator_version
        if isinstance(event, Handover.Offered):
            # the sequence: offered_at in microseconds is monotonic enough and needs no position
            seq = int(event.timestamp.timestamp() * 1_000_000)
            return [(
                "INSERT INTO handover_queue (handover_id, case_id, tenant, service_id, outcome, decided_at, offered_at, seq, "
                "deliveries, lease_until, acknowledged_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL, ?) "
                "ON CONFLICT (handover_id) DO NOTHING",
                (str(event.originator_id), event.case_id, event.tenant, event.service_id, event.outcome, event.decided_at,
                 event.timestamp.isoformat(), seq, version),
            )]
        key = str(event.originator_id)
        if isinstance(event, Handover.Fetched):
            return [(f"UPDATE handover_queue SET deliveries = ?, lease_until = ?, version = ? {NEWER}",
                     (event.delivery, event.lease_until, version, key, version))]
        if isinstance(event, Handover.Acknowledged | Handover.Exported):
            return [(f"UPDATE handover_queue SET acknowledged_at = ?, lease_until = NULL, version = ? {NEWER}",
                     (event.at, version, key, version))]
        client = str(event.originator_id)
        if isinstance(event, BackofficeClient.Registered):
            return [(
                "INSERT INTO handover_clients (client_id, tenant, name, service_keys, status, requested_by, "
                "approved_by, created_at, version) VALUES (?, ?, ?, ?, 'pending', ?, NULL, ?, ?) "
                "ON CONFLICT (client_id) DO NOTHING",
                (client, event.tenant, event.name, ",".join(event.service_keys), event.actor,
                 event.timestamp.isoformat(), version),
            )]
        if isinstance(event, BackofficeClient.Approved):
            return [(f"UPDATE handover_clients SET status = ?, approved_by = ?, version = ? {CLIENT_NEWER}",
                     (ACTIVE, event.actor, version, client, version))]
        if isinstance(event, BackofficeClient.Revoked):
            return [(f"UPDATE handover_clients SET status = ?, version = ? {CLIENT_NEWER}",
                     (REVOKED, version, client, version))]
        return []

    def candidates(self, tenant: str, service_keys: list[str], now: str, limit: int) -> list[str]:
        """Case ids of the tenant's unacknowledged hand-overs whose lease (if any) ran out, in order."""
        where, params = "", [tenant, now]
        if "*" not in service_keys:
            where = f" AND service_id IN ({', '.join('?' for _ in service_keys)})"
            params.extend(service_keys)
        rows = self.store.query(
            "SELECT case_id FROM handover_queue WHERE tenant = ? AND acknowledged_at IS NULL "
            f"AND (lease_until IS NULL OR lease_until <= ?){where} ORDER BY seq, case_id LIMIT ?",
            (*params, limit),
        )
        return [row[0] for row in rows]

    def clients(self, tenant: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT client_id, tenant, name, service_keys, status, requested_by, approved_by, created_at "
            "FROM handover_clients WHERE tenant = ? ORDER BY created_at, client_id", (tenant,))
        names = ("client_id", "tenant", "name", "service_keys", "status", "requested_by", "approved_by", "created_at")
        return [{**dict(zip(names, row, strict=True)), "service_keys": row[3].split(",")} for row in rows]

    def counts(self, tenant: str) -> dict[str, int]:
        rows = self.store.query(
            "SELECT acknowledged_at IS NULL, deliveries > 0, COUNT(*) FROM handover_queue WHERE tenant = ? "
            "GROUP BY 1, 2", (tenant,))
        out = {"waiting": 0, "fetched_unacknowledged": 0, "acknowledged": 0}
        for open_, fetched, count in rows:
            key = ("fetched_unacknowledged" if fetched else "waiting") if open_ else "acknowledged"
            out[key] += int(count)
        return out

