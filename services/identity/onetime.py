"""Opaque one-time tokens: ``<aggregate-id-hex>.<secret>``.

Used for e-mail verification, password reset, e-mail change, staff invitations, eID
state and refresh tokens. The secret has 256 bits of entropy (``secrets``); only its
SHA-256 is stored, so a leaked event store reveals no usable token. A slow hash is not
needed for random secrets of this size. The id prefix lets the application load the
one aggregate that holds the hash; comparison is constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import NamedTuple
from uuid import UUID

from services.identity.domain.errors import OneTimeTokenInvalid


class IssuedToken(NamedTuple):
    token: str  # give to the user (mail link, cookie); never stored
    token_hash: str  # store this


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue(ref: UUID) -> IssuedToken:
    secret = new_secret()
    return IssuedToken(f"{ref.hex}.{secret}", hash_secret(secret))


def parse(token: str) -> tuple[UUID, str]:
    """Split a token into (aggregate id, secret); OneTimeTokenInvalid if malformed."""
    if not isinstance(token, str) or len(token) > 200 or "." not in token:
        raise OneTimeTokenInvalid("malformed token")
    ref, secret = token.split(".", 1)
    try:
        ref_id = UUID(hex=ref)
    except ValueError:
        raise OneTimeTokenInvalid("malformed token") from None
    if len(ref) != 32 or not secret:
        raise OneTimeTokenInvalid("malformed token")
    return ref_id, secret
