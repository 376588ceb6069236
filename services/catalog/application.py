"""Catalog application: service definitions, tenants and their offerings, responsibility
routing. Commands load → decide → save; queries answer from the in-memory view.
:func:`open_catalog` builds what a catalog process needs (service and command line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application

from services.catalog.definitions import default_retention, load_definitions
from services.catalog.domain import Offering, ServiceDefinition, Tenant
from services.catalog.projections import OFFERING_FIELDS, CatalogView
from services.catalog.reference import DATA_DIR, ReferenceCatalog, read_csv
from services.catalog.search import ServiceFinder
from services.catalog.tenants import PROFILE_FIELDS, check_profile, contact, validate_tenant
from services.common import logs
from services.common.db import open_application
from services.common.problems import DomainError, text

FEE_MAX_CENTS = 10_000_000
REASON_MAX = 500


class CatalogApp(Application):
    name = "catalog"

    def __init__(self, env: dict[str, str] | None = None):
        super().__init__(env)
        self.view = CatalogView(self)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        self.view.catch_up(force=True)  # our own changes are visible to our next read
        return recordings

    # -- imports (idempotent) -------------------------------------------------------------
    def import_definitions(self, directory: Path | None = None) -> list[str]:
        """Publish every definition whose version is not yet published (no code needed to add
        a service: drop a file into definitions/ and run the import). Every file is
        validated first, so one broken file publishes nothing."""
        published = []
        for service_id, definition in load_definitions(directory).items():
            try:
                aggregate = self.repository.get(ServiceDefinition.create_id(service_id))
            except AggregateNotFoundError:
                aggregate = ServiceDefinition(service_id=service_id)
            if aggregate.publish(definition):
                self.save(aggregate)
                published.append(f"{service_id}@{definition['version']}")
        return published

    def import_all(self, definitions: Path | None = None) -> dict[str, Any]:
        """Definitions, tenants and offerings (idempotent): what a catalog process does at
        start, so the service and the command line see the same catalog."""
        published = self.import_definitions(definitions)
        added = self.import_tenants()
        return {"definitions": published, "tenants": added, "offerings": self.sync_offerings()}

    def import_tenants(self, path: Path = DATA_DIR / "tenants.csv") -> list[str]:
        added = []
        for row in read_csv(path):
            if self.view.tenant(row["ags"]) is None:
                self.register_tenant(row)
                added.append(row["ags"])
        return added

    def sync_offerings(self) -> int:
        """Every tenant offers the current version of every service its level is responsible
        for (unless it withdrew it); returns how many offerings were opened or updated."""
        self.view.catch_up()
        changed: list[Offering] = []
        for definition in self.view.current_definitions():
            for tenant in self.view.tenants.values():
                if self._responsible_level(definition, tenant["ags"]) != tenant["kind"]:
                    continue
                current = self.view.offerings.get((tenant["ags"], definition["service_id"]))
                if current is None:
                    changed.append(self._new_offering(tenant["ags"], definition))
                elif current["form_version"] < int(definition["version"]):
                    offering = self.repository.get(Offering.create_id(tenant["ags"], definition["service_id"]))
                    offering.adopt_form_version(int(definition["version"]))
                    changed.append(offering)
        for start in range(0, len(changed), 500):
            self.save(*changed[start : start + 500])
        return len(changed)

    @staticmethod
    def _new_offering(tenant: str, definition: dict[str, Any]) -> Offering:
        return Offering(
            tenant=tenant,
            service_id=definition["service_id"],
            leika_key=str(definition.get("leika_key", "")),
            ozg_id=str(definition.get("ozg_id", "")),
            form_version=int(definition["version"]),
            fee_cents=int(definition.get("fee", {}).get("amount_cents", 0)),
            processing_days=int(definition.get("processing_days", 14)),
            trust_level=definition.get("trust_level", "basic"),
            attachments=definition.get("attachments", []),
            responsible_office=definition.get("responsible_office", ""),
        )

    # -- tenant administration ----------------------------------------------------------------
    def register_tenant(self, row: dict[str, Any]) -> dict[str, Any]:
        return self.register_tenants([row])[0]

    def register_tenants(self, rows: list[dict[str, Any]], batch: int = 500) -> list[dict[str, Any]]:
        """Many tenants at once (thousands of municipalities): each checked as a single one,
        saved ``batch`` at a time instead of one save (and view catch-up) per tenant. A
        district must be registered before (an earlier call) the municipalities it hosts."""
        saved = []
        for start in range(0, len(rows), batch):
            tenants, seen = [], set()
            for row in rows[start : start + batch]:
                data = validate_tenant(row, self.view)
                if data["ags"] in seen or data["code"] in seen:  # twice in one batch: the view cannot tell yet
                    raise DomainError("tenant_exists", ags=data["ags"])
                seen.update((data["ags"], data["code"]))
                tenants.append(Tenant(
                    ags=data["ags"], name=data["name"], code=data["code"], kind=data["kind"],
                    district_ags=data.get("district_ags") or None,
                    profile={k: v for k, v in data.items() if k in PROFILE_FIELDS and v not in (None, "")},
                ))
            self.save(*tenants)
            saved.extend(self.tenant(t.ags) for t in tenants)
        return saved

    def update_tenant_profile(self, ags: str, profile: dict[str, Any]) -> dict[str, Any]:
        self.tenant(ags)
        check_profile(profile)
        tenant = self.repository.get(Tenant.create_id(ags))
        tenant.update_profile({**tenant.profile, **profile})
        self.save(tenant)
        return self.tenant(ags)

    # -- offerings -------------------------------------------------------------------------------
    def _offering(self, tenant: str, service_id: str) -> Offering:
        self.tenant(tenant)
        try:
            return self.repository.get(Offering.create_id(tenant, service_id))
        except AggregateNotFoundError:
            raise not_offered(self.tenant(tenant), service_id) from None

    def offer(self, tenant: str, service_id: str) -> dict[str, Any]:
        self.tenant(tenant)
        definition = self.definition(service_id)
        try:
            offering = self.repository.get(Offering.create_id(tenant, service_id))
            offering.resume()
        except AggregateNotFoundError:
            offering = self._new_offering(tenant, definition)
        self.save(offering)
        return self.offering(tenant, service_id)

    def change_fee(self, tenant: str, service_id: str, fee_cents: int, reason: str) -> dict[str, Any]:
        if not isinstance(fee_cents, int) or isinstance(fee_cents, bool) or not 0 <= fee_cents <= FEE_MAX_CENTS:
            raise DomainError("invalid_parameter", name="fee_cents", detail=text("range", low=0, high=FEE_MAX_CENTS))
        offering = self._offering(tenant, service_id)
        offering.change_fee(fee_cents, reason[:REASON_MAX])
        self.save(offering)
        return self.offering(tenant, service_id)

    def change_retention(self, tenant: str, service_id: str, months: int | None, reason: str) -> dict[str, Any]:
        """A tenant's own retention period for a service (None: back to the service's default)."""
        if months is not None and (not isinstance(months, int) or isinstance(months, bool)):
            raise DomainError("invalid_parameter", name="retention_months", detail=text("integer_min_0"))
        offering = self._offering(tenant, service_id)
        offering.change_retention(months, reason[:REASON_MAX])
        self.save(offering)
        return self.offering(tenant, service_id)

    def retention_months(self, tenant: str, service_id: str) -> int | None:
        """Months after the decision that a case's personal data are kept: the tenant's own
        period, else the definition's ``retention_months``, else the default in
        ``definitions/_retention.json`` (published versions cannot change); None: no period."""
        offering = self.view.offering(tenant, service_id) or {}
        if offering.get("retention_months") is not None:
            return int(offering["retention_months"])
        definition = self.view.definition(service_id) or {}
        if definition.get("retention_months") is not None:
            return int(definition["retention_months"])
        value = default_retention().get(service_id)
        return int(value) if value is not None else None

    def withdraw_offering(self, tenant: str, service_id: str, reason: str) -> dict[str, Any]:
        offering = self._offering(tenant, service_id)
        offering.withdraw(reason[:REASON_MAX])
        self.save(offering)
        return self.offering(tenant, service_id)

    def offering(self, tenant: str, service_id: str) -> dict[str, Any]:
        offering = self.view.offering(tenant, service_id)
        if offering is None:
            raise not_offered(self.tenant(tenant), service_id)
        return dict(offering)

    def offering_at(self, tenant: str, service_id: str, at: str | None) -> dict[str, Any]:
        """The offering now, or as it was at ``at`` (ISO 8601 with time zone); an offering
        that does not exist (then) is ``service_not_offered`` with the authority's contact."""
        if at is None:
            return self.offering(tenant, service_id)
        try:
            moment = datetime.fromisoformat(at)
        except (TypeError, ValueError):
            raise DomainError("invalid_parameter", name="at", detail=text("with_time_zone")) from None
        if moment.tzinfo is None:
            raise DomainError("invalid_parameter", name="at", detail=text("with_time_zone"))
        offering = self.offering_as_of(tenant, service_id, moment)
        if offering is None:
            raise not_offered(self.tenant(tenant), service_id)
        return offering

    def offering_as_of(self, tenant: str, service_id: str, at: datetime) -> dict[str, Any] | None:
        """What the tenant offered (form version, fee, active) at a point in time."""
        events = [e for e in self.events.get(Offering.create_id(tenant, service_id)) if e.timestamp <= at]
        if not events:
            return None
        offering = self.repository.get(Offering.create_id(tenant, service_id), version=events[-1].originator_version)
        return {**{name: getattr(offering, name) for name in OFFERING_FIELDS}, "active": offering.active,
                "as_of": at.isoformat()}

    # -- queries -----------------------------------------------------------------------------------
    def tenant(self, ags: str) -> dict[str, Any]:
        tenant = self.view.tenant(ags)
        if tenant is None:
            raise DomainError("unknown_tenant", ags=ags)
        return tenant

    def tenants(self) -> list[dict[str, Any]]:
        return self.view.all_tenants()

    def offerings(self, ags: str) -> list[dict[str, Any]]:
        self.tenant(ags)
        return self.view.offerings_of(ags)

    def definition(self, service_id: str, version: int | None = None) -> dict[str, Any]:
        definition = self.view.definition(service_id, version)
        if definition is None:
            raise DomainError("unknown_service", service_id=service_id)
        return definition

    def services(self) -> list[dict[str, Any]]:
        return [summary(d) for d in self.view.current_definitions()]

    def _responsible_level(self, definition: dict[str, Any], portal: str) -> str:
        overrides = definition.get("responsibility_overrides", {})
        return overrides.get(portal, definition.get("responsible_level", "gemeinde"))

    def responsible_authority(self, portal: str, service_id: str) -> dict[str, Any]:
        """The authority responsible for a service asked for through a portal: the
        municipality itself or its district (responsibility table in the definition)."""
        portal_tenant = self.tenant(portal)
        definition = self.definition(service_id)
        level = self._responsible_level(definition, portal)
        if level == "landkreis" and portal_tenant["kind"] != "landkreis" and portal_tenant.get("district_ags"):
            return self.tenant(portal_tenant["district_ags"])
        return portal_tenant

    def resolve(self, portal: str, service_id: str) -> dict[str, Any]:
        """Which authority is responsible, and which form and fee are in force now."""
        responsible = self.responsible_authority(portal, service_id)
        offering = self.view.offering(responsible["ags"], service_id)
        if offering is None or not offering["active"]:
            raise not_offered(responsible, service_id)
        definition = self.definition(service_id, offering["form_version"])
        return {
            "portal": portal,
            "tenant": responsible["ags"],
            "tenant_code": responsible["code"],
            "service_id": service_id,
            "ozg_id": offering["ozg_id"],
            "leika_key": offering["leika_key"],
            "form_version": offering["form_version"],
            "fee_cents": offering["fee_cents"],
            "refund_on": definition["fee"].get("refund_on", {}),
            "processing_days": offering["processing_days"],
            "trust_level": offering["trust_level"],
            "form": definition["form"],
        }


def not_offered(tenant: dict[str, Any], service_id: str) -> DomainError:
    """Not online here: the answer carries the responsible authority's contact."""
    return DomainError(
        "service_not_offered", service_id=service_id, ags=tenant["ags"], authority=tenant["name"],
        email=tenant.get("email", ""), phone=tenant.get("phone", ""), contact=contact(tenant),
    )


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
        "trust_level": definition.get("trust_level", "basic"),
    }


@dataclass
class Catalog:
    """What a catalog process needs, built once: the application, its search and the OZG
    reference catalog."""

    app: CatalogApp
    finder: ServiceFinder
    reference: ReferenceCatalog

    def close(self) -> None:
        self.app.close()


def open_catalog(definitions: Path | None = None) -> Catalog:
    """The catalog on its configured store with definitions (from ``definitions``, default
    :func:`services.catalog.definitions.definitions_dir`), tenants and offerings imported."""
    app = open_application(CatalogApp, "catalog")
    imported = app.import_all(definitions)
    logs.get_logger("catalog").info(
        "catalog_imported", definitions=imported["definitions"], tenants=len(imported["tenants"]),
        offerings=imported["offerings"],
    )
    return Catalog(app, ServiceFinder(app), ReferenceCatalog.load())
