"""A read model folded from its own service's event store, with its position tracked.

Why one base: every such read model (the service template's, payments') needs the same
mechanics — fold a batch and its position in one transaction, catch up from the position,
rebuild for all tenants or one — and only differs in its tables and in the SQL per event
(:meth:`FoldedReadModel.statements`). Rows must change only for a newer aggregate version
(or have fixed keys), so an event folded twice changes nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from eventsourcing.application import Application

from services.common.db import ReadStore

Statement = tuple[str, tuple[Any, ...]]


class FoldedReadModel(ABC):
    #: CREATE … IF NOT EXISTS statements separated by ``;``, including the position table.
    DDL = ""
    #: Tables with a ``tenant`` column, emptied by a rebuild.
    TABLES: tuple[str, ...] = ()
    #: The position table (``board TEXT PRIMARY KEY, position BIGINT``) and this model's row in it.
    POSITION_TABLE = ""
    BOARD = ""

    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(self.DDL)

    def close(self) -> None:  # Provided() calls it when the container stops
        self.store.close()

    @abstractmethod
    def statements(self, event: Any) -> list[Statement]:
        """The SQL that applies one domain event (none for events the model ignores)."""

    def _fold(self, cur: Any, events: Iterable[Any], tenant: str | None = None) -> int:
        found = [s for e in events if tenant in (None, getattr(e, "tenant", None)) for s in self.statements(e)]
        return sum(max(cur.execute(sql, params).rowcount, 0) for sql, params in found)

    def _track(self, cur: Any, position: int) -> None:
        cur.execute(
            f"INSERT INTO {self.POSITION_TABLE} (board, position) VALUES (?, ?) ON CONFLICT (board) "
            f"DO UPDATE SET position = excluded.position WHERE {self.POSITION_TABLE}.position < excluded.position",
            (self.BOARD, position),
        )

    def position(self) -> int:
        rows = self.store.query(f"SELECT position FROM {self.POSITION_TABLE} WHERE board = ?", (self.BOARD,))
        return int(rows[0][0]) if rows else 0

    def apply(self, events: Iterable[Any], position: int | None = None) -> int:
        """Fold a batch (from the log or a queue) and its position in one transaction; rows changed."""
        with self.store.transaction() as cur:
            applied = self._fold(cur, events)
            if position is not None:
                self._track(cur, position)
        return applied

    def catch_up(self, app: Application, batch: int = 500) -> int:
        """Fold everything the event store recorded after the tracked position; rows changed."""
        applied = 0
        while notes := app.recorder.select_notifications(start=self.position(), limit=batch, inclusive_of_start=False):
            applied += self.apply((app.mapper.to_domain_event(n) for n in notes), notes[-1].id)
        return applied

    def rebuild(self, app: Application, tenant: str | None = None) -> int:
        """Drop and refold from the event store (all tenants, or one) in one transaction."""
        with self.store.transaction(exclusive=True) as cur:
            if self.store.postgres:
                cur.execute(f"LOCK TABLE {', '.join((*self.TABLES, self.POSITION_TABLE))} IN EXCLUSIVE MODE")
            where, params = (" WHERE tenant = ?", (tenant,)) if tenant else ("", ())
            for table in self.TABLES:
                cur.execute(f"DELETE FROM {table}{where}", params)
            position = applied = 0
            while notes := app.recorder.select_notifications(start=position, limit=1000, inclusive_of_start=False):
                applied += self._fold(cur, (app.mapper.to_domain_event(n) for n in notes), tenant)
                position = notes[-1].id
            if tenant is None:  # a one-tenant rebuild leaves the others' progress as it is
                self._track(cur, position)
        return applied
