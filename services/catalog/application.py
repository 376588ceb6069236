"""Catalog application: imports definitions and tenants, answers what is offered where."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application

from services.catalog.domain import ServiceDefinition, Tenant
from services.catalog.projections import CatalogView
from services.common.problems import DomainError

PACKAGE = Path(__file__).resolve().parent
DEFINITIONS_DIR = Path(os.environ.get("CATALOG_DEFINITIONS_DIR", PACKAGE / "definitions"))
DATA_DIR = PACKAGE / "data"


class CatalogApp(Application):
    name = "catalog"

    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(env)
        self.view = CatalogView(self)

    # -- imports (idempotent) -------------------------------------------------------------
    def import_definitions(self, directory: Path = DEFINITIONS_DIR) -> list[str]:
        """Publish every definition file whose version is not yet published."""
        published = []
        for path in sorted(directory.glob("*.json")):
            if path.name.startswith("_"):
                continue
            definition = json.loads(path.read_text(encoding="utf-8"))
            service_id = definition["service_id"]
            try:
                aggregate = self.repository.get(ServiceDefinition.create_id(service_id))
            except AggregateNotFoundError:
                aggregate = ServiceDefinition(service_id=service_id)
            if aggregate.publish(definition):
                self.save(aggregate)
                published.append(f"{service_id}@{definition['version']}")
        return published

    def import_tenants(self, path: Path = DATA_DIR / "tenants.csv") -> list[str]:
        added = []
        with open(path, encoding="utf-8") as handle:
            rows = [row for row in csv.DictReader(line for line in handle if not line.startswith("#"))]
        for row in rows:
            if self.view.tenant(row["ags"]) is not None:
                continue
            self.register_tenant(row)
            added.append(row["ags"])
        return added

    def register_tenant(self, row: dict[str, Any]) -> dict[str, Any]:
        core = {"ags", "name", "code", "kind", "district_ags"}
        tenant = Tenant(
            ags=row["ags"],
            name=row["name"],
            code=row["code"],
            kind=row["kind"],
            district_ags=row.get("district_ags") or None,
            profile={k: v for k, v in row.items() if k not in core and v not in (None, "")},
        )
        self.save(tenant)
        return self.tenant(row["ags"])

    # -- queries -----------------------------------------------------------------------------
    def tenant(self, ags: str) -> dict[str, Any]:
        tenant = self.view.tenant(ags)
        if tenant is None:
            raise DomainError("unknown_tenant", ags=ags)
        return tenant

    def tenants(self) -> list[dict[str, Any]]:
        return self.view.all_tenants()

    def definition(self, service_id: str, version: int | None = None) -> dict[str, Any]:
        definition = self.view.definition(service_id, version)
        if definition is None:
            raise DomainError("unknown_service", service_id=service_id)
        return definition

    def services(self) -> list[dict[str, Any]]:
        return [summary(d) for d in self.view.current_definitions()]

    def resolve(self, portal: str, service_id: str) -> dict[str, Any]:
        """Which authority is responsible, and which form and fee are in force now."""
        portal_tenant = self.tenant(portal)
        definition = self.definition(service_id)
        responsible = portal_tenant
        if definition.get("responsible_level") == "landkreis" and portal_tenant["kind"] != "landkreis":
            responsible = self.tenant(portal_tenant["district_ags"])
        return {
            "portal": portal,
            "tenant": responsible["ags"],
            "tenant_code": responsible["code"],
            "service_id": service_id,
            "ozg_id": str(definition.get("ozg_id", "")),
            "leika_key": str(definition.get("leika_key", "")),
            "form_version": int(definition["version"]),
            "fee_cents": int(definition.get("fee", {}).get("amount_cents", 0)),
            "processing_days": int(definition.get("processing_days", 14)),
            "form": definition["form"],
        }


def summary(definition: dict[str, Any]) -> dict[str, Any]:
    return {
        "service_id": definition["service_id"],
        "name": definition["name"],
        "version": definition["version"],
        "ozg_id": definition.get("ozg_id"),
        "leika_key": definition.get("leika_key"),
        "fee_cents": definition.get("fee", {}).get("amount_cents", 0),
        "processing_days": definition.get("processing_days"),
        "responsible_level": definition.get("responsible_level", "gemeinde"),
    }
