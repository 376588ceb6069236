"""The merchant registry: each municipality is a merchant with its own API key, webhook
secret and webhook URL. Merchants come from ``PUT /admin/merchants/{id}`` or from the JSON
file ``PSP_SIMULATOR_MERCHANTS_FILE`` (upserted at start). API keys are kept only as SHA-256
hashes; webhook secrets in clear, because every delivery is signed with them."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.common.config import PspSimulatorSettings
from services.payments.psp_simulator.errors import ApiError, invalid
from services.payments.psp_simulator.store import Store
from services.payments.psp_simulator.validation import http_url

MERCHANT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MIN_SECRET = 16
ADMIN_TOKEN_FILE = "psp-simulator-admin.token"


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str


def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def bearer(authorization: str | None) -> str:
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer <API key>")
    return credential.strip()


def authenticate(store: Store, authorization: str | None) -> Merchant:
    """The merchant whose API key the ``Authorization: Bearer`` header carries."""
    row = store.one("SELECT merchant_id, name FROM merchants WHERE api_key_hash = ?", (_hash(bearer(authorization)),))
    if row is None:
        raise ApiError(401, "unauthorized", "unknown API key")
    return Merchant(row["merchant_id"], row["name"])


def upsert(store: Store, merchant_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    """Create (201) or change (200) a merchant. A new one without ``api_key`` or
    ``webhook_secret`` gets generated ones; the answer shows them, and never again."""
    if not MERCHANT_ID.fullmatch(merchant_id):
        raise invalid("merchant_id", "1 to 64 of A-Z a-z 0-9 _ -")
    if not isinstance(body, dict) or set(body) - {"name", "webhook_url", "api_key", "webhook_secret"}:
        raise invalid("body", "expected an object of name, webhook_url, api_key, webhook_secret")
    for name in ("api_key", "webhook_secret"):
        if body.get(name) is not None and (not isinstance(body[name], str) or len(body[name]) < MIN_SECRET):
            raise invalid(name, f"at least {MIN_SECRET} characters")
    if not isinstance(body.get("name", ""), str) or len(body.get("name", "")) > 100:
        raise invalid("name", "text of up to 100 characters")
    with store.transaction() as conn:
        existing = conn.execute("SELECT * FROM merchants WHERE merchant_id = ?", (merchant_id,)).fetchone()
        if existing is None and body.get("webhook_url") is None:
            raise invalid("webhook_url", "required")
        url = http_url(body, "webhook_url") if body.get("webhook_url") is not None else existing["webhook_url"]
        api_key = body.get("api_key") or (None if existing else f"sk_test_{secrets.token_urlsafe(24)}")
        secret = body.get("webhook_secret") or (existing["webhook_secret"] if existing else f"whsec_{secrets.token_urlsafe(24)}")
        name = body.get("name") or (existing["name"] if existing else merchant_id)
        key_hash = _hash(api_key) if api_key else existing["api_key_hash"]
        clash = conn.execute(
            "SELECT 1 FROM merchants WHERE api_key_hash = ? AND merchant_id <> ?", (key_hash, merchant_id)
        ).fetchone()
        if clash:
            raise ApiError(409, "api_key_taken", "another merchant has this API key")
        conn.execute(
            "INSERT INTO merchants (merchant_id, name, api_key_hash, webhook_secret, webhook_url, created)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id) DO UPDATE SET name = excluded.name,"
            " api_key_hash = excluded.api_key_hash, webhook_secret = excluded.webhook_secret,"
            " webhook_url = excluded.webhook_url",
            (merchant_id, name, key_hash, secret, url, time.time()),
        )
    shown = {"merchant_id": merchant_id, "name": name, "webhook_url": url, "webhook_secret": secret}
    return (200 if existing else 201), {**shown, **({"api_key": api_key} if api_key else {})}


def seed(store: Store, path: str) -> list[str]:
    """Upsert the merchants of a JSON file: a list (or ``{"merchants": [...]}``) of objects
    with merchant_id, name, api_key, webhook_secret and webhook_url."""
    loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = loaded["merchants"] if isinstance(loaded, dict) else loaded
    for entry in entries:
        if not entry.get("api_key") or not entry.get("webhook_secret"):
            raise ValueError(f"{path}: {entry.get('merchant_id')}: api_key and webhook_secret are required")
        fields = {name: entry[name] for name in ("name", "webhook_url", "api_key", "webhook_secret") if name in entry}
        upsert(store, entry["merchant_id"], fields)
    return [entry["merchant_id"] for entry in entries]


def admin_token(settings: PspSimulatorSettings) -> str:
    """The configured admin token, or one generated once beside the state file (mode 0600)."""
    if settings.admin_token:
        if len(settings.admin_token) < MIN_SECRET:
            raise ValueError(f"PSP_SIMULATOR_ADMIN_TOKEN must have at least {MIN_SECRET} characters")
        return settings.admin_token
    path = Path(settings.state).with_name(ADMIN_TOKEN_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return path.read_text(encoding="utf-8").strip()


def check_admin(expected: str, authorization: str | None) -> None:
    if not hmac.compare_digest(bearer(authorization).encode("utf-8"), expected.encode("utf-8")):
        raise ApiError(401, "unauthorized", "wrong admin token")
