"""Catalog service (nameko): tenants, service definitions, what is offered where."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc

from services.catalog.application import CatalogApp
from services.common import logs
from services.common.db import open_application
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError

logs.configure("catalog")


def open_catalog() -> CatalogApp:
    app = open_application(CatalogApp, "catalog")
    published = app.import_definitions()
    added = app.import_tenants()
    logs.get_logger("catalog").info("catalog_imported", definitions=published, tenants=len(added))
    return app


class CatalogService:
    name = "catalog"

    app: CatalogApp = Provided(open_catalog)
    observability = Observability("catalog", 9101)
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "catalog"

    @rpc(expected_exceptions=DomainError)
    def get_tenant(self, ags: str) -> dict[str, Any]:
        return self.app.tenant(ags)

    @rpc
    def list_tenants(self) -> list[dict[str, Any]]:
        return self.app.tenants()

    @rpc(expected_exceptions=DomainError)
    def get_definition(self, service_id: str, version: int | None = None) -> dict[str, Any]:
        return self.app.definition(service_id, version)

    @rpc
    def list_services(self) -> list[dict[str, Any]]:
        return self.app.services()

    @rpc(expected_exceptions=DomainError)
    def resolve(self, portal: str, service_id: str) -> dict[str, Any]:
        return self.app.resolve(portal, service_id)
