"""The catalog's read model: tenants and current service definitions, folded in memory
from the catalog's own notification log and caught up on every read (cheap: only new
notifications are read). Rebuilt from scratch by simply creating a new view.
"""

from __future__ import annotations

import threading
from typing import Any

from eventsourcing.application import Application

from services.catalog.domain import ServiceDefinition, Tenant


class CatalogView:
    def __init__(self, app: Application):
        self.app = app
        self.position = 0
        self.tenants: dict[str, dict[str, Any]] = {}
        self.definitions: dict[str, dict[int, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def catch_up(self) -> None:
        with self._lock:
            while True:
                notes = self.app.recorder.select_notifications(
                    start=self.position, limit=1000, inclusive_of_start=False
                )
                if not notes:
                    return
                for note in notes:
                    self._fold(self.app.mapper.to_domain_event(note))
                self.position = notes[-1].id

    def _fold(self, event: Any) -> None:
        if isinstance(event, Tenant.Registered):
            self.tenants[event.ags] = {
                "ags": event.ags,
                "name": event.name,
                "code": event.code,
                "kind": event.kind,
                "district_ags": event.district_ags,
                **event.profile,
            }
        elif isinstance(event, Tenant.ProfileUpdated):
            ags = next((a for a, t in self.tenants.items() if Tenant.create_id(a) == event.originator_id), None)
            if ags:
                self.tenants[ags].update(event.profile)
        elif isinstance(event, ServiceDefinition.FormVersionPublished):
            definition = {**event.definition, "published_at": event.timestamp.isoformat()}
            self.definitions.setdefault(definition["service_id"], {})[int(event.version)] = definition

    def tenant(self, ags: str) -> dict[str, Any] | None:
        self.catch_up()
        return self.tenants.get(ags)

    def all_tenants(self) -> list[dict[str, Any]]:
        self.catch_up()
        return sorted(self.tenants.values(), key=lambda t: t["ags"])

    def definition(self, service_id: str, version: int | None = None) -> dict[str, Any] | None:
        self.catch_up()
        versions = self.definitions.get(service_id)
        if not versions:
            return None
        return versions.get(version if version is not None else max(versions))

    def current_definitions(self) -> list[dict[str, Any]]:
        self.catch_up()
        return [versions[max(versions)] for _, versions in sorted(self.definitions.items())]
