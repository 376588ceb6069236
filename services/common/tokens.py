"""Verifying access tokens: what every process that accepts a login needs, and nothing
of issuing them (that, with the private keys, stays in the identity service).

Access tokens are short-lived JWTs (RFC 9068), header
``{"alg": "EdDSA"|"ES256", "kid": …, "typ": "at+jwt"}``, claims::

    iss, aud, sub (account id), iat, nbf, exp, jti (random), sid (session id),
    kind (citizen|organisation|clerk|tenant_admin|operator),
    trust_level (basic|substantial|high),
    grants [{"tenant": "03460009", "role": "clerk", "service_keys": ["*"]}, …]

Verification pins the algorithm to the key's type (no ``alg`` confusion, no ``none``),
requires every claim above, and checks times against an injectable clock. Public keys
arrive as a JWK Set (identity's ``jwks`` RPC).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from services.common.authz import KINDS, TRUST_LEVELS
from services.common.problems import DomainError

ACCESS_TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "kind", "trust_level", "grants")
LEEWAY = 30  # seconds of clock skew a verifier tolerates (an expired token lives this much longer)


class TokenError(DomainError):
    """An access token was refused. ``reason`` is for logs and tests, not for clients."""

    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(reason=reason)
        self.reason = reason


def algorithm_for(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    msg = f"unsupported key type {type(key).__name__}: use Ed25519 or EC P-256"
    raise ValueError(msg)


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    public_key: Any
    algorithm: str


def keys_from_jwks(jwks: Mapping[str, Any]) -> list[VerificationKey]:
    """The signature keys of a JWK Set."""
    keys = []
    for entry in jwks.get("keys", []):
        if entry.get("use", "sig") != "sig":
            continue
        public = jwt.PyJWK(dict(entry)).key
        keys.append(VerificationKey(entry["kid"], public, algorithm_for(public)))
    return keys


class AccessTokenVerifier:
    """Verifies access tokens against a set of public keys by key id."""

    def __init__(
        self,
        keys: Iterable[VerificationKey],
        *,
        issuer: str,
        audience: str,
        leeway: int = LEEWAY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = {key.kid: key for key in keys}
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.clock = clock

    def verify(self, token: str) -> dict[str, Any]:
        """Return the claims or raise TokenError."""
        if not isinstance(token, str) or len(token) > 16_384:
            raise TokenError("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("malformed") from None
        if header.get("typ") != ACCESS_TOKEN_TYPE:
            raise TokenError("wrong_type")
        key = self.keys.get(str(header.get("kid", "")))
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
        validate_claims(claims)
        return claims


def validate_claims(claims: Mapping[str, Any]) -> None:
    """Raise TokenError unless the claims have the shapes the authorisation rules read."""
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
    if "sid" in claims and not isinstance(claims["sid"], str):
        raise TokenError("bad_claims")
