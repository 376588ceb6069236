"""Issuing access tokens (JWT, Ed25519 or ES256), signed with identity's private key.

The token format and its verification are shared with every verifier (the gateway) in
:mod:`services.common.tokens`; this module adds what only identity may do: sign.
Keys (:mod:`services.identity.keys`): one *signing* key and any number of
*verification* keys, each with a key id (``kid``), for rotation.
Refresh tokens are not JWTs: they are opaque, stored hashed, and revocable (see
``services.identity.domain.session``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt

from services.common.tokens import ACCESS_TOKEN_TYPE, LEEWAY, AccessTokenVerifier, TokenError, validate_claims
from services.identity.keys import KeySet

__all__ = ["TokenError", "TokenService"]


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
        leeway: int = LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyset = keyset
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self.clock = clock
        self.verifier = AccessTokenVerifier(
            keyset.verification.values(), issuer=issuer, audience=audience, leeway=leeway, clock=clock
        )

    def issue_access_token(
        self,
        *,
        subject: str,
        kind: str,
        grants: list[dict[str, Any]],
        trust_level: str,
        session_id: str | None = None,
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
        validate_claims(claims)
        headers = {"kid": signing.kid, "typ": ACCESS_TOKEN_TYPE}
        token = jwt.encode(claims, signing.private_key, algorithm=signing.algorithm, headers=headers)
        return token, claims

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Return the claims or raise TokenError (the same check every verifier makes)."""
        return self.verifier.verify(token)
