"""The web front end's texts: every message in its code and templates has an English
translation with the same placeholders; dates and money in German format."""

from __future__ import annotations

import re
from datetime import date

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from services.web.i18n import LOCALE_DIR, Texts, load_catalogs

WEB = LOCALE_DIR.parent
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "N_": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted() -> set[str]:
    return {message for _file, _line, message, _comments, _context in extract_from_dir(WEB, METHODS, keywords=KEYWORDS)
            if isinstance(message, str) and message}


def english() -> dict[str, str]:
    with open(LOCALE_DIR / "en" / "LC_MESSAGES" / "messages.po", "rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id and not m.fuzzy}


def test_every_message_has_an_english_translation_with_the_same_placeholders() -> None:
    messages, translations = extracted(), english()
    assert len(messages) > 150
    untranslated = sorted(m for m in messages if not translations.get(m))
    assert not untranslated, f"add these to services/web/locale/en/LC_MESSAGES/messages.po: {untranslated}"
    for message in messages:
        assert set(PLACEHOLDER.findall(message)) == set(PLACEHOLDER.findall(translations[message])), message


def test_the_catalog_holds_no_message_that_is_gone() -> None:
    stale = sorted(set(english()) - extracted())
    assert not stale, f"remove from the catalog: {stale}"


def test_german_is_the_default_and_formats_are_german() -> None:
    catalogs = load_catalogs()
    german, english_texts = Texts("de", catalogs["de"]), Texts("en", catalogs["en"])
    assert german.gettext("Abmelden") == "Abmelden" and english_texts.gettext("Abmelden") == "Log out"
    assert german.gettext("Schritt %(n)s von %(total)s", n=1, total=3) == "Schritt 1 von 3"
    assert german.date(date(1980, 4, 12)) == "12. April 1980"
    assert german.date("2026-12-02T15:30:36+00:00") == "2. Dezember 2026, 16:30"  # Europe/Berlin
    assert german.money(3070) == "30,70\xa0€"
    assert german.number(1234.5) == "1.234,5"
    assert english_texts.money(3070) == "€30.70"
    assert german.pick({"de": "Hund", "en": "dog"}) == "Hund" and english_texts.pick({"de": "Hund", "en": "dog"}) == "dog"
