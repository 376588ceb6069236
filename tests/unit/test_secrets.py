"""The deployment secret and keyed hashes (services.common.secrets)."""

from __future__ import annotations

import hashlib

import pytest

from services.common.config import Settings
from services.common.secrets import SecretKeyError, keyed_hex, secret_from


def test_development_secret_is_generated_once_and_private(tmp_path):
    current = Settings(var_dir=tmp_path)
    first = secret_from(current)
    assert secret_from(current) == first
    assert len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_configured_secret_wins_and_must_be_long_enough(tmp_path):
    assert secret_from(Settings(var_dir=tmp_path, vr_secret_key="x" * 40)) == b"x" * 40
    with pytest.raises(SecretKeyError):
        secret_from(Settings(var_dir=tmp_path, vr_secret_key="short"))


def test_keyed_hash_depends_on_secret_and_purpose_and_is_no_plain_hash():
    a, b = b"a" * 32, b"b" * 32
    value = "erika.mustermann@example.org"
    assert keyed_hex("email-index", value, a) == keyed_hex("email-index", value, a)
    assert keyed_hex("email-index", value, a) != keyed_hex("email-index", value, b)
    assert keyed_hex("email-index", value, a) != keyed_hex("request-fingerprint", value, a)
    assert keyed_hex("email-index", value, a) != hashlib.sha256(value.encode()).hexdigest()
