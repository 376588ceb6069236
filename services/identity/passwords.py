"""Password policy and argon2id hashing.

Policy (NIST SP 800-63B, BSI IT-Grundschutz ORP.4): at least 10 characters, at most
256, no composition rules, reject known-breached/common passwords (also with a
trailing number or symbol, e.g. ``Passwort2024!``) and passwords containing the
account's e-mail name. Passwords are NFKC-normalised before hashing so that the same
visible password typed on different keyboards verifies.

Hashing: argon2id via argon2-cffi. Parameters default to RFC 9106's low-memory profile
(t=3, m=64 MiB, p=4) and are configurable (IDENTITY_ARGON2_*); after a parameter change
a successful login re-hashes (:meth:`PasswordService.needs_rehash`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from services.identity.domain.errors import PasswordRejected

COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common_passwords.txt"
MIN_LENGTH = 10
MAX_LENGTH = 256
_TRAILING_NOISE = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=4)
def load_common_passwords(path: Path = COMMON_PASSWORDS_FILE) -> frozenset[str]:
    """Lower-cased entries of the list; lines starting with '#' are comments."""
    with path.open(encoding="utf-8") as handle:
        return frozenset(
            line.strip().lower()
            for line in handle
            if line.strip() and not line.lstrip().startswith("#")
        )


def normalise_password(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class PasswordPolicy:
    def __init__(
        self,
        *,
        min_length: int = MIN_LENGTH,
        max_length: int = MAX_LENGTH,
        blocklist: frozenset[str] | None = None,
    ) -> None:
        self.min_length = min_length
        self.max_length = max_length
        self.blocklist = load_common_passwords() if blocklist is None else blocklist

    def check(self, password: str, *, email: str | None = None) -> str:
        """Return the normalised password or raise PasswordRejected(reason)."""
        if not isinstance(password, str):
            raise PasswordRejected("invalid", "password must be a string")
        value = normalise_password(password)
        if len(value) < self.min_length:
            raise PasswordRejected("too_short", f"at least {self.min_length} characters")
        if len(value) > self.max_length:
            raise PasswordRejected("too_long", f"at most {self.max_length} characters")
        lowered = value.lower()
        stem = _TRAILING_NOISE.sub("", lowered)
        if lowered in self.blocklist or (len(stem) >= 4 and stem in self.blocklist):
            raise PasswordRejected("common", "password is too common or known from breaches")
        if len(set(lowered)) < 4:
            raise PasswordRejected("common", "password repeats too few characters")
        if email:
            local = email.split("@", 1)[0].lower()
            if email.lower() in lowered or (len(local) >= 4 and local in lowered):
                raise PasswordRejected("contains_email", "password must not contain the e-mail address")
        return value


class PasswordService:
    """argon2id hashing with a policy, a dummy hash for unknown accounts, rehash checks."""

    def __init__(
        self,
        *,
        time_cost: int = 3,
        memory_cost: int = 65536,
        parallelism: int = 4,
        policy: PasswordPolicy | None = None,
    ) -> None:
        self.hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_cost,
            parallelism=parallelism,
            type=Type.ID,
        )
        self.policy = policy or PasswordPolicy()
        # Verified instead of a real hash when the account does not exist, so an
        # unknown e-mail costs the same argon2 work as a wrong password.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))

    def hash(self, password: str) -> str:
        return self.hasher.hash(normalise_password(password))

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-work verification; False for a missing hash, never raises."""
        candidate = normalise_password(password) if isinstance(password, str) else ""
        try:
            return self.hasher.verify(password_hash or self._dummy_hash, candidate) and password_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self.hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
