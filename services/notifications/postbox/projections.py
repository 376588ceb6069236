"""Read model: each citizen's postbox (composed items, read or not) and each case's
documents (decision letters), folded from the notifications event store.

Why this shape: the postbox list and the clerk's document list are one query each; the
item's full text is read from the item itself (one aggregate), so erasure has one place
less to clean. Rows change only for a newer version (redelivery harmless); the position
commits with the rows; everything is rebuildable from the event store.
"""

from __future__ import annotations

import json
from typing import Any

from services.common.projection import FoldedReadModel, Statement
from services.notifications.postbox.domain import CREATED, Letter, PostboxItem

DDL = """
CREATE TABLE IF NOT EXISTS postbox_items (item_id TEXT PRIMARY KEY, recipient TEXT NOT NULL, tenant TEXT NOT NULL,
    case_id TEXT NOT NULL, reference TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, subject TEXT,
    is_read INTEGER NOT NULL, attachments TEXT NOT NULL, created_at TEXT NOT NULL, version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS postbox_by_recipient ON postbox_items (recipient, created_at);
CREATE INDEX IF NOT EXISTS postbox_by_status ON postbox_items (status);
CREATE TABLE IF NOT EXISTS case_documents (document_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, tenant TEXT NOT NULL,
    decision TEXT NOT NULL, filename TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
    sha256 TEXT NOT NULL, issued_on TEXT NOT NULL, created_at TEXT NOT NULL, erased INTEGER NOT NULL,
    version INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS documents_by_case ON case_documents (case_id);
CREATE TABLE IF NOT EXISTS postbox_position (board TEXT PRIMARY KEY, position BIGINT NOT NULL)
"""
NEWER = "version = ? WHERE {key} = ? AND version < ?"
ITEM_COLUMNS = ("item_id", "kind", "subject", "case_id", "reference", "tenant", "created_at", "is_read", "attachments")
DOCUMENT_COLUMNS = (
    "document_id", "decision", "filename", "media_type", "sha256", "size", "issued_on", "created_at", "erased",
)


def statement(event: Any) -> Statement | None:
    key, version = str(event.originator_id), event.originator_version
    item_tail = (version, key, version)
    newer_item = NEWER.format(key="item_id")
    if isinstance(event, PostboxItem.Created):
        return (
            "INSERT INTO postbox_items (item_id, recipient, tenant, case_id, reference, kind, status, is_read, attachments, "
            "created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, 0, '[]', ?, ?) ON CONFLICT (item_id) DO NOTHING",
            (key, event.recipient, event.tenant, event.case_id, event.reference, event.kind, CREATED,
             event.occurred_at, version),
        )
    if isinstance(event, PostboxItem.Composed):
        return (
            f"UPDATE postbox_items SET status = 'composed', subject = ?, attachments = ?, created_at = ?, {newer_item}",
            (event.subject, json.dumps(event.attachments), event.at, *item_tail),
        )
    if isinstance(event, PostboxItem.MarkedRead | PostboxItem.MarkedUnread):
        read = 1 if isinstance(event, PostboxItem.MarkedRead) else 0
        return f"UPDATE postbox_items SET is_read = ?, {newer_item}", (read, *item_tail)
    if isinstance(event, PostboxItem.Erased):
        # kept as a row without contents, so a resumed erasure still finds the item
        return f"UPDATE postbox_items SET status = 'erased', subject = NULL, attachments = '[]', {newer_item}", item_tail
    if isinstance(event, Letter.Issued):
        return (
            "INSERT INTO case_documents (document_id, case_id, tenant, decision, filename, media_type, size, sha256, "
            "issued_on, created_at, erased, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (document_id) DO NOTHING",
            (key, event.case_id, event.tenant, event.decision, event.filename, event.media_type, event.size,
             event.sha256, event.issued_on, event.timestamp.isoformat(), version),
        )
    if isinstance(event, Letter.PdfErased):
        return f"UPDATE case_documents SET erased = 1, {NEWER.format(key='document_id')}", (version, key, version)
    return None


class Postbox(FoldedReadModel):
    DDL = DDL
    TABLES = ("postbox_items", "case_documents")
    POSITION_TABLE, BOARD = "postbox_position", "postbox"

    def statements(self, event: Any) -> list[Statement]:
        found = statement(event)
        return [found] if found else []

    def to_compose(self, limit: int = 50, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Items still to compose, oldest first, but those in ``skip`` (backing off or given up)."""
        rows = self.store.query(
            "SELECT item_id FROM postbox_items WHERE status = ? ORDER BY created_at, item_id LIMIT ?",
            (CREATED, limit + len(skip)),
        )
        return [row[0] for row in rows if row[0] not in skip][:limit]

    def items_of(self, recipient: str) -> list[dict[str, Any]]:
        """The recipient's composed items, newest first."""
        rows = self.store.query(
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM postbox_items WHERE recipient = ? AND status = 'composed' "
            "ORDER BY created_at DESC, item_id",
            (recipient,),
        )
        items = [dict(zip(ITEM_COLUMNS, row, strict=True)) for row in rows]
        for item in items:
            item["read"], item["attachments"] = bool(item.pop("is_read")), json.loads(item["attachments"])
        return items

    def item_ids_of(self, recipient: str) -> list[str]:
        """Every item of the recipient, composed, not yet composed or erased (erasure resumes)."""
        return [row[0] for row in self.store.query("SELECT item_id FROM postbox_items WHERE recipient = ?", (recipient,))]

    def documents_of(self, case_id: str) -> list[dict[str, Any]]:
        rows = self.store.query(
            f"SELECT {', '.join(DOCUMENT_COLUMNS)} FROM case_documents WHERE case_id = ? ORDER BY created_at, document_id",
            (case_id,),
        )
        docs = [dict(zip(DOCUMENT_COLUMNS, row, strict=True)) for row in rows]
        return [{**d, "kind": "decision_letter", "erased": bool(d["erased"])} for d in docs]
