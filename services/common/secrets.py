"""The deployment secret and keyed hashes derived from it.

Some ids and fingerprints must be stable (the same input gives the same value) without
being a public function of personal data: an e-mail index id must not be recomputable from
a guessed address, a request fingerprint must not confirm a guessed name. Both are keyed
hashes under one per-deployment secret (``VR_SECRET_KEY``), separated by purpose so that no
value can be replayed across uses.

Development (`make run`, tests): without ``VR_SECRET_KEY`` a random secret is generated once
into ``<VR_VAR_DIR>/secret.key`` (mode 0600) and reused. Production must configure it (the
production guard refuses the generated one).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from services.common.config import Settings, settings

SECRET_FILE = "secret.key"
MIN_SECRET_BYTES = 32


class SecretKeyError(ValueError):
    """The configured secret is unusable (too short)."""


def secret_from(current: Settings) -> bytes:
    """The configured secret, or the development one under the var dir (created once)."""
    if current.vr_secret_key:
        raw = current.vr_secret_key.encode("utf-8")
        if len(raw) < MIN_SECRET_BYTES:
            msg = f"VR_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes"
            raise SecretKeyError(msg)
        return raw
    return development_secret(Path(current.var_dir) / SECRET_FILE)


@functools.lru_cache(maxsize=8)
def development_secret(path: Path) -> bytes:
    """The random secret in ``path``, created once (mode 0600); for development only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        candidate = base64.urlsafe_b64encode(secrets.token_bytes(32))
        tmp = path.with_name(f".{path.name}-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(candidate)
        try:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)  # atomic: concurrent first starts agree on one secret
        finally:
            tmp.unlink()
    return path.read_bytes().strip()


def keyed_digest(purpose: str, value: str, secret: bytes | None = None) -> bytes:
    """HMAC-SHA256 of ``value`` under the deployment secret, separated by ``purpose``."""
    key = hmac.new(secret if secret is not None else secret_from(settings()), purpose.encode(), hashlib.sha256).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).digest()


def keyed_hex(purpose: str, value: str, secret: bytes | None = None) -> str:
    return keyed_digest(purpose, value, secret).hex()
