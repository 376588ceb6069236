"""Catalog aggregates: service definitions with versioned forms and fees, and tenants.

A published form version is immutable: a case pins the version in force when it was
submitted, and later versions never change it.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CATALOG_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/catalog")


class ServiceDefinition(Aggregate):
    """A service (Leistung) as the platform offers it, with every form version ever published."""

    @event("Defined")
    def __init__(self, service_id: str) -> None:
        self.service_id = service_id
        self.versions: dict[int, dict[str, Any]] = {}
        self.current: int = 0

    @staticmethod
    def create_id(service_id: str) -> UUID:
        return uuid5(CATALOG_NAMESPACE, f"service|{service_id}")

    def publish(self, definition: dict[str, Any]) -> bool:
        """Publish a new form version; an already published version must be unchanged."""
        version = int(definition["version"])
        if version in self.versions:
            if self.versions[version] != definition:
                raise ValueError(
                    f"{self.service_id} version {version} is already published with other content; "
                    "raise the version number to change a form"
                )
            return False
        if version < self.current:
            raise ValueError(f"{self.service_id}: version {version} is older than the current {self.current}")
        self._publish(version=version, definition=definition)
        return True

    @event("FormVersionPublished")
    def _publish(self, version: int, definition: dict[str, Any]) -> None:
        self.versions[version] = definition
        self.current = version


class Tenant(Aggregate):
    """A municipality or district (Kommune / Landkreis) hosted on the platform."""

    @event("Registered")
    def __init__(
        self,
        ags: str,
        name: str,
        code: str,
        kind: str,
        district_ags: str | None,
        profile: dict[str, Any],
    ) -> None:
        self.ags = ags
        self.name = name
        self.code = code
        self.kind = kind
        self.district_ags = district_ags
        self.profile = profile

    @staticmethod
    def create_id(ags: str) -> UUID:
        return uuid5(CATALOG_NAMESPACE, f"tenant|{ags}")

    @event("ProfileUpdated")
    def update_profile(self, profile: dict[str, Any]) -> None:
        self.profile = profile
