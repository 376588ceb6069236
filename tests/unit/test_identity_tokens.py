"""Access tokens and keys of the identity service (sessions on the event stores:
tests/integration/test_identity_app.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from services.common.authz import principal_from_claims
from services.common.config import IdentitySettings
from services.identity.application.base import load_keyset
from services.identity.keys import KeySet, SigningKey, ensure_dev_keys, generate_private_key, write_keypair
from services.identity.tokens import TokenError, TokenService
from tests.identity_support import new_keyset
from tests.support import Clock

ISS, AUD = "virtuelles-rathaus/identity", "virtuelles-rathaus"
GRANTS = [{"tenant": "03460009", "role": "clerk", "service_keys": ["*"]}]


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(scope="module")
def keyset():
    return new_keyset("k-2030-a")


def service(keyset: KeySet, clock: Clock | None = None, **kwargs) -> TokenService:
    now = clock or Clock()
    return TokenService(keyset, issuer=ISS, audience=AUD, clock=lambda: now().timestamp(), **kwargs)


def issue(svc: TokenService, **overrides) -> str:
    args = {"subject": "acc-1", "kind": "clerk", "grants": GRANTS, "trust_level": "basic", "session_id": "s-1"}
    args.update(overrides)
    return svc.issue_access_token(**args)[0]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict, claims: dict, signature: bytes = b"") -> str:
    head = b64(json.dumps(header).encode())
    body = b64(json.dumps(claims).encode())
    return f"{head}.{body}.{b64(signature)}"


def reason(svc: TokenService, token: str) -> str:
    with pytest.raises(TokenError) as caught:
        svc.verify_access_token(token)
    return caught.value.reason


class TestAccessTokens:
    @pytest.mark.parametrize("algorithm", ["EdDSA", "ES256"])
    def test_roundtrip(self, algorithm):
        svc = service(new_keyset("k1", algorithm))
        token, claims = svc.issue_access_token(
            subject="acc-1", kind="clerk", grants=GRANTS, trust_level="substantial", session_id="s-1"
        )
        header = jwt.get_unverified_header(token)
        assert header == {"alg": algorithm, "kid": "k1", "typ": "at+jwt"}
        verified = svc.verify_access_token(token)
        assert verified == claims
        assert set(verified) == {"iss", "aud", "sub", "iat", "nbf", "exp", "jti", "kind", "trust_level", "grants", "sid"}
        assert verified["exp"] - verified["iat"] == 600
        assert principal_from_claims(verified).grants[0].tenant == "03460009"

    def test_tampered(self, keyset):
        svc = service(keyset)
        token = issue(svc)
        head, body, sig = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claims["grants"] = [{"tenant": "03460006", "role": "team_lead", "service_keys": ["*"]}]
        assert reason(svc, f"{head}.{b64(json.dumps(claims).encode())}.{sig}") == "bad_signature"
        flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
        assert reason(svc, f"{head}.{body}.{flipped}") == "bad_signature"
        assert reason(svc, "not.a.token") == "malformed"
        assert reason(svc, "") == "malformed"

    def test_expired_and_not_yet_valid(self, keyset):
        clock = Clock()
        svc = service(keyset, clock)
        token = issue(svc)
        clock.advance(600 + 29)
        assert svc.verify_access_token(token)  # within leeway
        clock.advance(2)
        assert reason(svc, token) == "expired"
        early = Clock()
        early.advance(-120)
        assert reason(service(keyset, early), token) == "not_yet_valid"

    def test_wrong_key_same_kid_and_unknown_kid(self, keyset):
        impostor = service(new_keyset("k-2030-a"))  # same kid, other private key
        assert reason(service(keyset), issue(impostor)) == "bad_signature"
        stranger = service(new_keyset("someone-else"))
        assert reason(service(keyset), issue(stranger)) == "unknown_key"

    def test_wrong_audience_and_issuer(self, keyset):
        token = issue(service(keyset))
        other_aud = TokenService(keyset, issuer=ISS, audience="other-platform")
        other_iss = TokenService(keyset, issuer="someone-else", audience=AUD)
        assert reason(other_aud, token) == "wrong_audience"
        assert reason(other_iss, token) == "wrong_issuer"

    def test_algorithm_confusion_and_none(self, keyset):
        svc = service(keyset)
        claims = svc.verify_access_token(issue(svc))
        public_pem = keyset.verification["k-2030-a"].public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"alg": "HS256", "kid": "k-2030-a", "typ": "at+jwt"}
        head = b64(json.dumps(header).encode())
        body = b64(json.dumps(claims).encode())
        mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
        assert reason(svc, f"{head}.{body}.{b64(mac)}") == "malformed"
        unsigned = forge({"alg": "none", "kid": "k-2030-a", "typ": "at+jwt"}, claims)
        assert reason(svc, unsigned) == "malformed"

    def test_type_and_claims(self, keyset):
        svc = service(keyset)
        signing = keyset.signing
        claims = svc.verify_access_token(issue(svc))
        no_typ = jwt.encode(claims, signing.private_key, algorithm="EdDSA", headers={"kid": signing.kid})
        assert reason(svc, no_typ) == "wrong_type"
        headers = {"kid": signing.kid, "typ": "at+jwt"}
        missing = {k: v for k, v in claims.items() if k != "trust_level"}
        assert reason(svc, jwt.encode(missing, signing.private_key, algorithm="EdDSA", headers=headers)) == "missing_claim"
        bad_kind = {**claims, "kind": "superuser"}
        assert reason(svc, jwt.encode(bad_kind, signing.private_key, algorithm="EdDSA", headers=headers)) == "bad_claims"
        bad_grants = {**claims, "grants": [{"tenant": 3460009, "role": "clerk", "service_keys": "*"}]}
        assert reason(svc, jwt.encode(bad_grants, signing.private_key, algorithm="EdDSA", headers=headers)) == "bad_claims"


class TestKeys:
    def test_rotation_through_a_key_directory(self, tmp_path):
        old_kid = write_keypair(tmp_path, kid="2030-01")
        old = service(KeySet.from_directory(tmp_path))
        old_token = issue(old)
        new_kid = write_keypair(tmp_path, kid="2030-07", algorithm="ES256", make_current=False)
        assert KeySet.from_directory(tmp_path).signing_kid == old_kid  # not yet switched
        (tmp_path / "current").write_text(new_kid)
        rotated = service(KeySet.from_directory(tmp_path))
        new_token = issue(rotated)
        assert jwt.get_unverified_header(new_token)["kid"] == "2030-07"
        assert rotated.verify_access_token(old_token)["sub"] == "acc-1"  # old key still verifies
        (tmp_path / f"{old_kid}.public.pem").unlink()
        (tmp_path / f"{old_kid}.private.pem").unlink()
        retired = service(KeySet.from_directory(tmp_path))
        assert reason(retired, old_token) == "unknown_key"
        assert retired.verify_access_token(new_token)

    def test_verifier_needs_only_public_keys(self, tmp_path):
        write_keypair(tmp_path, kid="k1")
        signer = service(KeySet.from_directory(tmp_path))
        token = issue(signer)
        verifier = service(KeySet.from_directory(tmp_path, public_only=True))
        assert verifier.verify_access_token(token)["sub"] == "acc-1"
        with pytest.raises(RuntimeError):
            issue(verifier)
        from_jwks = service(KeySet.from_jwks(signer.keyset.jwks()))
        assert from_jwks.verify_access_token(token)["sub"] == "acc-1"
        jwks = signer.keyset.jwks()
        assert [k["kid"] for k in jwks["keys"]] == ["k1"] and "d" not in jwks["keys"][0]

    def test_dev_keys_generated_once(self, tmp_path):
        first = ensure_dev_keys(tmp_path / "keys")
        second = ensure_dev_keys(tmp_path / "keys")
        assert first.signing_kid == second.signing_kid
        private = tmp_path / "keys" / f"{first.signing_kid}.private.pem"
        assert stat.S_IMODE(private.stat().st_mode) == 0o600

    def test_load_from_settings(self, tmp_path):
        write_keypair(tmp_path, kid="prod-1", make_current=False)
        settings = IdentitySettings.from_env(
            {
                "IDENTITY_SIGNING_KEY_FILE": str(tmp_path / "prod-1.private.pem"),
                "IDENTITY_SIGNING_KEY_ID": "prod-1",
                "IDENTITY_ACCESS_TOKEN_TTL": "300",
            }
        )
        assert settings.access_token_ttl == 300
        keyset = load_keyset(settings)
        assert keyset.signing_kid == "prod-1"
        assert not (tmp_path / "current").exists()
        dev = load_keyset(IdentitySettings.from_env({"IDENTITY_KEYS_DIR": str(tmp_path / "dev")}))
        assert (tmp_path / "dev" / "current").read_text().strip() == dev.signing_kid

    def test_mismatching_public_key_is_refused(self):
        signing = SigningKey("k1", generate_private_key(), "EdDSA")
        other = new_keyset("k1").verification["k1"]
        with pytest.raises(ValueError, match="does not match"):
            KeySet(signing, [other])
