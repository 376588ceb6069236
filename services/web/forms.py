"""A small renderer of the services' JSON Schema forms: which widget each property gets,
how the fields fall into pages, and how posted values become the JSON the gateway checks.

Widgets: text (textarea past 200 characters), e-mail, number/integer, a date as day /
month / year, radios for up to five enum values and a select for more, yes/no radios for a
required boolean and a checkbox for an optional one, a declaration (a boolean that must be
``true``: one checkbox labelled with the statement itself, so the citizen sees what they
confirm and cannot answer "no"), a file upload for a file field
(``"x-vr-widget": "file"``; the upload itself is :mod:`services.web.uploads`). Fields whose names share a prefix
(``holder_…``, ``dog_…``) stay together; a form longer than :data:`PAGE_SIZE` fields is
split into pages at those group borders. The checks here only turn input into the right
JSON types (a date that exists, a whole number); the gateway's validation is authoritative
and its problem details are mapped back onto the fields (:func:`errors_from_problem`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.web.i18n import N_, Texts

PAGE_SIZE = 8
RADIO_LIMIT = 5
YES, NO = "ja", "nein"
FILE_TYPES = ("application/pdf", "image/jpeg", "image/png")


@dataclass
class Field:
    name: str
    kind: str  # text, textarea, email, integer, number, date, radios, select, yesno, checkbox, declaration, file
    label: str
    hint: str
    required: bool
    options: list[tuple[str, str]] = field(default_factory=list)
    accept: tuple[str, ...] = ()  # a file field's media types
    statement: str = ""  # what a declaration confirms (the schema's description)

    @property
    def anchor(self) -> str:
        """The id the error summary links to (a date's day field)."""
        return f"{self.name}-day" if self.kind == "date" else f"{self.name}-0" if self.kind in ("radios", "yesno") else self.name


def _kind(schema: dict[str, Any], required: bool) -> str:
    kind = schema.get("type")
    if schema.get("x-vr-widget") == "file":
        return "file"
    if "enum" in schema:
        return "radios" if len(schema["enum"]) <= RADIO_LIMIT else "select"
    if kind == "boolean" and schema.get("const") is True:
        return "declaration"
    if kind == "boolean":
        return "yesno" if required else "checkbox"
    if kind in ("integer", "number"):
        return kind
    if schema.get("format") == "date":
        return "date"
    if schema.get("format") == "email":
        return "email"
    return "textarea" if schema.get("maxLength", 0) > 200 else "text"


def fields_of(definition: dict[str, Any], texts: Texts) -> list[Field]:
    form = definition["form"]
    ui = definition.get("ui") or {}
    required = set(form.get("required") or [])
    fields = []
    for name, schema in form["properties"].items():
        labels = ui.get(name) or {}
        label = texts.pick(labels.get("label")) or schema.get("title") or name
        hint = texts.pick(labels.get("help")) or (schema.get("description") if texts.lang == "de" else "") or ""
        kind = _kind(schema, name in required)
        options = [(str(v), texts.pick((labels.get("options") or {}).get(str(v))) or str(v)) for v in schema.get("enum", [])]
        accept = tuple(schema.get("x-vr-accept") or FILE_TYPES) if kind == "file" else ()
        statement = (schema.get("description") or label) if kind == "declaration" else ""  # German only, as defined
        fields.append(Field(name, kind, label, hint, name in required, options, accept, statement))
    return fields


def _group(name: str) -> str:
    return name.split("_", 1)[0]


def pages_of(fields: list[Field]) -> list[list[Field]]:
    """Consecutive groups of fields (by name prefix), packed into pages of PAGE_SIZE."""
    groups: list[list[Field]] = []
    for item in fields:
        if groups and _group(groups[-1][-1].name) == _group(item.name):
            groups[-1].append(item)
        else:
            groups.append([item])
    pages: list[list[Field]] = [[]]
    for group in groups:
        if pages[-1] and len(pages[-1]) + len(group) > PAGE_SIZE:
            pages.append([])
        pages[-1].extend(group)
    return pages


def raw_of(item: Field, data: dict[str, Any]) -> dict[str, str]:
    """What the inputs of a field show for a stored JSON value."""
    value = data.get(item.name)
    if value is None:
        return {}
    if item.kind == "date":
        try:
            day = date.fromisoformat(str(value))
        except ValueError:
            return {}
        return {"day": str(day.day), "month": str(day.month), "year": str(day.year)}
    if item.kind in ("yesno", "checkbox", "declaration"):
        return {"value": YES if value else NO}
    if item.kind == "file":
        return {"value": str(value.get("attachment_id", "")) if isinstance(value, dict) else ""}
    return {"value": str(value)}


def parse(fields: list[Field], posted: dict[str, str], texts: Texts) -> tuple[dict[str, Any], dict[str, str], dict[str, dict[str, str]]]:
    """The posted page as JSON values, errors by field name, and the raw input to show again.
    An empty field is left out (the gateway says whether it is required)."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw: dict[str, dict[str, str]] = {}
    for item in fields:
        if item.kind == "file":
            continue  # uploaded separately (services.web.uploads)
        if item.kind == "date":
            parts = {p: posted.get(f"{item.name}-{p}", "").strip() for p in ("day", "month", "year")}
            raw[item.name] = parts
            if not any(parts.values()):
                if item.required:
                    errors[item.name] = texts.gettext("Geben Sie „%(label)s“ an.", label=item.label)
                continue
            try:
                values[item.name] = date(int(parts["year"]), int(parts["month"]), int(parts["day"])).isoformat()
            except ValueError:
                errors[item.name] = texts.gettext("„%(label)s“ muss ein gültiges Datum sein, z. B. 27 3 2007.", label=item.label)
            continue
        text = posted.get(item.name, "").strip()
        raw[item.name] = {"value": text}
        if item.kind == "checkbox":
            values[item.name] = text == YES
            continue
        if item.kind == "declaration":
            if text == YES:
                values[item.name] = True
            elif item.required:
                errors[item.name] = texts.gettext("Bestätigen Sie „%(label)s“.", label=item.label)
            continue
        if not text:
            if item.required:
                message = N_("Wählen Sie „%(label)s“ aus.") if item.kind in ("radios", "select", "yesno") else N_("Geben Sie „%(label)s“ an.")
                errors[item.name] = texts.gettext(message, label=item.label)
            continue
        if item.kind == "yesno":
            values[item.name] = text == YES
        elif item.kind == "integer":
            if re.fullmatch(r"-?[0-9]{1,9}", text):
                values[item.name] = int(text)
            else:
                errors[item.name] = texts.gettext("„%(label)s“ muss eine ganze Zahl sein.", label=item.label)
        elif item.kind == "number":
            try:
                values[item.name] = float(text.replace(".", "").replace(",", ".")) if "," in text else float(text)
            except ValueError:
                errors[item.name] = texts.gettext("„%(label)s“ muss eine Zahl sein.", label=item.label)
        else:
            values[item.name] = text
    return values, errors, raw


def errors_from_problem(problem: dict[str, Any], fields: list[Field], texts: Texts) -> dict[str, str]:
    """The gateway's 422 ``errors`` (JSON pointers) as messages per field, in plain words."""
    by_name = {f.name: f for f in fields}
    errors: dict[str, str] = {}
    for error in problem.get("errors") or []:
        name = str(error.get("field", "")).strip("/").split("/")[0]
        item = by_name.get(name)
        if item is None or name in errors:
            continue
        if error.get("code") == "required":
            errors[name] = texts.gettext("Geben Sie „%(label)s“ an.", label=item.label)
        else:
            errors[name] = texts.gettext("Prüfen Sie „%(label)s“: die Angabe hat nicht das erwartete Format.", label=item.label)
    return errors


def display(item: Field, value: Any, texts: Texts) -> str:
    """A stored value as the check-answers page shows it."""
    if value is None or value == "":
        return ""
    if item.kind in ("yesno", "checkbox", "declaration"):
        return texts.gettext("Ja") if value else texts.gettext("Nein")
    if item.kind in ("radios", "select"):
        return dict(item.options).get(str(value), str(value))
    if item.kind == "file":
        return texts.gettext("Datei hochgeladen")
    if item.kind == "date":
        return texts.date(str(value))
    return str(value)
