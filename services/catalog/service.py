"""Catalog service (nameko): tenants, service definitions, offerings, routing, search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nameko.rpc import rpc

from services.catalog.application import CatalogApp, not_offered
from services.catalog.finder import ServiceFinder
from services.catalog.reference import ReferenceCatalog
from services.common import logs
from services.common.db import open_application
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError

logs.configure("catalog")


@dataclass
class Catalog:
    """What a catalog worker needs, built once per container."""

    app: CatalogApp
    finder: ServiceFinder
    reference: ReferenceCatalog

    def close(self) -> None:
        self.app.close()


def open_catalog() -> Catalog:
    app = open_application(CatalogApp, "catalog")
    published = app.import_definitions()
    added = app.import_tenants()
    offered = app.sync_offerings()
    logs.get_logger("catalog").info("catalog_imported", definitions=published, tenants=len(added), offerings=offered)
    return Catalog(app, ServiceFinder(app), ReferenceCatalog.load())


class CatalogService:
    name = "catalog"

    catalog: Catalog = Provided(open_catalog)
    observability = Observability("catalog", 9101)
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "catalog"

    # -- tenants ---------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def get_tenant(self, ags: str) -> dict[str, Any]:
        return self.app.tenant(ags)

    @rpc
    def list_tenants(self) -> list[dict[str, Any]]:
        return self.app.tenants()

    @rpc(expected_exceptions=DomainError)
    def register_tenant(self, data: dict[str, Any]) -> dict[str, Any]:
        return self.app.register_tenant(data)

    @rpc(expected_exceptions=DomainError)
    def update_tenant_profile(self, ags: str, profile: dict[str, Any]) -> dict[str, Any]:
        return self.app.update_tenant_profile(ags, profile)

    # -- services and offerings -----------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def get_definition(self, service_id: str, version: int | None = None) -> dict[str, Any]:
        return self.app.definition(service_id, version)

    @rpc
    def list_services(self) -> list[dict[str, Any]]:
        return self.app.services()

    @rpc(expected_exceptions=DomainError)
    def list_offerings(self, ags: str) -> list[dict[str, Any]]:
        self.app.tenant(ags)
        return self.app.view.offerings_of(ags)

    @rpc(expected_exceptions=DomainError)
    def get_offering(self, ags: str, service_id: str, at: str | None = None) -> dict[str, Any]:
        """The offering now, or as it was at ``at`` (ISO 8601 with time zone); an offering
        that does not exist (then) is ``service_not_offered`` with the authority's contact."""
        if at is None:
            return self.app.offering(ags, service_id)
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            raise DomainError("invalid_parameter", name="at", detail="ISO 8601") from None
        if moment.tzinfo is None:
            raise DomainError("invalid_parameter", name="at", detail="mit Zeitzone / with time zone")
        offering = self.app.offering_as_of(ags, service_id, moment)
        if offering is None:
            raise not_offered(self.app.tenant(ags), service_id)
        return offering

    @rpc(expected_exceptions=DomainError)
    def offer(self, ags: str, service_id: str) -> dict[str, Any]:
        return self.app.offer(ags, service_id)

    @rpc(expected_exceptions=DomainError)
    def change_fee(self, ags: str, service_id: str, fee_cents: int, reason: str) -> dict[str, Any]:
        return self.app.change_fee(ags, service_id, fee_cents, reason)

    @rpc(expected_exceptions=DomainError)
    def withdraw_offering(self, ags: str, service_id: str, reason: str) -> dict[str, Any]:
        return self.app.withdraw_offering(ags, service_id, reason)

    @rpc(expected_exceptions=DomainError)
    def resolve(self, portal: str, service_id: str) -> dict[str, Any]:
        return self.app.resolve(portal, service_id)

    @rpc(expected_exceptions=DomainError)
    def search(self, ags: str, query: str, limit: int = 10) -> list[dict[str, Any]]:
        return self.finder.search(ags, query, limit)

    @property
    def app(self) -> CatalogApp:
        return self.catalog.app

    @property
    def finder(self) -> ServiceFinder:
        return self.catalog.finder

    @property
    def reference(self) -> ReferenceCatalog:
        return self.catalog.reference

    # -- the OZG reference catalog -----------------------------------------------------------------
    @rpc
    def themenfelder(self) -> list[dict[str, Any]]:
        return sorted(self.reference.themenfelder.values(), key=lambda t: t["id"])

    @rpc(expected_exceptions=DomainError)
    def lebenslagen(self, themenfeld_id: str) -> list[dict[str, Any]]:
        found = self.reference.lebenslagen_of(str(themenfeld_id))
        if found is None:
            raise DomainError("not_found")
        return found

    @rpc(expected_exceptions=DomainError)
    def leistungen(self, lebenslage_id: str) -> list[dict[str, Any]]:
        found = self.reference.leistungen_of(str(lebenslage_id))
        if found is None:
            raise DomainError("not_found")
        return found

    @rpc(expected_exceptions=DomainError)
    def leistung(self, ozg_id: str) -> dict[str, Any]:
        found = self.reference.leistung(str(ozg_id))
        if found is None:
            raise DomainError("not_found")
        return found
