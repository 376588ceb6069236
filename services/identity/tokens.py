"""Signed access tokens (JWT, Ed25519 or ES256) and their keys.

Access tokens are short-lived (IDENTITY_ACCESS_TOKEN_TTL, default 10 min) JWTs,
header ``{"alg": "EdDSA"|"ES256", "kid": …, "typ": "at+jwt"}`` (RFC 9068), claims::

    iss, aud, sub (account id), iat, nbf, exp, jti (random), sid (session id),
    kind (citizen|organisation|clerk|tenant_admin|operator),
    trust_level (basic|substantial|high),
    grants [{"tenant": "03460009", "role": "clerk", "service_keys": ["*"]}, …],
    acting_for (optional, only when present)

Keys: one *signing* key and any number of *verification* keys, each with a key id
(``kid``). A key directory holds ``<kid>.private.pem`` / ``<kid>.public.pem`` and a
``current`` file naming the signing kid. Rotation: add the new pair, ship its public
key to every verifier, switch ``current``, and delete the old public key once the
longest access-token lifetime has passed. Verifiers (the gateway) need only public
keys: ``KeySet.from_directory(path, public_only=True)`` or ``KeySet.from_jwks(...)``.

Verification pins the algorithm to the key's type (no ``alg`` confusion, no ``none``),
requires every claim above, and checks times against an injectable clock.
Refresh tokens are not JWTs: they are opaque, stored hashed, and revocable (see
``services.identity.domain.session``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .domain.values import KINDS, TRUST_LEVELS

log = logging.getLogger(__name__)

ACCESS_TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "kind", "trust_level", "grants")
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class TokenError(Exception):
    """An access token was refused. ``reason`` is for logs and tests, not for clients."""

    code = "token_invalid"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def algorithm_for(key: Any) -> str:
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    msg = f"unsupported key type {type(key).__name__}: use Ed25519 or EC P-256"
    raise ValueError(msg)


def _check_kid(kid: str) -> str:
    if not isinstance(kid, str) or not _KID.match(kid):
        msg = f"invalid key id {kid!r}"
        raise ValueError(msg)
    return kid


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    public_key: Any
    algorithm: str


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Any
    algorithm: str


class KeySet:
    """One optional signing key plus verification keys, by kid."""

    def __init__(self, signing: SigningKey | None = None, verification: Iterable[VerificationKey] = ()) -> None:
        self.signing = signing
        self.verification: dict[str, VerificationKey] = {}
        for key in verification:
            self.verification[_check_kid(key.kid)] = key
        if signing is not None:
            _check_kid(signing.kid)
            own = VerificationKey(signing.kid, signing.private_key.public_key(), signing.algorithm)
            listed = self.verification.setdefault(signing.kid, own)
            if _public_bytes(listed.public_key) != _public_bytes(own.public_key):
                msg = f"public key for kid {signing.kid!r} does not match the signing key"
                raise ValueError(msg)

    @property
    def signing_kid(self) -> str | None:
        return self.signing.kid if self.signing else None

    def public_only(self) -> KeySet:
        return KeySet(None, self.verification.values())

    # ------------------------------------------------------------ loading
    @classmethod
    def from_pem(
        cls,
        *,
        signing_kid: str | None = None,
        private_pem: bytes | str | None = None,
        public_pems: Mapping[str, bytes | str] | None = None,
        password: bytes | None = None,
    ) -> KeySet:
        signing = None
        if private_pem is not None:
            if not signing_kid:
                msg = "a signing key needs a kid"
                raise ValueError(msg)
            private = serialization.load_pem_private_key(_bytes(private_pem), password=password)
            signing = SigningKey(signing_kid, private, algorithm_for(private))
        verification = []
        for kid, pem in (public_pems or {}).items():
            public = serialization.load_pem_public_key(_bytes(pem))
            verification.append(VerificationKey(kid, public, algorithm_for(public)))
        return cls(signing, verification)

    @classmethod
    def from_files(
        cls,
        *,
        signing_kid: str | None = None,
        private_key_file: str | Path | None = None,
        public_key_files: Mapping[str, str | Path] | None = None,
        password: bytes | None = None,
    ) -> KeySet:
        return cls.from_pem(
            signing_kid=signing_kid,
            private_pem=Path(private_key_file).read_bytes() if private_key_file else None,
            public_pems={kid: Path(path).read_bytes() for kid, path in (public_key_files or {}).items()},
            password=password,
        )

    @classmethod
    def from_directory(cls, directory: str | Path, *, public_only: bool = False) -> KeySet:
        directory = Path(directory)
        publics = {p.name.removesuffix(".public.pem"): p for p in sorted(directory.glob("*.public.pem"))}
        current = directory / "current"
        signing_kid = current.read_text(encoding="utf-8").strip() if current.exists() else None
        private_file = directory / f"{signing_kid}.private.pem" if signing_kid else None
        if public_only or private_file is None or not private_file.exists():
            if not public_only and signing_kid:
                log.warning("identity keys: %s has no private key for kid %r", directory, signing_kid)
            return cls.from_files(public_key_files=publics)
        return cls.from_files(signing_kid=signing_kid, private_key_file=private_file, public_key_files=publics)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeySet:
        keys = []
        for entry in jwks.get("keys", []):
            if entry.get("use", "sig") != "sig":
                continue
            public = jwt.PyJWK(dict(entry)).key
            keys.append(VerificationKey(entry["kid"], public, algorithm_for(public)))
        return cls(None, keys)

    def jwks(self) -> dict[str, Any]:
        """Public keys as a JWK Set (for a ``/.well-known/jwks.json`` endpoint)."""
        keys = []
        for kid, key in sorted(self.verification.items()):
            algorithm = jwt.get_algorithm_by_name(key.algorithm)
            entry = algorithm.to_jwk(key.public_key, as_dict=True)
            entry.update({"kid": kid, "alg": key.algorithm, "use": "sig"})
            keys.append(entry)
        return {"keys": keys}


def _bytes(value: bytes | str) -> bytes:
    return value.encode("ascii") if isinstance(value, str) else value


def _public_bytes(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


# ---------------------------------------------------------------- generation
def generate_private_key(algorithm: str = "EdDSA") -> Any:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    msg = f"unsupported algorithm {algorithm!r}"
    raise ValueError(msg)


def write_keypair(
    directory: str | Path, *, kid: str | None = None, algorithm: str = "EdDSA", make_current: bool = True
) -> str:
    """Write ``<kid>.private.pem`` (mode 0600) and ``<kid>.public.pem``; return the kid.

    With ``make_current`` the ``current`` file is created only if absent (atomic
    link), so concurrent first starts agree on one signing key.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    kid = _check_kid(kid or f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}")
    private = generate_private_key(algorithm)
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    fd = os.open(directory / f"{kid}.private.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    (directory / f"{kid}.public.pem").write_bytes(public_pem)
    if make_current:
        tmp = directory / f".current-{kid}"
        tmp.write_text(kid + "\n", encoding="utf-8")
        try:
            with contextlib.suppress(FileExistsError):
                os.link(tmp, directory / "current")
        finally:
            tmp.unlink()
    return kid


def ensure_dev_keys(directory: str | Path) -> KeySet:
    """Load the key directory, generating a development key pair if it has none."""
    directory = Path(directory)
    if not (directory / "current").exists():
        kid = write_keypair(directory)
        log.warning("identity: generated DEVELOPMENT signing key %s in %s — configure real keys in production", kid, directory)
    return KeySet.from_directory(directory)


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
            "iat": now,
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
