"""Rules for a tenant's data: what a new tenant must look like, and which of its details a
citizen sees as the contact of the responsible authority. Kept out of the application so
the search (which shows contacts) does not depend on it."""

from __future__ import annotations

import re
from typing import Any

from services.catalog.projections import CatalogView
from services.common.problems import DomainError, text

PROFILE_FIELDS = (
    "slug", "email", "phone", "address", "opening_hours", "primary_color", "coat_of_arms", "website", "legal_remedy",
)
PROFILE_MAX = 500
KINDS = ("gemeinde", "landkreis")
NAME_MAX = 200
AGS_PATTERN = re.compile(r"^\d{8}$")
CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,4}$")


def contact(tenant: dict[str, Any]) -> dict[str, Any]:
    """How citizens reach an authority when a service is not online there."""
    return {
        "ags": tenant["ags"], "name": tenant["name"], "kind": tenant["kind"],
        **{k: tenant[k] for k in ("email", "phone", "address", "opening_hours") if tenant.get(k)},
    }


#: The Rechtsbehelfsbelehrung of a decision letter when the tenant set none (profile field
#: ``legal_remedy``). Niedersachsen has abolished the objection procedure (Widerspruch) for
#: most decisions (§ 80 NJG), so the remedy is an action at the administrative court; the
#: tenants hosted so far (Landkreise Vechta and Cloppenburg) are in the district of the
#: Verwaltungsgericht Oldenburg. Elsewhere (or where a Widerspruch is open) the tenant sets
#: its own text.
LEGAL_REMEDY_NIEDERSACHSEN = (
    "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Klage bei dem Verwaltungsgericht "
    "Oldenburg, Schloßplatz 10, 26122 Oldenburg, erhoben werden. Die Klage ist schriftlich oder zur Niederschrift "
    "der Urkundsbeamtin oder des Urkundsbeamten der Geschäftsstelle zu erheben oder in elektronischer Form nach "
    "Maßgabe des § 55a der Verwaltungsgerichtsordnung einzureichen."
)
LEGAL_REMEDY_GENERIC = (
    "Gegen diesen Bescheid kann innerhalb eines Monats nach Bekanntgabe Widerspruch oder, wo das Landesrecht "
    "keinen Widerspruch vorsieht, Klage bei dem zuständigen Verwaltungsgericht erhoben werden. Auskunft gibt "
    "die Behörde, die diesen Bescheid erlassen hat."
)
NIEDERSACHSEN = "03"  # the Land's prefix of the AGS


def letterhead(tenant: dict[str, Any]) -> dict[str, Any]:
    """What a decision letter of the tenant shows: its contact and its Rechtsbehelfsbelehrung."""
    default = LEGAL_REMEDY_NIEDERSACHSEN if tenant["ags"].startswith(NIEDERSACHSEN) else LEGAL_REMEDY_GENERIC
    return {**contact(tenant), "legal_remedy": tenant.get("legal_remedy") or default}


def check_profile(profile: dict[str, Any]) -> None:
    """A profile change names only profile fields, each a short text."""
    if set(profile) - set(PROFILE_FIELDS):
        raise DomainError("invalid_request", detail=text("one_of", choices=", ".join(PROFILE_FIELDS)))
    if not all(isinstance(v, str) and len(v) <= PROFILE_MAX for v in profile.values()):
        raise DomainError("invalid_request", detail=text("text_max", limit=PROFILE_MAX))


def validate_tenant(row: dict[str, Any], view: CatalogView) -> dict[str, Any]:
    """Check a new tenant's data; clear errors for an admin API or CLI."""
    def bad(name: str, detail: dict[str, Any]) -> DomainError:
        return DomainError("invalid_parameter", name=name, detail=detail)

    data = {k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()}
    if not isinstance(data.get("ags"), str) or not AGS_PATTERN.match(data["ags"]):
        raise bad("ags", text("digits", count=8))
    if view.tenant(data["ags"]) is not None:
        raise DomainError("tenant_exists", ags=data["ags"])
    if not isinstance(data.get("name"), str) or not 1 <= len(data["name"]) <= NAME_MAX:
        raise bad("name", text("text_length", limit=NAME_MAX))
    if not isinstance(data.get("code"), str) or not CODE_PATTERN.match(data["code"]):
        raise bad("code", text("tenant_code"))
    if any(t["code"] == data["code"] for t in view.tenants.values()):
        raise bad("code", text("code_taken"))
    if data.get("kind") not in KINDS:
        raise bad("kind", text("one_of", choices=", ".join(KINDS)))
    district = data.get("district_ags") or None
    if district is not None and (view.tenant(district) or {}).get("kind") != "landkreis":
        raise bad("district_ags", text("district_hosted"))
    for name in PROFILE_FIELDS:
        value = data.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > PROFILE_MAX):
            raise bad(name, text("text_max", limit=PROFILE_MAX))
    return data
