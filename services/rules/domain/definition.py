"""A rule's definition (what it does, as data) and its check before it is stored.

Kinds: ``routing`` (assign a new case to a team or clerk), ``reminder`` (an information
request unanswered for N days → the citizen; a case overdue by N days → the team lead),
``decision`` (approve or reject a simple case, with a reason). Every kind has a condition
``when`` (:mod:`.conditions`) and an action ``then``; no code.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from services.rules.domain.conditions import InvalidCondition, validate

KINDS = ("routing", "reminder", "decision")
OUTCOMES = ("approve", "reject")
THEN_SCHEMAS: dict[str, dict[str, Any]] = {
    "routing": {"type": "object", "required": ["assign_to"], "additionalProperties": False, "properties": {
        "assign_to": {"type": "string", "pattern": "^(team|clerk):[A-Za-z0-9_.@-]{1,120}$"}}},
    "reminder": {"type": "object", "required": ["on", "after_days"], "additionalProperties": False, "properties": {
        "on": {"enum": ["information_requested", "overdue"]},
        "after_days": {"type": "integer", "minimum": 1, "maximum": 365},
        "message": {"type": "string", "maxLength": 2000}}},
    "decision": {"type": "object", "required": ["outcome", "reason"], "additionalProperties": False, "properties": {
        "outcome": {"enum": list(OUTCOMES)},
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}},
}
_THEN = {kind: Draft202012Validator(schema) for kind, schema in THEN_SCHEMAS.items()}
NAME_LIMIT = 200


def checked(kind: str, name: Any, when: Any, then: Any) -> dict[str, Any]:
    """The definition to store, or ``rule_invalid`` naming the first problem."""
    if kind not in KINDS:
        raise InvalidCondition(detail=f"kind: one of {', '.join(KINDS)}")
    if not isinstance(name, str) or not 0 < len(name.strip()) <= NAME_LIMIT:
        raise InvalidCondition(detail=f"name: 1 to {NAME_LIMIT} characters")
    validate(when)
    errors = sorted(_THEN[kind].iter_errors(then), key=lambda e: list(e.absolute_path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise InvalidCondition(detail=f"then/{where}: {errors[0].message[:200]}")
    return {"name": name.strip(), "when": when, "then": then}
