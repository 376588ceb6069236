"""The compiled form validator (services/common/validation.py) gives the same field errors
as jsonschema alone did, for every form of the catalog and many kinds of bad input, and
the same German and English messages at the edge."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from services.common.problems import problem
from services.common.validation import CompiledValidator
from services.submissions.commands import Offering, field_errors, form_validator
from tests.unit.test_catalog_definitions import DEFINITIONS, sample_application

CHECKER = FormatChecker()


def bad_values(field: dict[str, Any]) -> list[Any]:
    """Values of the wrong kind, length, format or pattern for one form field."""
    values: list[Any] = [None, [], {"x": 1}, 12.5, True]
    if field.get("type") == "string":
        values += ["", " ", "x" * (field.get("maxLength", 300) + 1), "ä" * (field.get("maxLength", 300) + 1)]
        values += ["2024-02-30", "2024-13-01", "24-05-01", "kein-at-zeichen", "a@b", "12345\n", "0" * 15 + "\n"]
    if field.get("type") in ("integer", "number"):
        values += [field.get("minimum", 0) - 1, field.get("maximum", 10**6) + 1, "3", 10**30, 1.5]  # NaN: refused by the gateway as malformed JSON
    if "enum" in field:
        values += ["nicht-in-der-liste"]
    return values


def mutations(definition: dict[str, Any]) -> list[Any]:
    """A valid application and many invalid ones derived from it."""
    form = definition["form"]
    valid = sample_application(definition)
    out: list[Any] = [valid, sample_application(definition, only_required=True), {}, [], "text", None]
    out.append({**valid, "unexpected": "x"})
    for name in form["required"]:
        out.append({k: v for k, v in valid.items() if k != name})
    for name, field in form["properties"].items():
        out += [{**valid, name: value} for value in bad_values(field)]
    return out


@pytest.mark.parametrize("service_id", sorted(DEFINITIONS))
def test_same_field_errors_as_jsonschema_for_every_form(service_id: str) -> None:
    form = DEFINITIONS[service_id]["form"]
    before = Draft202012Validator(form, format_checker=CHECKER)
    compiled = CompiledValidator(form, format_checker=CHECKER)
    for data in mutations(DEFINITIONS[service_id]):
        expected = field_errors(before, copy.deepcopy(data))
        assert field_errors(compiled, copy.deepcopy(data)) == expected, data
        assert compiled.is_valid(data) == before.is_valid(data), data


def test_formats_are_checked_only_with_a_format_checker() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}
    assert CompiledValidator(schema).is_valid({"id": "kein-uuid"})  # annotation only, as in jsonschema
    assert not CompiledValidator(schema, format_checker=CHECKER).is_valid({"id": "kein-uuid"})


def test_input_the_rust_engine_cannot_take_is_judged_by_jsonschema() -> None:
    compiled = CompiledValidator({"type": "object"})
    assert compiled.is_valid({1: 2})
    assert list(compiled.iter_errors({1: 2})) == []
    assert [e.validator for e in CompiledValidator({"type": "string"}).iter_errors(b"x")] == ["type"]


def test_one_validator_per_form_version() -> None:
    form = DEFINITIONS["hundeanmeldung"]["form"]
    first = form_validator("hundeanmeldung", 1, form)
    assert form_validator("hundeanmeldung", 1, copy.deepcopy(form)) is first
    changed = {**form, "required": []}
    assert form_validator("hundeanmeldung", 1, changed) is not first


def test_form_invalid_problem_reads_the_same_in_german_and_english() -> None:
    definition = DEFINITIONS["hundeanmeldung"]
    offering = Offering.from_catalog({
        "tenant": "03460009", "tenant_code": "VEC", "service_id": "hundeanmeldung", "ozg_id": "x",
        "leika_key": "y", "form_version": 1, "fee_cents": 0, "processing_days": 1, "form": definition["form"],
    })
    bad = {**sample_application(definition), "chip_number": "27609810654321X", "unexpected": 1}
    del bad["dog_name"]
    errors = field_errors(offering.validator, bad)
    assert errors == field_errors(Draft202012Validator(definition["form"], format_checker=CHECKER), bad)
    assert {(e["field"], e["code"]) for e in errors} == {
        ("/", "additionalProperties"), ("/chip_number", "pattern"), ("/dog_name", "required"),
    }
    german = problem("form_invalid", "de", "/x", errors=errors)
    english = problem("form_invalid", "en", "/x", errors=errors)
    assert german["code"] == english["code"] == "form_invalid"
    de_messages = {e["field"]: e["message"] for e in german["errors"]}
    en_messages = {e["field"]: e["message"] for e in english["errors"]}
    assert (de_messages["/dog_name"], en_messages["/dog_name"]) == ("Dieses Feld ist erforderlich.", "This field is required.")
    assert (de_messages["/"], en_messages["/"]) == ("Unbekanntes Feld.", "Unknown field.")
    assert de_messages["/chip_number"] == "Ungültiger Wert (pattern)."
    assert en_messages["/chip_number"].startswith("'27609810654321X' does not match")


@pytest.mark.parametrize("raw", [b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}', b"[" * 40 + b"]" * 40])
def test_gateway_refuses_what_is_not_json_or_nests_too_deep(raw: bytes) -> None:
    from werkzeug.wrappers import Request

    from services.common.problems import DomainError
    from services.gateway.http import read_json

    with pytest.raises(DomainError) as caught:
        read_json(Request.from_values(data=raw, content_type="application/json"))
    assert caught.value.code == "malformed_json"


def test_gateway_takes_a_form_with_brackets_inside_its_strings() -> None:
    from werkzeug.wrappers import Request

    from services.gateway.http import read_json

    body = b'{"form_data": {"note": "' + b"[{" * 40 + b'"}}'
    assert read_json(Request.from_values(data=body, content_type="application/json"))["form_data"]["note"] == "[{" * 40
