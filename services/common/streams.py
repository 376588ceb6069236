"""Reading event streams: many at once, and an application's log from a tracked position.

eventsourcing's recorders read one stream per call; on PostgreSQL that is a round trip per
stream. A hot path that needs a small aggregate for each of hundreds of originators (the
submissions batch: one applicant index per applicant) reads them with one query instead.
POPO and SQLite are in-process, so there the per-stream read is cheap and used as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID


def select_streams(recorder: Any, originator_ids: Sequence[UUID]) -> dict[UUID, list[Any]]:
    """The stored events of each originator that has any, oldest first."""
    from eventsourcing.postgres import PostgresAggregateRecorder

    if not isinstance(recorder, PostgresAggregateRecorder):
        found = {originator_id: list(recorder.select_events(originator_id)) for originator_id in originator_ids}
        return {originator_id: stored for originator_id, stored in found.items() if stored}
    if not originator_ids:
        return {}
    from eventsourcing.persistence import StoredEvent
    from psycopg.sql import SQL, Identifier

    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    uuids = recorder.datastore.originator_id_type == "uuid"
    keys = [originator_id if uuids else str(originator_id) for originator_id in originator_ids]
    streams: dict[UUID, list[Any]] = {}
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, (keys,))
        for row in cursor.fetchall():
            originator_id = row["originator_id"] if uuids else UUID(row["originator_id"])
            streams.setdefault(originator_id, []).append(
                StoredEvent(originator_id, row["originator_version"], row["topic"], bytes(row["state"]))
            )
    return streams


def catch_up(app: Any, position: Callable[[], int], apply: Callable[[Iterable[Any], int], int], batch: int = 500) -> int:
    """Fold an application's own notification log into a read model from the model's tracked
    ``position()`` on, ``apply(domain_events, last_id)`` per batch (one transaction each);
    the sum of what ``apply`` returned."""
    applied = 0
    while notes := app.recorder.select_notifications(start=position(), limit=batch, inclusive_of_start=False):
        applied += apply((app.mapper.to_domain_event(n) for n in notes), notes[-1].id)
    return applied
