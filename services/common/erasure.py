"""Erasing personal data from event stores (right to erasure, Art. 17 GDPR).

* :func:`purge_stream` physically deletes one aggregate's stream from an *aggregate*
  recorder (identity's PersonalData store: no notification log, so no gaps).
* :func:`rewrite_event` replaces the stored state of one event in place (used to redact
  a case's events: the case stays, its personal contents go). The position in the
  notification log is kept, so relays and projections are unaffected.

Both support the three persistence modules the platform uses (POPO, SQLite, PostgreSQL);
anything else raises :class:`ErasureNotSupported` instead of silently keeping personal data.

Residual copies: PostgreSQL keeps dead tuples until (auto)VACUUM and in WAL/backups —
the operator's backup retention bounds how long (README, "Storage"); SQLite is told
``secure_delete`` so freed pages are zeroed.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from uuid import UUID


class ErasureNotSupported(TypeError):
    """The event store's kind is not one erasure knows: refuse rather than keep personal data."""


def purge_stream(recorder: Any, originator_id: UUID) -> int:
    """Delete every stored event of ``originator_id``; return how many were deleted."""
    from eventsourcing.persistence import ApplicationRecorder
    from eventsourcing.popo import POPOAggregateRecorder

    if isinstance(recorder, ApplicationRecorder):
        msg = "refusing to delete from an application recorder (notification log)"
        raise ErasureNotSupported(msg)
    if isinstance(recorder, POPOAggregateRecorder):
        return _purge_popo(recorder, originator_id)

    from eventsourcing.sqlite import SQLiteAggregateRecorder

    if isinstance(recorder, SQLiteAggregateRecorder):
        return _purge_sqlite(recorder, originator_id)

    from eventsourcing.postgres import PostgresAggregateRecorder

    if isinstance(recorder, PostgresAggregateRecorder):
        return _purge_postgres(recorder, originator_id)
    msg = f"no erasure support for {type(recorder).__name__}"
    raise ErasureNotSupported(msg)


def _purge_popo(recorder: Any, originator_id: UUID) -> int:
    # eventsourcing 9.5 POPO internals: a list plus {originator_id: {version: index}}.
    with recorder._database_lock:
        doomed = set(recorder._stored_events_index.pop(str(originator_id), {}).values())
        if not doomed:
            return 0
        kept = [s for i, s in enumerate(recorder._stored_events) if i not in doomed]
        recorder._stored_events[:] = kept
        recorder._stored_events_index.clear()
        for position, stored in enumerate(kept):
            recorder._stored_events_index[str(stored.originator_id)][stored.originator_version] = position
        return len(doomed)


def _purge_sqlite(recorder: Any, originator_id: UUID) -> int:
    key = originator_id.hex if recorder.datastore.originator_id_type == "uuid" else str(originator_id)
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute("PRAGMA secure_delete = ON")
        table = recorder.events_table_name
        cursor.execute(f"SELECT COUNT(*) FROM {table} WHERE originator_id = ?", (key,))
        count = int(cursor.fetchone()[0])
        cursor.execute(f"DELETE FROM {table} WHERE originator_id = ?", (key,))
        return count


def _purge_postgres(recorder: Any, originator_id: UUID) -> int:
    from psycopg.sql import SQL, Identifier

    statement = SQL("DELETE FROM {schema}.{table} WHERE originator_id = %s").format(
        schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name)
    )
    key: Any = originator_id if recorder.datastore.originator_id_type == "uuid" else str(originator_id)
    with recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(statement, (key,))
        return int(cursor.rowcount)


def rewrite_event(recorder: Any, stored: Any) -> None:
    """Overwrite the ``state`` of the stored event (originator id, version) with ``stored.state``."""
    from eventsourcing.popo import POPOAggregateRecorder

    if isinstance(recorder, POPOAggregateRecorder):
        with recorder._database_lock:
            position = recorder._stored_events_index[str(stored.originator_id)][stored.originator_version]
            old = recorder._stored_events[position]
            recorder._stored_events[position] = dataclasses.replace(old, state=stored.state)
        return

    from eventsourcing.sqlite import SQLiteAggregateRecorder

    if isinstance(recorder, SQLiteAggregateRecorder):
        key = stored.originator_id.hex if recorder.datastore.originator_id_type == "uuid" else str(stored.originator_id)
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute("PRAGMA secure_delete = ON")
            cursor.execute(
                f"UPDATE {recorder.events_table_name} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                (stored.state, key, stored.originator_version),
            )
        return

    from eventsourcing.postgres import PostgresAggregateRecorder

    if isinstance(recorder, PostgresAggregateRecorder):
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "UPDATE {schema}.{table} SET state = %s WHERE originator_id = %s AND originator_version = %s"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        key = stored.originator_id if recorder.datastore.originator_id_type == "uuid" else str(stored.originator_id)
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(statement, (stored.state, key, stored.originator_version))
        return
    msg = f"no redaction support for {type(recorder).__name__}"
    raise ErasureNotSupported(msg)
