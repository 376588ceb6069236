"""Read model of the council information: per tenant the body's committees, meetings with
their agendas and files, papers with their consultations, and the state of the last sync.

Why written by the sync worker and not folded from events: the data belongs to another
system (the municipality's council information system) and is mirrored, not decided here;
the source configuration is the event-sourced part (:mod:`services.council.domain`). Each
page of a list is written in one transaction with upserts keyed by (tenant, id), so a
repeated or interrupted sync leaves nothing half or doubled. Queries shape one screen each.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.common.db import ReadStore

DDL = """
CREATE TABLE IF NOT EXISTS council_sync (tenant TEXT PRIMARY KEY, source_url TEXT, body_name TEXT,
    last_attempt_at TEXT, last_success_at TEXT, last_error TEXT, high_water TEXT,
    objects INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, duration_ms INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS council_organizations (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (tenant, id));
CREATE TABLE IF NOT EXISTS council_meetings (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    start_at TEXT NOT NULL, search_text TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS council_meetings_by_start ON council_meetings (tenant, start_at);
CREATE TABLE IF NOT EXISTS council_meeting_orgs (tenant TEXT NOT NULL, meeting_id TEXT NOT NULL,
    organization_id TEXT NOT NULL, start_at TEXT NOT NULL, PRIMARY KEY (tenant, meeting_id, organization_id));
CREATE INDEX IF NOT EXISTS council_meeting_orgs_by_org ON council_meeting_orgs (tenant, organization_id, start_at);
CREATE TABLE IF NOT EXISTS council_papers (tenant TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL,
    reference TEXT NOT NULL, paper_date TEXT NOT NULL, search_text TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS council_papers_by_date ON council_papers (tenant, paper_date);
CREATE TABLE IF NOT EXISTS council_consultations (tenant TEXT NOT NULL, id TEXT NOT NULL, paper_id TEXT NOT NULL,
    meeting_id TEXT, agenda_item_id TEXT, data TEXT NOT NULL, PRIMARY KEY (tenant, id));
CREATE INDEX IF NOT EXISTS council_consultations_by_item ON council_consultations (tenant, agenda_item_id)
"""
PG_DDL = """
CREATE INDEX IF NOT EXISTS council_meetings_fts ON council_meetings USING gin (to_tsvector('german', name));
CREATE INDEX IF NOT EXISTS council_papers_fts ON council_papers USING gin (to_tsvector('german', name))
"""
SUMMARY = ("id", "name", "start", "end", "cancelled", "meeting_state", "location", "organizations")


def utc(value: str | None) -> str:
    """An ISO instant as UTC text, so that text order is time order."""
    if not value:
        return ""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


def folded(value: str) -> str:
    return " ".join(value.casefold().split())


class CouncilStore:
    """The council read model on the service's ReadStore (SQLite file or PostgreSQL schema)."""

    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)
        if store.postgres:
            store.executescript(PG_DDL)

    def close(self) -> None:
        self.store.close()

    # -- writing (the sync worker) ---------------------------------------------------------
    def sync_state(self, tenant: str) -> dict[str, Any]:
        rows = self.store.query(
            "SELECT source_url, body_name, last_attempt_at, last_success_at, last_error, high_water, objects, skipped, "
            "duration_ms FROM council_sync WHERE tenant = ?", (tenant,))
        keys = ("source_url", "body_name", "last_attempt_at", "last_success_at", "last_error", "high_water",
                "objects", "skipped", "duration_ms")
        return dict(zip(keys, rows[0], strict=True)) if rows else dict.fromkeys(keys)

    def record_run(self, tenant: str, source_url: str, **values: Any) -> None:
        """Upsert the sync state's given columns (``last_error=None`` clears the error)."""
        columns = ["source_url", *values]
        params = [source_url, *values.values()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
        with self.store.transaction() as cur:
            cur.execute(
                f"INSERT INTO council_sync (tenant, {', '.join(columns)}) VALUES (?, {', '.join('?' * len(columns))}) "
                f"ON CONFLICT (tenant) DO UPDATE SET {updates}", (tenant, *params))

    def forget_source(self, tenant: str) -> None:
        """A new source (or none): the old system's data goes."""
        with self.store.transaction() as cur:
            for table in ("council_sync", "council_organizations", "council_meetings", "council_meeting_orgs",
                          "council_papers", "council_consultations"):
                cur.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))

    def put_organizations(self, tenant: str, rows: list[dict[str, Any]]) -> None:
        with self.store.transaction() as cur:
            for row in rows:
                cur.execute("DELETE FROM council_organizations WHERE tenant = ? AND id = ?", (tenant, row["id"]))
                if not row["deleted"]:
                    cur.execute("INSERT INTO council_organizations (tenant, id, name, data) VALUES (?, ?, ?, ?)",
                                (tenant, row["id"], row["name"], json.dumps(row, ensure_ascii=False)))

    def put_meetings(self, tenant: str, rows: list[dict[str, Any]]) -> None:
        with self.store.transaction() as cur:
            for row in rows:
                cur.execute("DELETE FROM council_meetings WHERE tenant = ? AND id = ?", (tenant, row["id"]))
                cur.execute("DELETE FROM council_meeting_orgs WHERE tenant = ? AND meeting_id = ?", (tenant, row["id"]))
                if row["deleted"]:
                    continue
                start = utc(row["start"])
                cur.execute(
                    "INSERT INTO council_meetings (tenant, id, name, start_at, search_text, data) VALUES (?, ?, ?, ?, ?, ?)",
                    (tenant, row["id"], row["name"], start, folded(row["name"]), json.dumps(row, ensure_ascii=False)))
                cur.executemany(
                    "INSERT INTO council_meeting_orgs (tenant, meeting_id, organization_id, start_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT DO NOTHING", [(tenant, row["id"], org, start) for org in row["organizations"]])

    def put_papers(self, tenant: str, rows: list[dict[str, Any]]) -> None:
        with self.store.transaction() as cur:
            for row in rows:
                cur.execute("DELETE FROM council_papers WHERE tenant = ? AND id = ?", (tenant, row["id"]))
                cur.execute("DELETE FROM council_consultations WHERE tenant = ? AND paper_id = ?", (tenant, row["id"]))
                if row["deleted"]:
                    continue
                cur.execute(
                    "INSERT INTO council_papers (tenant, id, name, reference, paper_date, search_text, data) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (tenant, row["id"], row["name"], row["reference"], row["date"] or "",
                     folded(f"{row['name']} {row['reference']}"), json.dumps(row, ensure_ascii=False)))
                for con in row["consultations"]:
                    cur.execute("DELETE FROM council_consultations WHERE tenant = ? AND id = ?", (tenant, con["id"]))
                    cur.execute(
                        "INSERT INTO council_consultations (tenant, id, paper_id, meeting_id, agenda_item_id, data) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (tenant, con["id"], row["id"], con["meeting"], con["agenda_item"], json.dumps(con)))

    def counts(self, tenant: str) -> dict[str, int]:
        found = {}
        for kind, table in (("organizations", "council_organizations"), ("meetings", "council_meetings"),
                            ("papers", "council_papers"), ("consultations", "council_consultations")):
            found[kind] = int(self.store.query(f"SELECT count(*) FROM {table} WHERE tenant = ?", (tenant,))[0][0])
        return found

    # -- reading (the service's queries) ------------------------------------------------------
    def status(self, tenant: str) -> dict[str, Any]:
        state = self.sync_state(tenant)
        return {
            "configured": state["source_url"] is not None,
            "body_name": state["body_name"],
            "last_success_at": state["last_success_at"],
            "last_attempt_at": state["last_attempt_at"],
            "stale": bool(state["last_error"]),
        }

    def organizations(self, tenant: str) -> dict[str, dict[str, Any]]:
        rows = self.store.query("SELECT id, name, data FROM council_organizations WHERE tenant = ? ORDER BY name, id", (tenant,))
        return {r[0]: {"id": r[0], "name": r[1], "short_name": json.loads(r[2]).get("short_name", "")} for r in rows}

    def _summary(self, data: str, orgs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        row = json.loads(data)
        found = {key: row.get(key) for key in SUMMARY}
        found["organizations"] = [orgs[o] for o in row["organizations"] if o in orgs]
        return found

    def meetings(self, tenant: str, now: str, upcoming: bool, organization: str | None = None,
                 limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Upcoming meetings (soonest first) or past ones (latest first), of one committee or all."""
        order, compare = ("ASC", ">=") if upcoming else ("DESC", "<")
        if organization:
            sql = (f"SELECT m.data FROM council_meeting_orgs o JOIN council_meetings m ON m.tenant = o.tenant AND "
                   f"m.id = o.meeting_id WHERE o.tenant = ? AND o.organization_id = ? AND o.start_at {compare} ? "
                   f"ORDER BY o.start_at {order}, m.id LIMIT ? OFFSET ?")
            params: tuple[Any, ...] = (tenant, organization, now, limit, offset)
        else:
            sql = (f"SELECT data FROM council_meetings WHERE tenant = ? AND start_at {compare} ? "
                   f"ORDER BY start_at {order}, id LIMIT ? OFFSET ?")
            params = (tenant, now, limit, offset)
        orgs = self.organizations(tenant)
        return [self._summary(r[0], orgs) for r in self.store.query(sql, params)]

    def meeting(self, tenant: str, meeting_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT data FROM council_meetings WHERE tenant = ? AND id = ?", (tenant, meeting_id))
        if not rows:
            return None
        row = json.loads(rows[0][0])
        orgs = self.organizations(tenant)
        ids = [item["id"] for item in row["agenda"]]
        papers: dict[str, list[dict[str, Any]]] = {}
        if ids:
            marks = ", ".join("?" * len(ids))
            for item_id, paper_id, name, reference in self.store.query(
                f"SELECT c.agenda_item_id, p.id, p.name, p.reference FROM council_consultations c JOIN council_papers p "
                f"ON p.tenant = c.tenant AND p.id = c.paper_id WHERE c.tenant = ? AND c.agenda_item_id IN ({marks}) "
                f"ORDER BY p.reference, p.id", (tenant, *ids)):
                papers.setdefault(item_id, []).append({"id": paper_id, "name": name, "reference": reference})
        agenda = [{key: item[key] for key in ("id", "number", "name", "public", "result", "resolution_text")}
                  | {"papers": papers.get(item["id"], [])} for item in row["agenda"]]
        return {**self._summary(rows[0][0], orgs), "agenda": agenda, "files": row["files"]}

    def paper(self, tenant: str, paper_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT data FROM council_papers WHERE tenant = ? AND id = ?", (tenant, paper_id))
        if not rows:
            return None
        row = json.loads(rows[0][0])
        orgs = self.organizations(tenant)
        meeting_ids = [c["meeting"] for c in row["consultations"] if c["meeting"]]
        meetings: dict[str, dict[str, Any]] = {}
        if meeting_ids:
            marks = ", ".join("?" * len(meeting_ids))
            for (data,) in self.store.query(
                f"SELECT data FROM council_meetings WHERE tenant = ? AND id IN ({marks})", (tenant, *meeting_ids)):
                meeting = json.loads(data)
                meetings[meeting["id"]] = {"id": meeting["id"], "name": meeting["name"], "start": meeting["start"]}
        consultations = [
            {"id": c["id"], "role": c["role"], "authoritative": c["authoritative"],
             "meeting": meetings.get(c["meeting"] or ""), "organizations": [orgs[o] for o in c["organizations"] if o in orgs]}
            for c in row["consultations"]
        ]
        consultations.sort(key=lambda c: (c["meeting"] or {}).get("start") or "")
        return {key: row[key] for key in ("id", "name", "reference", "paper_type", "date", "files")} | {
            "consultations": consultations}

    def recent_papers(self, tenant: str, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.store.query(
            "SELECT id, name, reference, paper_date FROM council_papers WHERE tenant = ? "
            "ORDER BY paper_date DESC, id LIMIT ?", (tenant, limit))
        return [{"id": r[0], "name": r[1], "reference": r[2], "date": r[3] or None} for r in rows]

    def search(self, tenant: str, query: str, limit: int = 20) -> list[dict[str, Any]]:
        """Meetings and papers whose title (or reference) matches every word; PostgreSQL also
        finds German word forms (``to_tsvector('german', …)``: Sitzungen → Sitzung)."""
        terms = folded(query).split()[:8]
        like = " AND ".join("search_text LIKE ?" for _ in terms)
        patterns = [f"%{t.replace('%', '').replace('_', '')}%" for t in terms]
        stem = "to_tsvector('german', name) @@ plainto_tsquery('german', ?)" if self.store.postgres else ""
        found: list[dict[str, Any]] = []
        for kind, table, extra, date in (("meeting", "council_meetings", "''", "start_at"),
                                         ("paper", "council_papers", "reference", "paper_date")):
            where = f"(({like}) OR {stem})" if stem else f"({like})"
            params = [tenant, *patterns, *([query] if stem else []), limit]
            rows = self.store.query(
                f"SELECT id, name, {extra}, {date} FROM {table} WHERE tenant = ? AND {where} ORDER BY {date} DESC, id "
                f"LIMIT ?", params)
            found += [{"kind": kind, "id": r[0], "name": r[1], "reference": r[2] or None, "date": r[3] or None}
                      for r in rows]
        found.sort(key=lambda item: item["date"] or "", reverse=True)
        return found[:limit]
