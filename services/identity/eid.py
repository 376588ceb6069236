"""Identity provider adapters for trust levels *substantial* and *high*.

Basic trust comes from an e-mail-verified password account. Higher levels need an
identity proofing provider — in production the BundID / an eID-Server speaking SAML
(Online-Ausweisfunktion = high, ELSTER certificate = substantial). The application
depends only on the :class:`IdentityProvider` protocol:

1. ``start(account_id, return_url)`` → :class:`EidRedirect` (where to send the browser,
   and an opaque ``state`` that must come back in the callback);
2. ``complete(callback_params)`` → :class:`VerifiedIdentity` (level, attributes, and a
   provider-side pseudonymous subject), or :class:`EidError`.

The application, not the provider, binds ``state`` to the account (only its hash is
stored in ``EidVerificationStarted``, single-use, expiring), so a callback cannot be
replayed into someone else's account.

:class:`SimulatedEidProvider` is for development and tests ONLY: it believes whatever
level and attributes the callback claims. The application uses it only when
explicitly configured (IDENTITY_EID_PROVIDER=simulated) or injected.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable
from urllib.parse import urlencode

from services.common.problems import DomainError

HIGHER_LEVELS = ("substantial", "high")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class EidError(DomainError):
    """The provider refused or the callback is malformed; the reason is shown to the
    citizen as the provider's technical answer."""

    code = "eid_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason[:200])


@dataclass(frozen=True)
class EidRedirect:
    url: str
    state: str
    provider: str


@dataclass(frozen=True)
class VerifiedIdentity:
    provider: str
    level: str  # "substantial" | "high"
    subject: str  # provider's stable pseudonym for the person (e.g. bPK2)
    attributes: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class IdentityProvider(Protocol):
    name: str

    def start(self, account_id: str, return_url: str) -> EidRedirect: ...

    def complete(self, callback_params: Mapping[str, str]) -> VerifiedIdentity: ...


class SimulatedEidProvider:
    """A stand-in eID for development and tests. NEVER enable in production.

    ``start`` points the browser at a simulator page (served by the gateway in dev
    mode) that lets the tester pick a level and enter attributes; the page posts
    ``state``, ``level``, ``given_name``, ``family_name``, ``birth_date`` (ISO) and
    optionally ``place_of_birth``, ``street``, ``postal_code``, ``city`` back to the
    ``return_url``. Stateless, so it works with any number of workers.
    """

    name = "simulated-eid"
    REQUIRED = ("given_name", "family_name", "birth_date")
    OPTIONAL = ("place_of_birth", "street", "postal_code", "city", "nationality")

    def __init__(self, simulator_url: str = "/dev/eid-simulator") -> None:
        self.simulator_url = simulator_url

    def start(self, account_id: str, return_url: str) -> EidRedirect:
        state = secrets.token_urlsafe(32)
        query = urlencode({"state": state, "return_url": return_url})
        return EidRedirect(url=f"{self.simulator_url}?{query}", state=state, provider=self.name)

    def complete(self, callback_params: Mapping[str, str]) -> VerifiedIdentity:
        if callback_params.get("error"):
            raise EidError(f"simulated provider reported {callback_params['error']!r}")
        level = callback_params.get("level", "")
        if level not in HIGHER_LEVELS:
            raise EidError("level must be 'substantial' or 'high'")
        missing = [name for name in self.REQUIRED if not str(callback_params.get(name, "")).strip()]
        if missing:
            raise EidError(f"missing attributes: {', '.join(missing)}")
        if not _DATE.match(callback_params["birth_date"]):
            raise EidError("birth_date must be YYYY-MM-DD")
        attributes = {
            name: str(callback_params[name]).strip()[:200]
            for name in (*self.REQUIRED, *self.OPTIONAL)
            if str(callback_params.get(name, "")).strip()
        }
        fingerprint = "|".join(attributes[name].lower() for name in self.REQUIRED)
        subject = "sim-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()[:32]
        return VerifiedIdentity(provider=self.name, level=level, subject=subject, attributes=attributes)


def provider_from_name(name: str | None) -> IdentityProvider | None:
    """The provider configured by IDENTITY_EID_PROVIDER; None disables eID."""
    if not name:
        return None
    if name == "simulated":
        return SimulatedEidProvider()
    msg = f"unknown eID provider {name!r} (known: 'simulated')"
    raise ValueError(msg)
