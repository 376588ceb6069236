"""Value rules of the identity domain: kinds, trust levels, roles, grants, e-mails.

The vocabulary itself (kinds, roles, trust levels) is shared with the gateway and lives
in :mod:`services.common.authz`; this module checks values against it."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from services.common.authz import (
    ALL_SERVICES,
    APPLICANT_KINDS,
    KINDS,
    ROLES,
    ROLES_BY_KIND,
    STAFF_KINDS,
    TRUST_LEVELS,
    trust_rank,
)
from services.identity.domain.errors import InvalidEmail, InvalidGrant, InvalidInput

_AGS = re.compile(r"^\d{8}$")
_SERVICE_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
# Deliberately simple: one "@", a dot in the domain, no whitespace. Deliverability is
# proven by the verification mail, not by a regular expression.
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")

def normalise_email(email: str) -> str:
    """Trim, NFC-normalise and lower-case an address; raise InvalidEmail if malformed.

    Local parts are case-insensitive at every mail provider a German municipality will
    meet in practice, so lower-casing the whole address is the expected behaviour.
    Dots and ``+tags`` are kept: they are different addresses.
    """
    if not isinstance(email, str):
        raise InvalidEmail("e-mail must be a string")
    value = unicodedata.normalize("NFC", email.strip()).lower()
    if len(value) > 254 or not _EMAIL.match(value):
        raise InvalidEmail("malformed e-mail address")
    return value


def email_index_id(normalised_email: str, keyed_digest: Callable[[str], bytes]) -> uuid.UUID:
    """The e-mail index stream id of an address: the first 128 bits of a keyed hash under
    the deployment secret, which the application passes in (``keyed_digest``), so an id
    cannot be computed from a guessed address without that secret."""
    return uuid.UUID(bytes=keyed_digest(normalised_email)[:16])


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"unknown account kind {kind!r}")
    return kind


def check_trust_level(level: str) -> str:
    if level not in TRUST_LEVELS:
        raise InvalidInput(f"unknown trust level {level!r}")
    return level


def check_ags(tenant: str) -> str:
    if not isinstance(tenant, str) or not _AGS.match(tenant):
        raise InvalidGrant(f"tenant must be an 8-digit AGS, got {tenant!r}")
    return tenant


def check_service_keys(service_keys: Iterable[str]) -> list[str]:
    """Return the keys sorted and de-duplicated; ``["*"]`` means every service."""
    if isinstance(service_keys, str):
        raise InvalidGrant("service_keys must be a list of strings")
    keys = sorted(set(service_keys))
    if not keys:
        raise InvalidGrant("service_keys must not be empty (use ['*'] for all services)")
    if ALL_SERVICES in keys:
        if keys != [ALL_SERVICES]:
            raise InvalidGrant("'*' cannot be combined with other service keys")
        return keys
    for key in keys:
        if not isinstance(key, str) or not _SERVICE_KEY.match(key):
            raise InvalidGrant(f"invalid service key {key!r}")
    return keys


def grant_dict(tenant: str, role: str, service_keys: Iterable[str]) -> dict[str, Any]:
    """The one wire shape of a grant, used in events, views and token claims."""
    return {"tenant": tenant, "role": role, "service_keys": list(service_keys)}


__all__ = [
    "ALL_SERVICES",
    "APPLICANT_KINDS",
    "KINDS",
    "ROLES",
    "ROLES_BY_KIND",
    "STAFF_KINDS",
    "TRUST_LEVELS",
    "check_ags",
    "check_kind",
    "check_service_keys",
    "check_trust_level",
    "email_index_id",
    "grant_dict",
    "normalise_email",
    "trust_rank",
]
