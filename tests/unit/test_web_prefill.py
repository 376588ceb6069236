"""Prefill from the profile, the profile offered back from a form, and telling a file's
type by its content (services/web/prefill.py, uploads.py)."""

from __future__ import annotations

import json

from services.common.config import ROOT
from services.web import forms, prefill
from services.web.forms import Field
from services.web.i18n import Texts, load_catalogs
from services.web.uploads import sniff

PROFILE = {"given_name": "Erika", "family_name": "Muster", "birth_date": "1980-04-12", "street": "Lange Straße",
           "house_number": "12", "postal_code": "49661", "city": "Cloppenburg", "phone": None, "updated_at": None}


def fields(*names: str) -> list[Field]:
    return [Field(name, "text", name, "", True) for name in names]


def test_the_applicants_own_fields_are_filled_and_not_a_business_or_childs() -> None:
    form = fields("first_name", "last_name", "street", "city", "business_street", "email", "phone")
    assert prefill.prefilled(form, PROFILE, {"email": "e@example.org"}) == {
        "first_name": "Erika", "last_name": "Muster", "street": "Lange Straße", "city": "Cloppenburg", "email": "e@example.org"}
    holder = fields("holder_first_name", "holder_city", "dog_name")
    assert prefill.prefilled(holder, PROFILE, {}) == {"holder_first_name": "Erika", "holder_city": "Cloppenburg"}
    kita = fields("parent_first_name", "parent_street", "child_first_name")
    assert prefill.prefilled(kita, PROFILE, {}) == {"parent_first_name": "Erika", "parent_street": "Lange Straße"}


def test_a_whole_changed_address_is_offered_for_the_profile() -> None:
    form = fields("first_name", "last_name", "street", "house_number", "postal_code", "city")
    data = {"first_name": "Erika", "last_name": "Muster", "street": "Neue Straße", "house_number": "1",
            "postal_code": "49661", "city": "Cloppenburg"}
    candidate = prefill.profile_from(form, data)
    assert candidate is not None and candidate["street"] == "Neue Straße" and candidate["birth_date"] is None
    assert prefill.differs(PROFILE, candidate)
    assert not prefill.differs(PROFILE, {**candidate, "street": "Lange Straße", "house_number": "12"})
    assert prefill.profile_from(form, {**data, "city": ""}) is None  # not a whole address


def test_file_types_are_told_by_content() -> None:
    assert sniff(b"%PDF-1.7\n") == "application/pdf"
    assert sniff(b"\xff\xd8\xff\xe0") == "image/jpeg"
    assert sniff(b"\x89PNG\r\n\x1a\n") == "image/png"
    assert sniff(b"GIF89a") is None and sniff(b"") is None


def test_a_file_field_is_an_upload_that_page_parsing_leaves_alone() -> None:
    definition = json.loads((ROOT / "services/catalog/definitions/gewerbeanmeldung.json").read_text(encoding="utf-8"))
    texts = Texts("de", load_catalogs()["de"])
    item = next(f for f in forms.fields_of(definition, texts) if f.name == "ausweiskopie")
    assert (item.kind, item.accept) == ("file", ("application/pdf", "image/jpeg", "image/png"))
    values, errors, _raw = forms.parse([item], {"ausweiskopie": "C:\\fakepath\\x.pdf"}, texts)
    assert values == {} and errors == {}
    assert forms.raw_of(item, {"ausweiskopie": {"attachment_id": "a1"}}) == {"value": "a1"}
    assert forms.display(item, {"attachment_id": "a1"}, texts) == "Datei hochgeladen"
