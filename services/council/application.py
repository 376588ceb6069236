"""The council application: owns each tenant's OParl source configuration.

Why this shape: load → decide → save as everywhere; plain values out. The sync worker
reads every tenant's current source by folding the (small) notification log, so it needs
no read model of its own for the configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application

from services.common.db import open_application
from services.council.domain import CouncilSource, checked_url, source_id


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def source_view(source: CouncilSource | None, tenant: str) -> dict[str, Any]:
    if source is None:
        return {"tenant": tenant, "url": None, "configured_by": None, "configured_at": None, "version": 0}
    return {
        "tenant": source.tenant,
        "url": source.url,
        "configured_by": source.configured_by,
        "configured_at": source.configured_at,
        "version": source.version,
    }


class CouncilApp(Application[UUID]):
    name = "council"

    def _load(self, tenant: str) -> CouncilSource | None:
        try:
            found = self.repository.get(source_id(tenant))
        except AggregateNotFoundError:
            return None
        return found if isinstance(found, CouncilSource) else None

    def configure_source(self, tenant: str, url: str | None, actor: str, correlation_id: str) -> dict[str, Any]:
        """Point the tenant at an OParl system URL (or at none)."""
        url = checked_url(url)
        source = self._load(tenant)
        if source is None:
            source = CouncilSource(tenant, url, actor, correlation_id, now_iso())
            self.save(source)
        elif source.change(url, actor, correlation_id, now_iso()):
            self.save(source)
        return source_view(source, tenant)

    def source(self, tenant: str) -> dict[str, Any]:
        return source_view(self._load(tenant), tenant)

    def history(self, tenant: str) -> list[dict[str, Any]]:
        """Every configuration of the tenant's source: URL, who, when."""
        return [
            {"url": e.url, "actor": e.actor, "at": e.at, "version": e.originator_version}
            for e in self.repository.event_store.get(source_id(tenant))
        ]

    def sources(self) -> dict[str, str]:
        """Each tenant's current source URL (tenants without one are left out)."""
        current: dict[str, str | None] = {}
        start = 0
        while notes := self.recorder.select_notifications(start=start, limit=500, inclusive_of_start=False):
            for note in notes:
                found = self.mapper.to_domain_event(note)
                if isinstance(found, CouncilSource.Configured | CouncilSource.Changed):
                    current[found.tenant] = found.url
            start = notes[-1].id
        return {tenant: url for tenant, url in current.items() if url}

    def seed(self, seeds: dict[str, str], actor: str = "system:seed") -> list[str]:
        """Development: record a source for each tenant that never had one configured."""
        seeded = []
        for tenant, url in seeds.items():
            if self._load(tenant) is None:
                self.configure_source(tenant, url, actor, f"seed-{tenant}")
                seeded.append(tenant)
        return seeded


def open_council() -> CouncilApp:
    """The council application on the configured store (service, sync worker, CLI)."""
    return open_application(CouncilApp, "council")
