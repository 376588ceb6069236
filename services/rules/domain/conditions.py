"""The condition language of rules: small, declarative JSON, no code.

Why this shape: a tenant admin writes rules, so a rule must be data that can be checked
before it is stored (a jsonschema, :data:`CONDITION_SCHEMA`) and explained after it ran
(every test answers with a German sentence). A condition is

* ``{"all": [c, …]}``, ``{"any": [c, …]}``, ``{"not": c}`` — combinations;
* ``{"field": "<form field>", "op": …, "value": …}`` — a value the applicant entered;
* ``{"fact": "<fact>", "op": …, "value": …}`` — what the platform knows about the case:
  ``trust_level`` (ranked basic < substantial < high), ``fee_paid`` (bool), ``fee_cents``,
  ``age_days`` (days since submission), ``postcode``, ``registry_address_match`` (bool,
  from the registry adapter), ``weekday`` (1 = Monday).

Operators: ``eq ne in not_in gt gte lt lte exists starts_with``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from services.common.authz import TRUST_LEVELS
from services.common.problems import DomainError

FACTS = ("trust_level", "fee_paid", "fee_cents", "age_days", "postcode", "registry_address_match", "weekday")
OPS = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "starts_with")
MAX_DEPTH = 6

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
CONDITION_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "condition": {
            "oneOf": [
                {"type": "object", "properties": {"all": {"type": "array", "minItems": 1, "maxItems": 50,
                                                          "items": {"$ref": "#/$defs/condition"}}},
                 "required": ["all"], "additionalProperties": False},
                {"type": "object", "properties": {"any": {"type": "array", "minItems": 1, "maxItems": 50,
                                                          "items": {"$ref": "#/$defs/condition"}}},
                 "required": ["any"], "additionalProperties": False},
                {"type": "object", "properties": {"not": {"$ref": "#/$defs/condition"}},
                 "required": ["not"], "additionalProperties": False},
                {"type": "object", "properties": {
                    "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,63}$"},
                    "op": {"enum": list(OPS)},
                    "value": {"anyOf": [_SCALAR, {"type": "array", "maxItems": 200, "items": _SCALAR}]},
                }, "required": ["field", "op"], "additionalProperties": False},
                {"type": "object", "properties": {
                    "fact": {"enum": list(FACTS)},
                    "op": {"enum": list(OPS)},
                    "value": {"anyOf": [_SCALAR, {"type": "array", "maxItems": 200, "items": _SCALAR}]},
                }, "required": ["fact", "op"], "additionalProperties": False},
            ]
        }
    },
    "$ref": "#/$defs/condition",
}
_VALIDATOR = Draft202012Validator(CONDITION_SCHEMA)

FACT_DE = {
    "trust_level": "Vertrauensniveau", "fee_paid": "Gebühr bezahlt", "fee_cents": "Gebühr (Cent)",
    "age_days": "Tage seit Eingang", "postcode": "Postleitzahl",
    "registry_address_match": "Anschrift im Melderegister bestätigt", "weekday": "Wochentag",
}
OP_DE = {
    "eq": "ist", "ne": "ist nicht", "in": "ist eines von", "not_in": "ist keines von", "gt": ">",
    "gte": "≥", "lt": "<", "lte": "≤", "exists": "ist angegeben", "starts_with": "beginnt mit",
}


class InvalidCondition(DomainError):
    code = "rule_invalid"


def validate(condition: Any) -> None:
    """Raise ``rule_invalid`` (422) with the first problem, by JSON pointer."""
    errors = sorted(_VALIDATOR.iter_errors(condition), key=lambda e: list(e.absolute_path))
    if errors:
        error = errors[0]
        where = "/" + "/".join(str(p) for p in error.absolute_path)
        raise InvalidCondition(detail=f"when{where}: {error.message[:200]}")
    if _depth(condition) > MAX_DEPTH:
        raise InvalidCondition(detail=f"when: nested deeper than {MAX_DEPTH}")
    for test in _tests(condition):
        op, value = test["op"], test.get("value")
        if op != "exists" and "value" not in test:
            raise InvalidCondition(detail=f"when: '{op}' needs a value")
        if op in ("in", "not_in") and not isinstance(value, list):
            raise InvalidCondition(detail=f"when: '{op}' needs a list")
        if test.get("fact") == "trust_level" and op in ("gt", "gte", "lt", "lte", "eq", "ne") and value not in TRUST_LEVELS:
            raise InvalidCondition(detail=f"when: trust_level is one of {', '.join(TRUST_LEVELS)}")


def _depth(condition: Mapping[str, Any]) -> int:
    for key in ("all", "any"):
        if key in condition:
            return 1 + max(_depth(c) for c in condition[key])
    if "not" in condition:
        return 1 + _depth(condition["not"])
    return 1


def _tests(condition: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for key in ("all", "any"):
        if key in condition:
            return [t for c in condition[key] for t in _tests(c)]
    if "not" in condition:
        return _tests(condition["not"])
    return [condition]


def fields_used(condition: Mapping[str, Any]) -> set[str]:
    return {t["field"] for t in _tests(condition) if "field" in t}


def facts_used(condition: Mapping[str, Any]) -> set[str]:
    """The facts a condition tests (the registry is asked only when one needs it)."""
    return {t["fact"] for t in _tests(condition) if "fact" in t}


def _rank(value: Any) -> Any:
    return TRUST_LEVELS.index(value) if value in TRUST_LEVELS else value


def _compare(op: str, actual: Any, expected: Any, ranked: bool) -> bool:
    if op == "exists":
        return actual not in (None, "", [])
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if op == "starts_with":
        return isinstance(actual, str) and isinstance(expected, str) and actual.startswith(expected)
    if ranked:
        actual, expected = _rank(actual), _rank(expected)
    if op == "eq":
        return actual == expected
    if op == "ne":
        return actual != expected
    if actual is None or isinstance(actual, bool) != isinstance(expected, bool):
        return False
    try:
        return {"gt": actual > expected, "gte": actual >= expected, "lt": actual < expected, "lte": actual <= expected}[op]
    except TypeError:  # a text compared with a number: simply not true
        return False


def evaluate(condition: Mapping[str, Any], form: Mapping[str, Any], facts: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Whether the condition holds, and the German sentences of the tests that made it so
    (for the reason in the case's timeline). Missing values are never true (except ``ne``/``not_in``)."""
    if "all" in condition:
        reasons: list[str] = []
        for part in condition["all"]:
            ok, why = evaluate(part, form, facts)
            if not ok:
                return False, why
            reasons.extend(why)
        return True, reasons
    if "any" in condition:
        failed: list[str] = []
        for part in condition["any"]:
            ok, why = evaluate(part, form, facts)
            if ok:
                return True, why
            failed.extend(why)
        return False, failed
    if "not" in condition:
        ok, why = evaluate(condition["not"], form, facts)
        return (not ok), [f"nicht ({'; '.join(why)})"]
    op, expected = condition["op"], condition.get("value")
    if "fact" in condition:
        name, actual = FACT_DE[condition["fact"]], facts.get(condition["fact"])
    else:
        name, actual = f"Feld '{condition['field']}'", form.get(condition["field"])
    ok = _compare(op, actual, expected, ranked=condition.get("fact") == "trust_level")
    shown = ", ".join(map(str, expected)) if isinstance(expected, list) else expected
    sentence = f"{name} {OP_DE[op]}" + ("" if op == "exists" else f" {_word(shown)}")
    return ok, [sentence if ok else f"nicht erfüllt: {sentence}"]


def _word(value: Any) -> str:
    if value is True:
        return "ja"
    if value is False:
        return "nein"
    return str(value)
