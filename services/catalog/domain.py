"""Catalog aggregates: service definitions with versioned forms and fees, and tenants.

A published form version is immutable: a case pins the version in force when it was
submitted, and later versions never change it.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text

CATALOG_NAMESPACE = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/catalog")


#: The longest retention period a service or tenant may set (100 years: building files).
RETENTION_MAX_MONTHS = 1200

class DefinitionError(DomainError):
    """A definition file is malformed or inconsistent, or would change a published version.
    ``detail`` is technical (file, JSON path, validator message), for whoever edits the file."""

    code = "invalid_definition"


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
                raise DefinitionError(detail=(
                    f"{self.service_id}: version {version} is already published with other content; "
                    "raise the version number to change a form"
                ))
            return False
        if version < self.current:
            raise DefinitionError(detail=f"{self.service_id}: version {version} is older than the current {self.current}")
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


class Offering(Aggregate):
    """A service as one tenant offers it online: form version, fee and terms in force.

    Every change is an event with its time, so "what was offered, at what fee, on date X"
    is answered by folding the events up to X."""

    @event("ServiceOffered")
    def __init__(
        self,
        tenant: str,
        service_id: str,
        leika_key: str,
        ozg_id: str,
        form_version: int,
        fee_cents: int,
        processing_days: int,
        trust_level: str,
        attachments: list[dict[str, Any]],
        responsible_office: str,
    ) -> None:
        self.tenant = tenant
        self.service_id = service_id
        self.leika_key = leika_key
        self.ozg_id = ozg_id
        self.form_version = form_version
        self.fee_cents = fee_cents
        self.processing_days = processing_days
        self.trust_level = trust_level
        self.attachments = attachments
        self.responsible_office = responsible_office
        self.active = True

    @staticmethod
    def create_id(tenant: str, service_id: str) -> UUID:
        return uuid5(CATALOG_NAMESPACE, f"offering|{tenant}|{service_id}")

    def change_fee(self, fee_cents: int, reason: str) -> None:
        if fee_cents < 0:
            raise DomainError("invalid_parameter", name="fee_cents", detail=text("integer_min_0"))
        if fee_cents != self.fee_cents:
            self._fee_changed(fee_cents=fee_cents, previous_cents=self.fee_cents, reason=reason)

    @event("FeeChanged")
    def _fee_changed(self, fee_cents: int, previous_cents: int, reason: str) -> None:
        self.fee_cents = fee_cents

    def change_retention(self, months: int | None, reason: str) -> None:
        """This tenant's retention period after the decision (None: the service's default)."""
        if months is not None and not 1 <= months <= RETENTION_MAX_MONTHS:
            raise DomainError("invalid_parameter", name="retention_months",
                              detail=text("range", low=1, high=RETENTION_MAX_MONTHS))
        if months != getattr(self, "retention_months", None):
            self._retention_changed(months=months, reason=reason)

    @event("RetentionChanged")
    def _retention_changed(self, months: int | None, reason: str) -> None:
        self.retention_months = months

    def adopt_form_version(self, form_version: int) -> bool:
        if form_version <= self.form_version:
            return False
        self._form_version_published(form_version=form_version)
        return True

    @event("FormVersionPublished")
    def _form_version_published(self, form_version: int) -> None:
        self.form_version = form_version

    def withdraw(self, reason: str) -> None:
        if self.active:
            self._withdrawn(reason=reason)

    @event("OfferingWithdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.active = False

    def resume(self) -> None:
        if not self.active:
            self._resumed()

    @event("OfferingResumed")
    def _resumed(self) -> None:
        self.active = True
