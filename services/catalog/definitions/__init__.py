"""Declarative service definitions (one JSON file per service) and their loader.

The format is described in README.md next to this file and enforced by
``_definition.schema.json``. Loading validates every file, so a broken definition fails
at start-up rather than when a citizen opens the form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

DEFINITIONS_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = DEFINITIONS_DIR / "_definition.schema.json"


class DefinitionError(ValueError):
    """A definition file is malformed or inconsistent."""


def definition_schema() -> dict[str, Any]:
    """The JSON Schema every definition file must satisfy."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def check_definition(definition: dict[str, Any], validator: Draft202012Validator | None = None) -> None:
    """Raise DefinitionError unless ``definition`` is a complete, consistent definition."""
    validator = validator or Draft202012Validator(definition_schema())
    errors = sorted(validator.iter_errors(definition), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "<root>"
        raise DefinitionError(f"{definition.get('service_id', '?')}: {where}: {first.message}")
    service_id = definition["service_id"]
    form = definition["form"]
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        raise DefinitionError(f"{service_id}: form is not a valid JSON Schema: {exc.message}") from exc
    fields = set(form["properties"])
    missing = set(form["required"]) - fields
    if missing:
        raise DefinitionError(f"{service_id}: required fields without property: {sorted(missing)}")
    if set(definition["ui"]) != fields:
        raise DefinitionError(f"{service_id}: ui keys differ from form fields: "
                              f"{sorted(set(definition['ui']) ^ fields)}")
    attachment_ids = [a["id"] for a in definition["attachments"]]
    if len(attachment_ids) != len(set(attachment_ids)):
        raise DefinitionError(f"{service_id}: duplicate attachment ids")


def load_definitions(directory: Path | str = DEFINITIONS_DIR) -> dict[str, dict[str, Any]]:
    """All definitions of ``directory`` by service_id (files starting with ``_`` are skipped)."""
    validator = Draft202012Validator(definition_schema())
    definitions: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory).glob("*.json")):
        if path.name.startswith("_"):
            continue
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DefinitionError(f"{path.name}: invalid JSON: {exc}") from exc
        check_definition(definition, validator)
        if definition["service_id"] != path.stem:
            raise DefinitionError(f"{path.name}: service_id {definition['service_id']!r} differs from file name")
        definitions[definition["service_id"]] = definition
    return definitions
