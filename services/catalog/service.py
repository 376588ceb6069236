"""Catalog service (nameko): tenants, service definitions, offerings, routing, search.
A thin RPC interface; the catalog itself is built by
:func:`services.catalog.application.open_catalog`."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from services.catalog.application import Catalog, CatalogApp, open_catalog
from services.catalog.reference import ReferenceCatalog
from services.catalog.search import ServiceFinder
from services.catalog.tenants import letterhead
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError


class CatalogService:
    name = "catalog"

    catalog: Catalog = Provided(open_catalog)
    observability = Observability("catalog")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "catalog"

    # -- tenants ---------------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def get_tenant(self, ags: str) -> dict[str, Any]:
        return self.app.tenant(ags)

    @rpc(expected_exceptions=DomainError)
    def letterhead(self, ags: str) -> dict[str, Any]:
        """Contact, opening hours and Rechtsbehelfsbelehrung for the tenant's letters."""
        return letterhead(self.app.tenant(ags))

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
        return self.app.offerings(ags)

    @rpc(expected_exceptions=DomainError)
    def get_offering(self, ags: str, service_id: str, at: str | None = None) -> dict[str, Any]:
        """The offering now, or as it was at ``at`` (ISO 8601 with time zone)."""
        return self.app.offering_at(ags, service_id, at)

    @rpc(expected_exceptions=DomainError)
    def offer(self, ags: str, service_id: str) -> dict[str, Any]:
        return self.app.offer(ags, service_id)

    @rpc(expected_exceptions=DomainError)
    def change_fee(self, ags: str, service_id: str, fee_cents: int, reason: str) -> dict[str, Any]:
        return self.app.change_fee(ags, service_id, fee_cents, reason)

    @rpc(expected_exceptions=DomainError)
    def change_retention(self, ags: str, service_id: str, months: int | None, reason: str) -> dict[str, Any]:
        """The tenant's own retention period (None: the service's default), with the one in force."""
        offering = self.app.change_retention(ags, service_id, months, reason)
        return {**offering, "retention_months_in_force": self.app.retention_months(ags, service_id)}

    @rpc(expected_exceptions=DomainError)
    def withdraw_offering(self, ags: str, service_id: str, reason: str) -> dict[str, Any]:
        return self.app.withdraw_offering(ags, service_id, reason)

    @rpc(expected_exceptions=DomainError)
    def resolve(self, portal: str, service_id: str) -> dict[str, Any]:
        return self.app.resolve(portal, service_id)

    @rpc(expected_exceptions=DomainError)
    def search(self, ags: str, query: str, limit: int = 10, lang: str = "de") -> list[dict[str, Any]]:
        return self.finder.search(ags, query, limit, lang)

    @rpc(expected_exceptions=DomainError)
    def search_all(self, query: str, limit: int = 10, lang: str = "de") -> list[dict[str, Any]]:
        return self.finder.search_all(query, limit, lang)

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
