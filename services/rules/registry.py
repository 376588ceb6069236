"""The registry adapter: does the address an applicant entered match the residents'
register (Melderegister)? A demo adapter over a small file of invented residents
(``data/registry.json``); a real one asks the registration office's system (e.g. over
XMeld/OSCI) behind the same one-method interface.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

DEMO_DATA = Path(__file__).parent / "data" / "registry.json"
#: The form fields that name a person and their address, per prefix used by the forms
#: (``first_name`` for the applicant, ``holder_first_name`` for a dog's holder).
PERSON_FIELDS = ("first_name", "last_name", "birth_date", "street", "house_number", "postal_code")


class Registry(Protocol):
    def address_matches(self, form: Mapping[str, Any]) -> bool: ...


@lru_cache(maxsize=65536)
def _norm_text(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).casefold().replace("ß", "ss")
    return text.replace("str.", "strasse").replace(" ", "").replace("-", "")


def _norm(value: Any) -> str:
    return _norm_text(value if isinstance(value, str) else str(value or ""))


def person_of(form: Mapping[str, Any]) -> tuple[str, ...] | None:
    for prefix in ("", "holder_"):
        values = tuple(_norm(form.get(prefix + name)) for name in PERSON_FIELDS)
        if all(values):
            return values
    return None


class DemoRegistry:
    """Residents from a JSON file, matched on name, birth date and address (normalised)."""

    def __init__(self, path: Path = DEMO_DATA):
        data = json.loads(path.read_text(encoding="utf-8"))
        self.residents = {tuple(_norm(r[name]) for name in PERSON_FIELDS) for r in data["residents"]}

    def address_matches(self, form: Mapping[str, Any]) -> bool:
        person = person_of(form)
        return person is not None and person in self.residents


@lru_cache(maxsize=1)
def demo_registry() -> DemoRegistry:
    return DemoRegistry()
