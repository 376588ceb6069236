"""The prefill profile in identity on POPO, SQLite and PostgreSQL: validated field by field,
kept with the personal data, erased with the account."""

from __future__ import annotations

import pytest

from services.common.problems import DomainError
from tests.identity_support import STRONG, all_stored_bytes, register_verified

ERIKA = {
    "given_name": "Erika", "family_name": "Mustermann", "birth_date": "1980-04-12", "street": "Große Straße",
    "house_number": "12a", "postal_code": "49377", "city": "Vechta",
}


def test_the_profile_is_empty_then_saved_and_read(app, clock) -> None:
    account_id = register_verified(app, "erika@example.org")
    empty = app.get_profile(account_id)
    assert set(empty) == {*ERIKA, "phone", "updated_at"} and not any(empty.values())
    saved = app.set_profile(account_id, {**ERIKA, "city": "  Vechta ", "phone": None})
    assert {k: saved[k] for k in ERIKA} == ERIKA and saved["phone"] is None
    assert saved["updated_at"] == clock().isoformat()
    assert app.get_profile(account_id) == saved
    assert app.export_account_data(account_id)["personal_data"]["profile"]["family_name"] == "Mustermann"


def test_every_field_is_checked(app) -> None:
    account_id = register_verified(app, "erika@example.org")
    bad = {**ERIKA, "postal_code": "4937", "house_number": "zwölf", "birth_date": "2999-01-01", "phone": "call me",
           "given_name": "x" * 101, "shoe_size": 42}
    del bad["city"]
    with pytest.raises(DomainError) as refused:
        app.set_profile(account_id, bad)
    assert refused.value.code == "form_invalid"
    fields = {e["field"]: e["code"] for e in refused.value.params["errors"]}
    assert fields == {
        "/postal_code": "pattern", "/house_number": "pattern", "/birth_date": "format", "/phone": "pattern",
        "/given_name": "maxLength", "/shoe_size": "additionalProperties", "/city": "required",
    }
    with pytest.raises(DomainError):
        app.set_profile(account_id, ["not", "an", "object"])
    assert app.get_profile(account_id)["updated_at"] is None  # nothing saved


def test_the_profile_is_erased_with_the_account(app) -> None:
    account_id = register_verified(app, "erika@example.org")
    app.set_profile(account_id, {**ERIKA, "street": "Einzigartigerweg"})
    personal_id = app._get_account(account_id).personal_data_id
    assert b"Einzigartigerweg" in all_stored_bytes(app, [personal_id])
    app.request_deletion(account_id, STRONG)
    app.complete_deletion(account_id)
    assert b"Einzigartigerweg" not in all_stored_bytes(app, [personal_id])
    with pytest.raises(DomainError):
        app.set_profile(account_id, ERIKA)
