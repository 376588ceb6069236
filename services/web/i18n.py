"""Languages of the portal: German by default, English on request (remembered in a
cookie). Every text goes through Babel/gettext catalogs: the German wording is the message
id, ``locale/en/LC_MESSAGES/messages.po`` holds the English one. The catalog is compiled
in memory when the process starts, so there is no binary ``.mo`` file to keep in step
(``tests/unit/test_web_i18n.py`` fails on a message without an English translation).

Dates, money and numbers are formatted with Babel in the page's language (German:
``12. April 1980``, ``30,70 €``).
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
LANG_COOKIE = "vr_lang"
BABEL_LOCALES = {"de": "de_DE", "en": "en_GB"}
TIMEZONE = "Europe/Berlin"


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


#: The case statuses (services.common.cases.Status) in words (the API's status_text is German only).
STATUS_NAMES = {
    "submitted": N_("Eingegangen"), "payment_pending": N_("Zahlung ausstehend"), "paid": N_("Bezahlt"),
    "in_review": N_("In Bearbeitung"), "information_requested": N_("Rückfrage offen"), "approved": N_("Bewilligt"),
    "rejected": N_("Abgelehnt"), "withdrawn": N_("Zurückgezogen"),
}


def load_catalogs() -> dict[str, NullTranslations]:
    """Per language its translations, compiled from the ``.po`` files (German: the ids)."""
    catalogs: dict[str, NullTranslations] = {"de": NullTranslations()}
    for lang in LANGUAGES[1:]:
        with open(LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po", "rb") as po:
            catalog = read_po(po, locale=lang)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        catalogs[lang] = Translations(buffer)
    return catalogs


def choose(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


class Texts:
    """The texts and formats of one language, handed to the templates as ``_`` and filters."""

    def __init__(self, lang: str, translations: NullTranslations):
        self.lang = lang
        self.locale = Locale.parse(BABEL_LOCALES[lang])
        self._translations = translations

    def gettext(self, message: str, **params: Any) -> str:
        translated = self._translations.gettext(message)
        return translated % params if params else translated

    def pick(self, value: Any) -> str:
        """A ``{"de": …, "en": …}`` text of a service definition in this language."""
        if isinstance(value, dict):
            return str(value.get(self.lang) or value.get(DEFAULT_LANGUAGE) or "")
        return "" if value is None else str(value)

    def status(self, code: str) -> str:
        return self.gettext(STATUS_NAMES[code]) if code in STATUS_NAMES else code

    def date(self, value: Any, form: str = "long") -> str:
        if not value:
            return ""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
            except ValueError:
                return value
        if isinstance(value, datetime):
            return format_datetime(value, "d. MMMM y, HH:mm" if self.lang == "de" else "d MMMM y, HH:mm",
                                   tzinfo=TIMEZONE, locale=self.locale)
        return format_date(value, form, locale=self.locale)

    def money(self, cents: int | None) -> str:
        return format_currency((cents or 0) / 100, "EUR", locale=self.locale)

    def number(self, value: Any) -> str:
        return format_decimal(value, locale=self.locale)
