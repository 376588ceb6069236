"""Signing and verification keys for access tokens: Ed25519 (EdDSA) or P-256 (ES256).

A key directory holds ``<kid>.private.pem`` (mode 0600) / ``<kid>.public.pem`` and a
``current`` file naming the signing kid. Rotation: add a new pair
(:func:`write_keypair` with ``make_current=False``), ship its public key to every
verifier, switch ``current``, and delete the old public key once the longest access
token lifetime has passed. Verifiers (the gateway) need only the public keys, as the
JWK Set of :meth:`KeySet.jwks` (see :mod:`services.common.tokens`).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from services.common import logs
from services.common.tokens import VerificationKey, algorithm_for, keys_from_jwks

log = logs.get_logger("identity")

_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _check_kid(kid: str) -> str:
    if not isinstance(kid, str) or not _KID.match(kid):
        msg = f"invalid key id {kid!r}"
        raise ValueError(msg)
    return kid


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
                log.warning("signing_key_missing", directory=str(directory), kid=signing_kid)
            return cls.from_files(public_key_files=publics)
        return cls.from_files(signing_kid=signing_kid, private_key_file=private_file, public_key_files=publics)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeySet:
        return cls(None, keys_from_jwks(jwks))

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
        log.warning("development_signing_key_generated", kid=kid, directory=str(directory),
                    hint="configure real keys in production")
    return KeySet.from_directory(directory)
