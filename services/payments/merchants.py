"""Each tenant is its own merchant at the provider: its own API key, webhook secret and
settlement. Where the credentials come from:

* ``PAYMENTS_MERCHANTS_FILE`` — a JSON list (or ``{"merchants": [...]}``) of objects with
  ``merchant_id``, ``api_key``, ``webhook_secret`` and optionally ``tenant`` (AGS; default the
  merchant_id), ``name``, ``kassenzeichen_pattern``. The PSP simulator reads the same format
  (``PSP_SIMULATOR_MERCHANTS_FILE``, plus ``webhook_url``), so one file can serve both.
* Otherwise (development and tests): every tenant is a merchant whose id is its AGS and whose
  credentials are keyed hashes of the deployment secret (``VR_SECRET_KEY``, generated under
  ``var/`` in development) — :func:`simulator_file` writes them for the simulator.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from services.common.config import PaymentsSettings, Settings
from services.common.problems import DomainError
from services.common.secrets import keyed_hex, secret_from
from services.payments.domain.kassenzeichen import DEFAULT_PATTERN, pattern_fields

AGS = re.compile(r"[0-9]{8}")
MERCHANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_SECRET = 16
WEBHOOK_PATH = "/api/v1/payments/webhooks/psp"


class MerchantsFileError(ValueError):
    """The merchants file is unusable (named in the message); the service does not start."""


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    tenant: str
    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    name: str = ""
    kassenzeichen_pattern: str = DEFAULT_PATTERN


def development_merchant(tenant: str, secret: bytes, pattern: str = DEFAULT_PATTERN) -> Merchant:
    """The development merchant of a tenant: credentials derived from the deployment secret."""
    return Merchant(
        merchant_id=tenant, tenant=tenant, api_key="sk_dev_" + keyed_hex("psp-api-key", tenant, secret)[:40],
        webhook_secret="whsec_dev_" + keyed_hex("psp-webhook-secret", tenant, secret)[:40], name=f"Kommune {tenant}",
        kassenzeichen_pattern=pattern,
    )


class Merchants:
    """The merchant of a tenant (for calls to the provider) and of a merchant id (for webhooks)."""

    def __init__(self, merchants: Iterable[Merchant], derive_secret: bytes | None = None, pattern: str = DEFAULT_PATTERN):
        self._by_tenant = {m.tenant: m for m in merchants}
        self._by_id = {m.merchant_id: m for m in self._by_tenant.values()}
        self._secret = derive_secret
        self._pattern = pattern

    @classmethod
    def from_settings(cls, payments: PaymentsSettings, platform: Settings) -> Merchants:
        pattern = payments.kassenzeichen_pattern or DEFAULT_PATTERN
        pattern_fields(pattern)
        if payments.merchants_file:
            return cls(load_file(Path(payments.merchants_file), pattern), pattern=pattern)
        return cls((), derive_secret=secret_from(platform), pattern=pattern)

    def for_tenant(self, tenant: str) -> Merchant:
        found = self._by_tenant.get(tenant)
        if found is None and self._secret is not None and AGS.fullmatch(tenant or ""):
            found = development_merchant(tenant, self._secret, self._pattern)
        if found is None:
            raise DomainError("payment_not_configured", ags=str(tenant)[:16])
        return found

    def by_id(self, merchant_id: str) -> Merchant | None:
        found = self._by_id.get(merchant_id)
        if found is None and self._secret is not None and AGS.fullmatch(merchant_id or ""):
            found = development_merchant(merchant_id, self._secret, self._pattern)
        return found


def load_file(path: Path, default_pattern: str = DEFAULT_PATTERN) -> list[Merchant]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MerchantsFileError(f"{path}: {exc}") from exc
    entries = loaded.get("merchants") if isinstance(loaded, dict) else loaded
    if not isinstance(entries, list):
        raise MerchantsFileError(f"{path}: expected a list of merchants")
    merchants = [_merchant(path, entry, default_pattern) for entry in entries]
    for attribute in ("tenant", "merchant_id"):
        values = [getattr(m, attribute) for m in merchants]
        if len(values) != len(set(values)):
            raise MerchantsFileError(f"{path}: a {attribute} appears twice")
    return merchants


def _merchant(path: Path, entry: Any, default_pattern: str) -> Merchant:
    if not isinstance(entry, dict):
        raise MerchantsFileError(f"{path}: every merchant is an object")
    merchant_id = str(entry.get("merchant_id", ""))
    tenant = str(entry.get("tenant") or merchant_id)
    problems = [
        "merchant_id: 1 to 64 of A-Z a-z 0-9 _ -" if not MERCHANT_ID.fullmatch(merchant_id) else "",
        "tenant: an AGS of 8 digits" if not AGS.fullmatch(tenant) else "",
        *(f"{name}: at least {MIN_SECRET} characters" for name in ("api_key", "webhook_secret")
          if len(str(entry.get(name) or "")) < MIN_SECRET),
    ]
    pattern = str(entry.get("kassenzeichen_pattern") or default_pattern)
    try:
        pattern_fields(pattern)
    except DomainError:
        problems.append("kassenzeichen_pattern: placeholders {code} {ags} {year} {yy} {seq}, {seq} required")
    if any(problems):
        raise MerchantsFileError(f"{path}: {merchant_id or '?'}: " + "; ".join(p for p in problems if p))
    return Merchant(merchant_id, tenant, str(entry["api_key"]), str(entry["webhook_secret"]),
                    str(entry.get("name") or ""), pattern)


def simulator_entries(merchants: Iterable[Merchant], webhook_url: str) -> list[dict[str, str]]:
    """The merchants in the PSP simulator's file format, delivering webhooks to ``webhook_url``."""
    return [
        {"merchant_id": m.merchant_id, "tenant": m.tenant, "name": m.name or m.merchant_id, "api_key": m.api_key,
         "webhook_secret": m.webhook_secret, "webhook_url": webhook_url}
        for m in merchants
    ]


def simulator_file(path: Path, tenants: Iterable[str], platform: Settings, webhook_url: str | None = None,
                   names: dict[str, str] | None = None) -> Path:
    """Write the development merchants of ``tenants`` (AGS; ``names`` for the pay page) for the
    simulator (``PSP_SIMULATOR_MERCHANTS_FILE``)."""
    secret = secret_from(platform)
    url = webhook_url or platform.public_base_url.rstrip("/") + WEBHOOK_PATH
    merchants = (development_merchant(t, secret) for t in tenants)
    entries = simulator_entries((replace(m, name=(names or {}).get(m.tenant, m.name)) for m in merchants), url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2), encoding="utf-8")
    path.chmod(0o600)
    return path


def development_simulator_file(platform: Settings, tenants_csv: Path, webhook_url: str | None = None) -> Path:
    """Development and tests: every tenant of the catalog's tenants file (``ags``, ``name``)
    is a merchant at the simulator, with the credentials this service derives when no
    merchants file is configured; written to ``var/<prefix>psp-merchants.json``."""
    with open(tenants_csv, encoding="utf-8", newline="") as handle:
        tenants = {row["ags"]: row["name"] for row in csv.DictReader(line for line in handle if not line.startswith("#"))}
    path = platform.var_dir / f"{platform.schema_prefix}psp-merchants.json"
    return simulator_file(path, tenants, platform, webhook_url=webhook_url, names=tenants)
