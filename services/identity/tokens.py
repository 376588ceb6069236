"""Signed access tokens (JWT, Ed25519 or ES256) and their keys.

Access tokens are short-lived (IDENTITY_ACCESS_TOKEN_TTL, default 10 min) JWTs,
header ``{"alg": "EdDSA"|"ES256", "kid": …, "typ": "at+jwt"}`` (RFC 9068), claims::

    iss, aud, sub (account id), iat, nbf, exp, jti (random), sid (session id),
    kind (citizen|organisation|clerk|tenant_admin|operator),
    trust_level (basic|substantial|high),
    grants [{"tenant": "03460009", "role": "clerk", "service_keys": ["*"]}, …],
    acting_for (optional, only when present)

Keys (:mod:`services.identity.keys`): one *signing* key and any number of
*verification* keys, each with a key id (``kid``), for rotation.

Verification pins the algorithm to the key's type (no ``alg`` confusion, no ``none``),
requires every claim above, and checks times against an injectable clock.
Refresh tokens are not JWTs: they are opaque, stored hashed, and revocable (see
``services.identity.domain.session``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import jwt

from .domain.values import KINDS, TRUST_LEVELS
from .keys import (
    KeySet,
    SigningKey,
    VerificationKey,
    algorithm_for,
    ensure_dev_keys,
    generate_private_key,
    write_keypair,
)

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "KeySet",
    "SigningKey",
    "TokenError",
    "TokenService",
    "VerificationKey",
    "algorithm_for",
    "ensure_dev_keys",
    "generate_private_key",
    "write_keypair",
]

ACCESS_TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "kind", "trust_level", "grants")


class TokenError(Exception):
    """An access token was refused. ``reason`` is for logs and tests, not for clients."""

    code = "token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ------------------------------------------------------------------ service
class TokenService:
    """Issue and verify access tokens. Without a signing key it only verifies."""

    def __init__(
        self,
        keyset: KeySet,
        *,
        issuer: str,
        audience: str,
        access_ttl: int = 600,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyset = keyset
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.leeway = leeway
        self.clock = clock

    def issue_access_token(
        self,
        *,
        subject: str,
        kind: str,
        grants: list[dict[str, Any]],
        trust_level: str,
        session_id: str | None = None,
        acting_for: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        signing = self.keyset.signing
        if signing is None:
            msg = "this key set has no signing key"
            raise RuntimeError(msg)
        now = int(self.clock())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            # to the millisecond, so a revocation in the same second as a new login is exact
            "iat": round(self.clock(), 3),
            "nbf": now,
            "exp": now + self.access_ttl,
            "jti": uuid.uuid4().hex,
            "kind": kind,
            "trust_level": trust_level,
            "grants": [
                {"tenant": g["tenant"], "role": g["role"], "service_keys": list(g["service_keys"])} for g in grants
            ],
        }
        if session_id:
            claims["sid"] = session_id
        if acting_for:
            claims["acting_for"] = acting_for
        _validate_claims(claims)
        headers = {"kid": signing.kid, "typ": ACCESS_TOKEN_TYPE}
        token = jwt.encode(claims, signing.private_key, algorithm=signing.algorithm, headers=headers)
        return token, claims

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Return the claims or raise TokenError."""
        if not isinstance(token, str) or len(token) > 16_384:
            raise TokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed") from None
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError("wrong_type")
        key = self.keyset.verification.get(str(header.get("kid", "")))
        if key is None:
            raise TokenError("unknown_key")
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": list(REQUIRED_CLAIMS),
                    "verify_exp": False,  # checked below against self.clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError:
            raise TokenError("wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("wrong_issuer") from None
        except jwt.MissingRequiredClaimError:
            raise TokenError("missing_claim") from None
        except jwt.InvalidSignatureError:
            raise TokenError("bad_signature") from None
        except jwt.PyJWTError:
            raise TokenError("malformed") from None
        now = self.clock()
        for name in ("iat", "nbf", "exp"):
            if not isinstance(claims[name], int | float):
                raise TokenError("bad_claims")
        if claims["exp"] <= now - self.leeway:
            raise TokenError("expired")
        if claims["nbf"] > now + self.leeway or claims["iat"] > now + self.leeway:
            raise TokenError("not_yet_valid")
        _validate_claims(claims)
        return claims


def _validate_claims(claims: Mapping[str, Any]) -> None:
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise TokenError("bad_claims")
    if claims.get("kind") not in KINDS or claims.get("trust_level") not in TRUST_LEVELS:
        raise TokenError("bad_claims")
    grants = claims.get("grants")
    if not isinstance(grants, list):
        raise TokenError("bad_claims")
    for grant in grants:
        if (
            not isinstance(grant, dict)
            or not isinstance(grant.get("tenant"), str)
            or not isinstance(grant.get("role"), str)
            or not isinstance(grant.get("service_keys"), list)
            or not all(isinstance(k, str) for k in grant["service_keys"])
        ):
            raise TokenError("bad_claims")
    for optional in ("sid", "acting_for"):
        if optional in claims and not isinstance(claims[optional], str):
            raise TokenError("bad_claims")
