"""Service definitions and catalog reference data: valid, consistent with the OZG/LeiKa CSVs."""

from __future__ import annotations

import copy
import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services.catalog.definitions import (
    DEFINITIONS_DIR,
    DefinitionError,
    check_definition,
    definition_schema,
    load_definitions,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "services" / "catalog" / "data"
EXPECTED_SERVICES = {
    "hundeanmeldung", "hundeabmeldung", "meldebescheinigung", "kita-anmeldung", "gewerbeanmeldung",
    "gewerbeummeldung", "gewerbeabmeldung", "briefwahl", "personalausweis-verlust", "fuehrungszeugnis",
    "sperrmuell", "bewohnerparkausweis", "elterngeld", "baugenehmigung",
}
# one valid sample per pattern used in the forms; a new pattern needs a sample here
PATTERN_SAMPLES = {
    "^[0-9]{5}$": "49377",
    r"^[0-9]{1,4}( ?[a-zA-Z]| ?[-/] ?[0-9a-zA-Z]{1,4})?$": "12a",
    "^[0-9]{15}$": "276098106543219",
    r"^\+?[0-9 ()/-]{6,30}$": "04441 123456",
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}$": "2024-05-01",
    "^[0-9]{1,10}$": "123",
    "^[CFGHJKLMNPRTVWXYZ0-9]{9}$": "L01X00T47",
    r"^[A-ZÄÖÜ]{1,3}[- ][A-Z]{1,2} ?[0-9]{1,4}[EH]?$": "VEC-AB 123",
    "^[0-9]{11}$": "12345678901",
    "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$": "DE89370400440532013000",
}


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


DEFINITIONS = load_definitions()
OZG = {row["ozg_id"]: row for row in read_csv("ozg_leistungen.csv")}
LEIKA = {row["leika_key"]: row for row in read_csv("leika_leistungen.csv") if row["leika_key"] != "nicht im LeiKa"}
LEBENSLAGEN = {int(row["id"]): row for row in read_csv("lebenslagen.csv")}
USED_LEBENSLAGEN = {int(row["lebenslage_id"]) for row in OZG.values()}


def sample_value(name: str, field: dict[str, Any]) -> Any:
    if "const" in field:
        return field["const"]
    if "enum" in field:
        return field["enum"][0]
    if field["type"] == "boolean":
        return False
    if field.get("x-vr-widget") == "file":  # a reference to an uploaded attachment
        return {"attachment_id": "5d1c8a0e-0000-4000-8000-000000000000"}
    if field["type"] in ("integer", "number"):
        return field.get("minimum", 1)
    if field.get("format") == "date":
        return "2024-05-01"
    if field.get("format") == "email":
        return "max.mustermann@example.org"
    if "pattern" in field:
        assert field["pattern"] in PATTERN_SAMPLES, f"{name}: add a sample for pattern {field['pattern']}"
        return PATTERN_SAMPLES[field["pattern"]]
    return "Beispiel"[: field["maxLength"]]


def sample_application(definition: dict[str, Any], only_required: bool = False) -> dict[str, Any]:
    """A valid application; with only_required, just the required fields and those a condition asks for."""
    form = definition["form"]
    names = form["required"] if only_required else list(form["properties"])
    application = {name: sample_value(name, form["properties"][name]) for name in names}
    for error in Draft202012Validator(form).iter_errors(application):
        if error.validator == "required":  # a field required by an if/then condition
            for name in error.validator_value:
                application.setdefault(name, sample_value(name, form["properties"][name]))
    return application


def form_validator(definition: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(definition["form"], format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_all_expected_services_are_defined() -> None:
    assert set(DEFINITIONS) == EXPECTED_SERVICES


def test_definition_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(definition_schema())


@pytest.mark.parametrize("service_id", sorted(EXPECTED_SERVICES))
class TestDefinition:
    def test_file_is_valid_against_the_definition_schema(self, service_id: str) -> None:
        raw = json.loads((DEFINITIONS_DIR / f"{service_id}.json").read_text(encoding="utf-8"))
        errors = list(Draft202012Validator(definition_schema()).iter_errors(raw))
        assert not errors, [e.message for e in errors]
        assert raw["service_id"] == service_id

    def test_form_is_a_valid_draft_2020_12_schema(self, service_id: str) -> None:
        form = DEFINITIONS[service_id]["form"]
        Draft202012Validator.check_schema(form)
        assert form["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert form["additionalProperties"] is False
        assert set(form["required"]) <= set(form["properties"])

    def test_ozg_id_and_leika_key_exist_and_belong_together(self, service_id: str) -> None:
        definition = DEFINITIONS[service_id]
        assert definition["ozg_id"] in OZG
        assert re.fullmatch(r"\d{14}", definition["leika_key"])
        assert definition["leika_key"] in LEIKA
        assert LEIKA[definition["leika_key"]]["ozg_id"] == definition["ozg_id"]

    def test_fee_is_integer_cents_in_euro(self, service_id: str) -> None:
        fee = DEFINITIONS[service_id]["fee"]
        assert type(fee["amount_cents"]) is int
        assert fee["amount_cents"] >= 0
        assert fee["currency"] == "EUR"
        assert isinstance(fee["assumption"], bool)
        assert fee["note"]["de"] and fee["note"]["en"]

    def test_lebenslagen_exist_and_are_real(self, service_id: str) -> None:
        for lebenslage in DEFINITIONS[service_id]["lebenslagen"]:
            assert lebenslage in LEBENSLAGEN
            assert lebenslage in USED_LEBENSLAGEN  # not one of the test rows of the source data

    def test_ui_labels_every_field_in_both_languages(self, service_id: str) -> None:
        definition = DEFINITIONS[service_id]
        assert set(definition["ui"]) == set(definition["form"]["properties"])
        for name, ui in definition["ui"].items():
            assert ui["label"]["de"] and ui["label"]["en"], name
            field = definition["form"]["properties"][name]
            if "options" in ui:
                assert set(ui["options"]) == set(field["enum"]), name

    def test_sample_application_is_accepted(self, service_id: str) -> None:
        definition = DEFINITIONS[service_id]
        validator = form_validator(definition)
        for only_required in (False, True):
            errors = list(validator.iter_errors(sample_application(definition, only_required)))
            assert not errors, [e.message for e in errors]

    def test_unknown_fields_and_missing_required_fields_are_rejected(self, service_id: str) -> None:
        definition = DEFINITIONS[service_id]
        validator = form_validator(definition)
        application = sample_application(definition)
        assert not validator.is_valid({**application, "unexpected": "x"})
        missing = dict(application)
        missing.pop(definition["form"]["required"][0])
        assert not validator.is_valid(missing)

    def test_strings_are_bounded(self, service_id: str) -> None:
        for name, field in DEFINITIONS[service_id]["form"]["properties"].items():
            if field["type"] == "string":
                assert {"maxLength", "enum", "format", "const"} & set(field), name


def test_dog_registration_form_checks_chip_number_and_dates() -> None:
    definition = DEFINITIONS["hundeanmeldung"]
    validator = form_validator(definition)
    application = sample_application(definition)
    assert validator.is_valid(application)
    assert not validator.is_valid({**application, "chip_number": "27609810654321"})  # 14 digits
    assert not validator.is_valid({**application, "chip_number": "27609810654321X"})
    assert not validator.is_valid({**application, "dog_birth_date": "2024-13-45"})
    assert not validator.is_valid({**application, "holder_postal_code": "4937"})
    assert not validator.is_valid({**application, "is_dangerous": "nein"})


def test_conditional_fields_are_required_when_they_apply() -> None:
    definition = DEFINITIONS["hundeabmeldung"]
    validator = form_validator(definition)
    application = {**sample_application(definition, only_required=True), "reason": "given_away"}
    assert not validator.is_valid(application)
    application.update(new_owner_name="Erika Mustermann", new_owner_address="Marktstraße 1, 49377 Vechta")
    assert validator.is_valid(application)


@pytest.mark.parametrize(("service_id", "cents", "assumption"), [
    ("fuehrungszeugnis", 1300, False),
    ("briefwahl", 0, False),
    ("gewerbeanmeldung", 2600, True),
    ("elterngeld", 0, False),
])
def test_known_fees(service_id: str, cents: int, assumption: bool) -> None:
    fee = DEFINITIONS[service_id]["fee"]
    assert (fee["amount_cents"], fee["assumption"]) == (cents, assumption)


def test_fee_refund_rules() -> None:
    """What is paid back when a paid case is rejected or withdrawn (the payments service applies it)."""
    assert DEFINITIONS["fuehrungszeugnis"]["fee"]["refund_on"] == {"rejected": "full", "withdrawn": "full"}
    assert "refund_on" not in DEFINITIONS["briefwahl"]["fee"]  # no rule: nothing is paid back
    good = copy.deepcopy(DEFINITIONS["fuehrungszeugnis"])
    good["fee"]["refund_on"] = {"rejected": {"percent": 50}, "withdrawn": "none"}
    check_definition(good)
    for rule in ({"rejected": "half"}, {"rejected": {"percent": 0}}, {"rejected": {"percent": 101}},
                 {"approved": "full"}, {"rejected": {"percent": 50, "cap": 1}}, "full"):
        broken = copy.deepcopy(good)
        broken["fee"]["refund_on"] = rule
        with pytest.raises(DefinitionError, match="refund_on"):
            check_definition(broken)


def test_district_services() -> None:
    district = {sid for sid, d in DEFINITIONS.items() if d["responsible_level"] == "landkreis"}
    assert {"elterngeld", "baugenehmigung"} <= district
    assert "gewerbeanmeldung" not in district


def test_loader_rejects_inconsistent_definitions(tmp_path: Path) -> None:
    good = copy.deepcopy(DEFINITIONS["briefwahl"])
    (tmp_path / "briefwahl.json").write_text(json.dumps(good), encoding="utf-8")
    assert set(load_definitions(tmp_path)) == {"briefwahl"}

    (tmp_path / "wahl.json").write_text(json.dumps(good), encoding="utf-8")
    with pytest.raises(DefinitionError, match="file name"):
        load_definitions(tmp_path)

    broken = copy.deepcopy(good)
    del broken["ui"]["email"]
    with pytest.raises(DefinitionError, match="ui keys"):
        check_definition(broken)
    broken = copy.deepcopy(good)
    broken["fee"]["amount_cents"] = 1.5
    with pytest.raises(DefinitionError, match="amount_cents"):
        check_definition(broken)
    broken = copy.deepcopy(good)
    broken["form"]["properties"]["election"]["type"] = "banana"
    with pytest.raises(DefinitionError):
        check_definition(broken)


# -- reference data ---------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "rows"), [
    ("themenfelder.csv", 14), ("lebenslagen.csv", 58), ("ozg_leistungen.csv", 557),
    ("leika_leistungen.csv", 5251), ("kommunen_nrw.csv", 390), ("landkreise_om.csv", 25),
])
def test_reference_tables_are_complete(name: str, rows: int) -> None:
    assert len(read_csv(name)) == rows


def test_leika_rows_point_to_existing_ozg_services() -> None:
    malformed = set()
    for row in read_csv("leika_leistungen.csv"):
        assert not row["ozg_id"] or row["ozg_id"] in OZG, row
        if row["leika_key"] != "nicht im LeiKa" and not re.fullmatch(r"\d{14}", row["leika_key"]):
            malformed.add(row["leika_key"])
    assert malformed == {"25323525", "3233"}  # the source's test rows, see data/LICENCE.md


def test_tenants_cover_the_districts_and_their_municipalities() -> None:
    tenants = read_csv("tenants.csv")
    source = {row["ags"]: row for row in read_csv("landkreise_om.csv")}
    assert [t["ags"] for t in tenants] == list(source)
    by_ags = {t["ags"]: t for t in tenants}
    codes = [t["code"] for t in tenants]
    assert len(set(codes)) == len(codes) == 25
    assert len({t["slug"] for t in tenants}) == 25
    assert (by_ags["03460009"]["code"], by_ags["03460000"]["code"], by_ags["03460006"]["code"]) == ("VEC", "LKV", "LOH")
    assert (by_ags["03453004"]["code"], by_ags["03453000"]["code"]) == ("CLP", "LKC")
    for tenant in tenants:
        assert re.fullmatch(r"[A-Z]{3}", tenant["code"])
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", tenant["slug"])
        assert tenant["name"] == source[tenant["ags"]]["name"]
        assert tenant["kind"] == source[tenant["ags"]]["kind"].lower()
        if tenant["kind"] == "landkreis":
            assert tenant["district_ags"] == ""
        else:
            assert by_ags[tenant["district_ags"]]["name"] == source[tenant["ags"]]["landkreis"]
        assert re.fullmatch(r"#[0-9a-f]{6}", tenant["primary_color"])
        assert tenant["coat_of_arms"] == f"/static/wappen/{tenant['slug']}.svg"
        assert tenant["email"].endswith(".example")  # placeholder contacts never reach real town halls
        assert tenant["contacts_placeholder"] == "true"
        assert tenant["opening_hours"] and tenant["address"] and tenant["phone"].startswith("+49 ")
