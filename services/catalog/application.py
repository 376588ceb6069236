"""Catalog application: service definitions, tenants and their offerings, responsibility
routing. Commands load → decide → save; queries answer from the in-memory view."""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application

from services.catalog.domain import Offering, ServiceDefinition, Tenant
from services.catalog.projections import OFFERING_FIELDS, CatalogView
from services.catalog.reference import read_csv
from services.common.problems import DomainError

PACKAGE = Path(__file__).resolve().parent
DEFINITIONS_DIR = Path(os.environ.get("CATALOG_DEFINITIONS_DIR", PACKAGE / "definitions"))
DATA_DIR = PACKAGE / "data"
TENANT_CORE = ("ags", "name", "code", "kind", "district_ags")
PROFILE_FIELDS = ("slug", "email", "phone", "address", "opening_hours", "primary_color", "coat_of_arms", "website")


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
    def import_definitions(self, directory: Path = DEFINITIONS_DIR) -> list[str]:
        """Publish every definition file whose version is not yet published (no code needed
        to add a service: drop a file into definitions/ and run the import)."""
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
        data = validate_tenant(row, self.view)
        tenant = Tenant(
            ags=data["ags"], name=data["name"], code=data["code"], kind=data["kind"],
            district_ags=data.get("district_ags") or None,
            profile={k: v for k, v in data.items() if k in PROFILE_FIELDS and v not in (None, "")},
        )
        self.save(tenant)
        return self.tenant(data["ags"])

    def update_tenant_profile(self, ags: str, profile: dict[str, Any]) -> dict[str, Any]:
        self.tenant(ags)
        unknown = set(profile) - set(PROFILE_FIELDS)
        if unknown or not all(isinstance(v, str) and len(v) <= 500 for v in profile.values()):
            raise DomainError("invalid_request", detail=f"profile fields: {', '.join(PROFILE_FIELDS)}")
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
        if not isinstance(fee_cents, int) or isinstance(fee_cents, bool) or not 0 <= fee_cents <= 10_000_000:
            raise DomainError("invalid_parameter", name="fee_cents", detail="0 … 10000000")
        offering = self._offering(tenant, service_id)
        offering.change_fee(fee_cents, reason[:500])
        self.save(offering)
        return self.offering(tenant, service_id)

    def withdraw_offering(self, tenant: str, service_id: str, reason: str) -> dict[str, Any]:
        offering = self._offering(tenant, service_id)
        offering.withdraw(reason[:500])
        self.save(offering)
        return self.offering(tenant, service_id)

    def offering(self, tenant: str, service_id: str) -> dict[str, Any]:
        offering = self.view.offering(tenant, service_id)
        if offering is None:
            raise not_offered(self.tenant(tenant), service_id)
        return dict(offering)

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
            "processing_days": offering["processing_days"],
            "trust_level": offering["trust_level"],
            "form": definition["form"],
        }


def contact(tenant: dict[str, Any]) -> dict[str, Any]:
    return {
        "ags": tenant["ags"], "name": tenant["name"], "kind": tenant["kind"],
        **{k: tenant[k] for k in ("email", "phone", "address", "opening_hours") if tenant.get(k)},
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


AGS_PATTERN = re.compile(r"^\d{8}$")
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")


def validate_tenant(row: dict[str, Any], view: CatalogView) -> dict[str, Any]:
    """Check a new tenant's data; clear errors for an admin API or CLI."""
    def bad(name: str, detail: str) -> DomainError:
        return DomainError("invalid_parameter", name=name, detail=detail)

    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
    if not isinstance(data.get("ags"), str) or not AGS_PATTERN.match(data["ags"]):
        raise bad("ags", "8 Ziffern / 8 digits")
    if view.tenant(data["ags"]) is not None:
        raise DomainError("tenant_exists", ags=data["ags"])
    if not isinstance(data.get("name"), str) or not 1 <= len(data["name"]) <= 200:
        raise bad("name", "1–200 Zeichen / characters")
    if not isinstance(data.get("code"), str) or not CODE_PATTERN.match(data["code"]):
        raise bad("code", "2–5 Zeichen A–Z, 0–9, zuerst ein Buchstabe / 2–5 of A–Z, 0–9, starting with a letter")
    if any(t["code"] == data["code"] for t in view.tenants.values()):
        raise bad("code", "bereits vergeben / already taken")
    if data.get("kind") not in ("gemeinde", "landkreis"):
        raise bad("kind", "gemeinde | landkreis")
    district = data.get("district_ags") or None
    if district is not None and (view.tenant(district) or {}).get("kind") != "landkreis":
        raise bad("district_ags", "AGS eines Landkreises auf der Plattform / AGS of a hosted district")
    for name in PROFILE_FIELDS:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > 500):
            raise bad(name, "Text bis 500 Zeichen / text up to 500 characters")
    return data
