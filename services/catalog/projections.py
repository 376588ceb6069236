"""The catalog's read model: tenants and current service definitions, folded in memory
from the catalog's own notification log and caught up on every read (cheap: only new
notifications are read). Rebuilt from scratch by simply creating a new view.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

from eventsourcing.application import Application

from services.catalog.domain import Offering, ServiceDefinition, Tenant

OFFERING_FIELDS = (
    "tenant", "service_id", "leika_key", "ozg_id", "form_version", "fee_cents", "processing_days",
    "trust_level", "attachments", "responsible_office",
)


class CatalogView:
    def __init__(self, app: Application):
        self.app = app
        self.position = 0
        self.tenants: dict[str, dict[str, Any]] = {}
        self.definitions: dict[str, dict[int, dict[str, Any]]] = {}
        self.offerings: dict[tuple[str, str], dict[str, Any]] = {}
        self.by_tenant: dict[str, dict[str, dict[str, Any]]] = {}
        self._offering_keys: dict[Any, tuple[str, str]] = {}
        self._tenant_ags: dict[Any, str] = {}
        self._lock = threading.Lock()
        self._lists: dict[str, list[Any]] = {}  # shared attachment lists (see _shared)
        self._checked = 0.0

    def catch_up(self, force: bool = False, freshness: float = 1.0) -> None:
        """Fold new notifications. The catalog service's own saves force it (so its reads
        are always current); otherwise the log is asked at most once per ``freshness``
        seconds, for changes made by another process (e.g. the import command)."""
        if not force and time.monotonic() - self._checked < freshness:
            return
        self._checked = time.monotonic()
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
        if isinstance(event, Offering.ServiceOffered):
            key = (event.tenant, event.service_id)
            self._offering_keys[event.originator_id] = key
            self.offerings[key] = {
                **{name: self._shared(getattr(event, name)) for name in OFFERING_FIELDS},
                "active": True,
                "since": event.timestamp.isoformat(),
            }
            self.by_tenant.setdefault(event.tenant, {})[event.service_id] = self.offerings[key]
        elif isinstance(event, Offering.Event) and event.originator_id in self._offering_keys:
            offering = self.offerings[self._offering_keys[event.originator_id]]
            if isinstance(event, Offering.FeeChanged):
                offering["fee_cents"] = event.fee_cents
            elif isinstance(event, Offering.RetentionChanged):
                offering["retention_months"] = event.months
            elif isinstance(event, Offering.FormVersionPublished):
                offering["form_version"] = event.form_version
            elif isinstance(event, Offering.OfferingWithdrawn):
                offering["active"] = False
            elif isinstance(event, Offering.OfferingResumed):
                offering["active"] = True
        elif isinstance(event, Tenant.Registered):
            self._tenant_ags[event.originator_id] = event.ags
            self.tenants[event.ags] = {
                "ags": event.ags,
                "name": event.name,
                "code": event.code,
                "kind": event.kind,
                "district_ags": event.district_ags,
                **event.profile,
            }
        elif isinstance(event, Tenant.ProfileUpdated):
            self.tenants[self._tenant_ags[event.originator_id]].update(event.profile)
        elif isinstance(event, ServiceDefinition.FormVersionPublished):
            definition = {**event.definition, "published_at": event.timestamp.isoformat()}
            self.definitions.setdefault(definition["service_id"], {})[int(event.version)] = definition

    def _shared(self, value: Any) -> Any:
        """One object for equal values: every municipality's offering of a service carries
        the same attachment list and keys, and 120,000 offerings (10,800 tenants) with a
        copy each took ~300 MB of the catalog process."""
        if isinstance(value, str):
            return sys.intern(value)
        if isinstance(value, list):
            return self._lists.setdefault(json.dumps(value, sort_keys=True), value)
        return value

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

    def offering(self, tenant: str, service_id: str) -> dict[str, Any] | None:
        self.catch_up()
        return self.offerings.get((tenant, service_id))

    def offerings_of(self, tenant: str) -> list[dict[str, Any]]:
        self.catch_up()
        return [o for _, o in sorted(self.by_tenant.get(tenant, {}).items())]
