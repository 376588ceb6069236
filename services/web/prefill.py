"""Prefill: name, address, birth date and phone are entered once in the account's profile
(``/api/v1/me/profile``) and offered in every form whose fields carry those names (plain,
``holder_…`` or ``parent_…``); the form can change them for this application only. After a
form, the check-answers page offers to save what was entered into the profile."""

from __future__ import annotations

from typing import Any

from services.web.forms import Field

#: form field (without prefix) → profile field
PROFILE_OF = {"first_name": "given_name", "last_name": "family_name", "birth_date": "birth_date", "street": "street",
              "house_number": "house_number", "postal_code": "postal_code", "city": "city", "phone": "phone"}
PREFIXES = ("", "holder_", "parent_")
REQUIRED = ("given_name", "family_name", "street", "house_number", "postal_code", "city")


def _mapping(fields: list[Field]) -> dict[str, str]:
    """form field name → profile field, for the applicant's own fields of this form (the
    first prefix that has them: a Kita form's ``child_…`` is not the applicant)."""
    names = {f.name for f in fields}
    for prefix in PREFIXES:
        found = {prefix + base: key for base, key in PROFILE_OF.items() if prefix + base in names}
        if "given_name" in found.values() or "street" in found.values():
            return found
    return {}


def prefilled(fields: list[Field], profile: dict[str, Any], account: dict[str, Any]) -> dict[str, Any]:
    data = {name: profile[key] for name, key in _mapping(fields).items() if profile.get(key)}
    if "email" in {f.name for f in fields} and account.get("email"):
        data["email"] = account["email"]
    return data


def profile_from(fields: list[Field], data: dict[str, Any]) -> dict[str, Any] | None:
    """What the form's answers would save into the profile (None: not a whole address)."""
    candidate = {key: data.get(name) or None for name, key in _mapping(fields).items()}
    if not all(candidate.get(key) for key in REQUIRED):
        return None
    return {key: candidate.get(key) for key in (*REQUIRED, "birth_date", "phone")}


def differs(profile: dict[str, Any], candidate: dict[str, Any]) -> bool:
    return any(candidate[key] is not None and candidate[key] != profile.get(key) for key in candidate)
