"""What the operator CLI reads and does across the services: tenants, the positions of the
relays and projections against the heads of their event stores, rebuilds, and the export of
one tenant's events.

The operator tool is the one place that opens several services' stores (through each
service's own ``open_<service>()`` factory and read store); no service imports it
(``.importlinter``: ops-is-a-leaf).
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from eventsourcing.application import Application

from services.common.db import ReadStore

# (service, read-store table, key column): the positions each consumer saves with its writes
POSITION_TABLES: tuple[tuple[str, str, str, str], ...] = (
    ("submissions", "projection_tracking", "projection", "projection"),
    ("submissions", "relay_position", "source", "relay"),
    ("payments", "payments_position", "board", "projection"),
    ("payments", "relay_position", "source", "relay"),
)


@dataclass
class Position:
    service: str  # whose event store the position is in
    kind: str  # projection, relay or consumer
    name: str
    position: int
    head: int

    @property
    def lag(self) -> int:
        return max(self.head - self.position, 0)


def _opener(service: str) -> Callable[[], Application]:
    """The service's own factory (imported here only, when the operator asks for it)."""
    if service == "submissions":
        from services.submissions.application import open_submissions

        return open_submissions
    if service == "payments":
        from services.payments.application import open_payments

        return open_payments
    if service == "notifications":
        from services.notifications.application import open_notifications

        return open_notifications
    if service == "catalog":
        from services.catalog.application import CatalogApp
        from services.common.db import open_application

        return lambda: open_application(CatalogApp, "catalog")
    raise LookupError(f"no event store for {service!r}")


@contextlib.contextmanager
def opened(service: str) -> Iterator[Application]:
    app = _opener(service)()
    try:
        yield app
    finally:
        app.close()


@contextlib.contextmanager
def stores(service: str) -> Iterator[list[tuple[str, Application]]]:
    """The service's event stores by name: the submissions service's case partitions
    (``submissions``, ``submissions_p1`` …, services/common/partitions.py), else its one."""
    if service != "submissions":
        with opened(service) as app:
            yield [(service, app)]
        return
    from services.common.partitions import schema_name
    from services.submissions.partitioning import open_case_store

    cases = open_case_store()
    try:
        yield [(schema_name(service, app.partition), app) for app in cases.apps]
    finally:
        cases.close()


def head(service: str) -> int:
    with opened(service) as app:
        return app.recorder.max_notification_id() or 0


def tenants() -> list[dict[str, Any]]:
    """The catalog's tenants (AGS, name, level), from its event store."""
    with opened("catalog") as app:
        return sorted(app.tenants(), key=lambda tenant: tenant["ags"])


def positions() -> list[Position]:
    """Every saved consumer position with the head of the event store it reads. The case
    store's partitions (services/common/partitions.py) each have their head: a relay saves
    its partition's notification id, the projections and consumers the published position."""
    from services.common.partitions import encode_position, partition_of_position, schema_name

    with stores("submissions") as named:
        case_heads = {app.partition: app.recorder.max_notification_id() or 0 for _, app in named}
    heads = {"submissions": case_heads[0], "payments": head("payments")}
    heads |= {schema_name("submissions", k): last for k, last in case_heads.items()}
    tables = [*POSITION_TABLES, *((schema_name("submissions", k), "relay_position", "source", "relay") for k in case_heads if k)]

    def head_of(service: str, kind: str, position: int) -> int:
        if service != "submissions" or kind == "relay":
            return heads[service]
        partition = partition_of_position(position)  # a published position names its partition
        return encode_position(partition, case_heads.get(partition, 0))

    found: list[Position] = []
    for service, table, key, kind in tables:
        store = ReadStore(service)
        try:
            rows = store.query(f"SELECT {key}, position FROM {table}")  # names from POSITION_TABLES
        except Exception:  # noqa: BLE001 - the process that creates the table has not run yet
            rows = []
        finally:
            store.close()
        found += [Position(service, kind, str(name), int(position), head_of(service, kind, int(position))) for name, position in rows]
    with opened("notifications") as app:  # the notifications consumer tracks submissions' positions
        for k in case_heads:
            tracked = app.recorder.max_tracking_id(schema_name("submissions", k)) or 0
            name = "notifications" if k == 0 else f"notifications_p{k}"
            found.append(Position("submissions", "consumer", name, int(tracked), encode_position(k, case_heads[k])))
    return found


def rebuild(projection: str = "all", tenant: str | None = None, progress: bool = True) -> int:
    """Rebuild the submissions read models (all tenants or one), with a progress bar."""
    from services.submissions.projector import rebuild as rebuild_submissions

    return rebuild_submissions(projection, tenant, progress=progress)


def integration_events(service: str, app: Application, progress: bool = False) -> Iterator[dict[str, Any]]:
    """Every integration event a service's event store holds, as its relay publishes them."""
    from tqdm import tqdm

    if service == "submissions":
        from services.submissions.integration import map_notification
    else:
        from services.payments.integration import map_notification
    position, last = 0, app.recorder.max_notification_id() or 0
    with tqdm(total=last, unit="ev", desc=service, disable=not progress) as bar:
        while position < last:
            notes = app.recorder.select_notifications(start=position, limit=1000, stop=last, inclusive_of_start=False)
            if not notes:
                break
            for note in notes:
                envelope = map_notification(app, note)
                if envelope is not None:
                    yield envelope
            bar.update(notes[-1].id - position)
            position = notes[-1].id


def rebuild_kpis(tenant: str | None = None, progress: bool = True) -> int:
    """Rebuild the KPI read model (all tenants or one) from the integration events of the
    submissions and payments event stores; rows written."""
    from services.insights.projections import KpiReadModel

    model = KpiReadModel(ReadStore("insights"))
    try:
        with stores("submissions") as cases, opened("payments") as payments:
            events = itertools.chain(*(integration_events("submissions", app, progress) for _, app in cases),
                                     integration_events("payments", payments, progress))
            return model.rebuild(events, tenant)
    finally:
        model.close()


def _event_record(service: str, app: Application, notification: Any) -> dict[str, Any]:
    event = app.mapper.to_domain_event(notification)
    data = {key: value for key, value in vars(event).items() if key not in {"originator_id", "originator_version", "timestamp"}}
    return {
        "service": service, "position": notification.id, "topic": notification.topic,
        "aggregate_id": str(event.originator_id), "aggregate_version": event.originator_version,
        "timestamp": event.timestamp.isoformat(), "data": data,
    }


def _export_store(ags: str, label: str, app: Application, out: IO[str]) -> int:
    count, mine = 0, set()
    position, last = 0, app.recorder.max_notification_id() or 0
    while position < last:
        notes = app.recorder.select_notifications(start=position, limit=1000, stop=last, inclusive_of_start=False)
        if not notes:
            break
        for note in notes:
            record = _event_record(label, app, note)
            if record["data"].get("tenant") == ags or record["data"].get("ags") == ags:
                mine.add(note.originator_id)
            if note.originator_id in mine:
                out.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
                count += 1
        position = notes[-1].id
    return count


def export_tenant(ags: str, out: IO[str], services: tuple[str, ...] = ("catalog", "submissions", "payments", "notifications")) -> int:
    """Write one tenant's events, one JSON object per line, in each store's order; an
    aggregate belongs to the tenant once one of its events names it. Returns the count."""
    count = 0
    for service in services:
        with stores(service) as named:
            for label, app in named:  # the store's name: its positions count there
                count += _export_store(ags, label, app, out)
    return count
