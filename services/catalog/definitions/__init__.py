"""Declarative service definitions (one JSON file per service) and their one loader.

The format is described in README.md next to this file and enforced by
``_definition.schema.json``. Everything that reads definition files (the import into the
catalog, the search, the evaluation) goes through :func:`load_definitions`, which validates
every file, so a broken definition fails at start-up, naming its file, rather than when a
citizen opens the form.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from services.catalog.domain import DefinitionError
from services.common.config import settings

DEFINITIONS_DIR = Path(__file__).resolve().parent
SCHEMA_PATH = DEFINITIONS_DIR / "_definition.schema.json"


def definitions_dir() -> Path:
    """The directory definitions are imported from: ``CATALOG_DEFINITIONS_DIR`` if set (read
    when called, so tests and the import command can point elsewhere), else this package."""
    return settings().catalog_definitions_dir


def definition_schema() -> dict[str, Any]:
    """The JSON Schema every definition file must satisfy."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def check_definition(definition: dict[str, Any], validator: Draft202012Validator | None = None,
                     source: str | None = None) -> None:
    """Raise DefinitionError unless ``definition`` is a complete, consistent definition; the
    error names ``source`` (its file) or else the service_id."""
    name = source or str(definition.get("service_id", "?"))

    def error(message: str) -> DefinitionError:
        return DefinitionError(detail=f"{name}: {message}")

    validator = validator or Draft202012Validator(definition_schema())
    errors = sorted(validator.iter_errors(definition), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        raise error(f"{'/'.join(str(p) for p in first.absolute_path) or '<root>'}: {first.message}")
    form = definition["form"]
    try:
        Draft202012Validator.check_schema(form)
    except SchemaError as exc:
        raise error(f"form is not a valid JSON Schema: {exc.message}") from exc
    fields = set(form["properties"])
    missing = set(form["required"]) - fields
    if missing:
        raise error(f"required fields without property: {sorted(missing)}")
    if set(definition["ui"]) != fields:
        raise error(f"ui keys differ from form fields: {sorted(set(definition['ui']) ^ fields)}")
    attachment_ids = [a["id"] for a in definition["attachments"]]
    if len(attachment_ids) != len(set(attachment_ids)):
        raise error("duplicate attachment ids")


def load_definitions(directory: Path | str | None = None) -> dict[str, dict[str, Any]]:
    """All definitions of ``directory`` (default :func:`definitions_dir`) by service_id, in
    file name order, each validated; files starting with ``_`` are not definitions."""
    validator = Draft202012Validator(definition_schema())
    definitions: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(directory or definitions_dir()).glob("*.json")):
        if path.name.startswith("_"):
            continue
        try:
            definition = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DefinitionError(detail=f"{path.name}: invalid JSON: {exc}") from exc
        check_definition(definition, validator, source=path.name)
        if definition["service_id"] != path.stem:
            raise DefinitionError(
                detail=f"{path.name}: service_id {definition['service_id']!r} differs from the file name")
        definitions[definition["service_id"]] = definition
    return definitions


RETENTION_FILE = Path(__file__).parent / "_retention.json"


def default_retention() -> dict[str, int]:
    """Months after the decision each service's case data are kept, for definitions published
    before ``retention_months`` existed (a published version never changes)."""
    data = json.loads(RETENTION_FILE.read_text(encoding="utf-8"))
    return {key: int(value) for key, value in data.items() if not key.startswith("$")}
