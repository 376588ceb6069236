"""The citizen's profile for prefilling forms (name, address, birth date, phone): entered
once in the account, reused in every form and changeable per form there.

It is personal data, so it lives in :class:`~services.identity.domain.personal_data.PersonalData`
(erased with the account). :func:`check_profile` is the one validation; its errors name
each field, like a form's.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from services.common.problems import DomainError, text

FIELDS = ("given_name", "family_name", "birth_date", "street", "house_number", "postal_code", "city", "phone")
REQUIRED = ("given_name", "family_name", "street", "house_number", "postal_code", "city")
TEXT_LIMIT = 100
#: The same rules the service definitions use for these fields.
PATTERNS = {
    "house_number": re.compile(r"^[0-9]{1,4}( ?[a-zA-Z]| ?[-/] ?[0-9a-zA-Z]{1,4})?$"),
    "postal_code": re.compile(r"^[0-9]{5}$"),
    "phone": re.compile(r"^\+?[0-9 ()/-]{6,30}$"),
}
EARLIEST_BIRTH = date(1900, 1, 1)


def _error(name: str, code: str, key: str, **params: Any) -> dict[str, Any]:
    return {"field": f"/{name}", "code": code, "message": text(key, **params)}


def check_profile(data: Any, today: date) -> dict[str, str | None]:
    """The profile with every field (``None`` where left out), or ``form_invalid``."""
    if not isinstance(data, dict):
        raise DomainError("invalid_request", detail=text("json_object"))
    errors = [_error(name, "additionalProperties", "field_unknown") for name in sorted(set(data) - set(FIELDS))]
    profile: dict[str, str | None] = {}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, str):
            value = " ".join(value.split())  # no control characters, no stray spaces
        if value in (None, ""):
            if name in REQUIRED:
                errors.append(_error(name, "required", "field_required"))
            profile[name] = None
            continue
        if not isinstance(value, str) or len(value) > TEXT_LIMIT:
            errors.append(_error(name, "maxLength", "text_length", limit=TEXT_LIMIT))
        elif name in PATTERNS and not PATTERNS[name].match(value):
            errors.append(_error(name, "pattern", f"profile_{name}"))
        elif name == "birth_date" and not _plausible_birth_date(value, today):
            errors.append(_error(name, "format", "profile_birth_date"))
        profile[name] = value
    if errors:
        raise DomainError("form_invalid", errors=errors)
    return profile


def _plausible_birth_date(value: str, today: date) -> bool:
    try:
        born = date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10 and EARLIEST_BIRTH <= born <= today
