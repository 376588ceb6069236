"""The JSON Schema form renderer of the web front end: widgets, pages, parsing, and the
gateway's problem details mapped back onto the fields."""

from __future__ import annotations

import json

from services.common.config import ROOT
from services.web import forms
from services.web.i18n import Texts, load_catalogs

DEFINITIONS = ROOT / "services" / "catalog" / "definitions"


def texts(lang: str = "de") -> Texts:
    return Texts(lang, load_catalogs()[lang])


def definition(service_id: str) -> dict:
    return json.loads((DEFINITIONS / f"{service_id}.json").read_text(encoding="utf-8"))


def test_every_defined_form_gets_a_widget_for_each_field_and_pages_of_at_most_eight() -> None:
    for path in DEFINITIONS.glob("[a-z]*.json"):
        fields = forms.fields_of(json.loads(path.read_text(encoding="utf-8")), texts())
        pages = forms.pages_of(fields)
        assert [f.name for page in pages for f in page] == [f.name for f in fields], path.name
        assert all(0 < len(page) <= forms.PAGE_SIZE for page in pages), path.name


def test_widgets_follow_the_schema() -> None:
    fields = {f.name: f for f in forms.fields_of(definition("hundeanmeldung"), texts())}
    assert fields["holder_birth_date"].kind == "date" and fields["holder_birth_date"].anchor == "holder_birth_date-day"
    assert fields["dog_sex"].kind == "radios" and fields["dog_sex"].options == [("male", "Rüde"), ("female", "Hündin")]
    assert fields["is_dangerous"].kind == "yesno" and fields["dogs_in_household"].kind == "integer"
    assert fields["email"].kind == "email" and not fields["phone"].required
    assert [f.name for f in forms.pages_of(list(fields.values()))[0]][:2] == ["holder_first_name", "holder_last_name"]
    english = {f.name: f for f in forms.fields_of(definition("hundeanmeldung"), texts("en"))}
    assert english["dog_sex"].options == [("male", "Male"), ("female", "Female")]


def test_posted_values_become_json_and_bad_input_an_error_per_field() -> None:
    fields = forms.fields_of(definition("hundeanmeldung"), texts())
    posted = {"holder_birth_date-day": "12", "holder_birth_date-month": "4", "holder_birth_date-year": "1980",
              "dog_birth_date-day": "31", "dog_birth_date-month": "2", "dog_birth_date-year": "2025",
              "is_dangerous": "nein", "dogs_in_household": "zwei", "dog_name": " Bello "}
    values, errors, raw = forms.parse(fields, posted, texts())
    assert values["holder_birth_date"] == "1980-04-12" and values["is_dangerous"] is False and values["dog_name"] == "Bello"
    assert "gültiges Datum" in errors["dog_birth_date"] and "ganze Zahl" in errors["dogs_in_household"]
    assert errors["holder_first_name"] == "Geben Sie „Vorname(n)“ an." and "phone" not in errors
    assert errors["dog_sex"].startswith("Wählen Sie")
    assert raw["dog_birth_date"] == {"day": "31", "month": "2", "year": "2025"}


def test_the_gateways_problem_is_mapped_onto_the_fields() -> None:
    fields = forms.fields_of(definition("hundeanmeldung"), texts())
    problem = {"code": "form_invalid", "errors": [
        {"field": "/chip_number", "code": "pattern", "message": "Ungültiger Wert (pattern)."},
        {"field": "/dog_name", "code": "required", "message": "Dieses Feld ist erforderlich."},
        {"field": "/unknown", "code": "additionalProperties", "message": "…"},
    ]}
    errors = forms.errors_from_problem(problem, fields, texts())
    assert errors == {"chip_number": "Prüfen Sie „Chipnummer (Transponder)“: die Angabe hat nicht das erwartete Format.",
                      "dog_name": "Geben Sie „Name des Hundes“ an."}


def test_a_declaration_is_one_checkbox_with_its_statement_and_unchecked_an_error() -> None:
    """Briefwahl's "Versicherung" (a boolean that must be true) was a yes/no question whose
    statement was never shown; "Nein" only failed at the gateway with "unexpected format"."""
    fields = {f.name: f for f in forms.fields_of(definition("briefwahl"), texts())}
    declaration = fields["declaration"]
    assert declaration.kind == "declaration" and declaration.anchor == "declaration"
    assert declaration.statement == "Ich versichere, dass ich den Antrag für mich selbst stelle."
    assert forms.fields_of(definition("sperrmuell"), texts())[-1].kind == "declaration"
    values, errors, _raw = forms.parse([declaration], {"declaration": "ja"}, texts())
    assert values == {"declaration": True} and not errors
    assert forms.raw_of(declaration, values) == {"value": "ja"} and forms.display(declaration, True, texts()) == "Ja"
    values, errors, _raw = forms.parse([declaration], {}, texts())
    assert values == {} and errors == {"declaration": "Bestätigen Sie „Versicherung“."}
    english = {f.name: f for f in forms.fields_of(definition("briefwahl"), texts("en"))}["declaration"]
    assert forms.parse([english], {}, texts("en"))[1] == {"declaration": "Confirm “Declaration”."}
