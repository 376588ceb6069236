"""Identity settings from the application environment (os.environ + ``env=``).

Every key is ``IDENTITY_<NAME>``; durations are seconds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

from ..domain.values import DEFAULT_EMAIL_NAMESPACE

ROOT = Path(__file__).resolve().parents[3]


def default_keys_dir() -> Path:
    # Same convention as services.common.config.VAR_DIR (VR_VAR_DIR or <repo>/var).
    return Path(os.environ.get("VR_VAR_DIR", ROOT / "var")) / "keys"


@dataclass(frozen=True)
class IdentitySettings:
    token_issuer: str = "virtuelles-rathaus/identity"
    token_audience: str = "virtuelles-rathaus"
    access_token_ttl: int = 600
    refresh_token_ttl: int = 2 * 3600  # idle timeout of a session
    session_max_age: int = 12 * 3600  # absolute lifetime of a session
    verification_ttl: int = 48 * 3600
    reset_ttl: int = 3600
    email_change_ttl: int = 24 * 3600
    invitation_ttl: int = 72 * 3600
    eid_ttl: int = 15 * 60
    max_failed_logins: int = 10
    lockout_seconds: int = 30 * 60
    reset_request_interval: int = 60
    email_namespace: UUID = DEFAULT_EMAIL_NAMESPACE
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    keys_dir: Path = field(default_factory=default_keys_dir)
    signing_key_file: str = ""
    signing_key_id: str = ""
    signing_key_password: str = ""
    verification_key_files: Mapping[str, str] = field(default_factory=dict)
    eid_provider: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> IdentitySettings:
        base = cls()
        values: dict[str, object] = {}
        for name, default in vars(base).items():
            raw = env.get(f"IDENTITY_{name.upper()}")
            if raw is None or raw == "":
                continue
            if isinstance(default, bool):
                values[name] = raw.strip().lower() in {"1", "y", "yes", "true", "on"}
            elif isinstance(default, int):
                values[name] = int(raw)
            elif isinstance(default, UUID):
                values[name] = UUID(raw)
            elif isinstance(default, Path):
                values[name] = Path(raw)
            elif name == "verification_key_files":
                # "kid1=/path/a.pem,kid2=/path/b.pem"
                values[name] = dict(item.split("=", 1) for item in raw.split(",") if "=" in item)
            else:
                values[name] = raw
        return cls(**{**vars(base), **values})
