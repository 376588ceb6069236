"""Building the search index's parts from the catalog CSVs and the service definitions
(see :mod:`services.catalog.search.index` for the model)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.catalog.reference import leika_key as parse_leika_key
from services.catalog.reference import read_csv, valid_leika_row
from services.catalog.search.text import Lexicon, ellipsis_words, stem, words

LEXICON_FILE = "search_lexicon.yaml"
LEXICON_EN_FILE = "search_lexicon_en.yaml"  # English words and phrases -> German catalog words
PLACE_FILES = ("tenants.csv", "landkreise_om.csv", "kommunen_nrw.csv")
LEBENSLAGE_WEIGHT = 0.5   # context match strength relative to a name match
THEMENFELD_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Group:
    """One result: a service definition, an OZG service or a LeiKa service without OZG-ID."""

    kind: str                 # "definition" | "ozg" | "leika"
    service_id: str | None
    ozg_id: str | None
    leika_key: str | None
    name: str
    ozg_name: str | None
    primary: int              # variant used when only context words match
    name_en: str | None = None  # English name (definitions; the most-used OZG services)


@dataclass(frozen=True, slots=True)
class Variant:
    """One text naming a group, as stemmed search terms."""

    group: int
    name: str
    leika_key: str | None
    terms: tuple[str, ...]


Parts = tuple[list[Group], list[Variant], dict[int, list[tuple[str, float]]], Lexicon, set[str], Lexicon]


def place_words(data_dir: Path) -> frozenset[str]:
    """Words of the municipalities' names: "ich ziehe nach Vechta um" is about moving, not
    about Vechta (the portal already says where). Words that also name services are kept
    out by the caller."""
    found: set[str] = set()
    for name in PLACE_FILES:
        path = data_dir / name
        if path.exists():
            found.update(w for row in read_csv(path) for w in words(row["name"]) if len(w) >= 4)
    return frozenset(found)


def build(data_dir: Path | str,
          definitions: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]] | None = None) -> Parts:
    """Groups, variants, context words, lexicon and morphemes of a new index."""
    data_dir = Path(data_dir)
    lexicon = Lexicon.load(data_dir / LEXICON_FILE)
    english = Lexicon.load(data_dir / LEXICON_EN_FILE, lang="en")
    themenfelder = {r["id"]: r["name"] for r in read_csv(data_dir / "themenfelder.csv")}
    lebenslagen = {r["id"]: (r["name"], r["themenfeld_id"]) for r in read_csv(data_dir / "lebenslagen.csv")}
    ozg_rows = read_csv(data_dir / "ozg_leistungen.csv")
    leika_rows = [r for r in read_csv(data_dir / "leika_leistungen.csv") if valid_leika_row(r)]
    leika_names = {r["leika_key"]: r["name"] for r in leika_rows if parse_leika_key(r["leika_key"])}

    groups: list[Group] = []
    variants: list[Variant] = []
    context: dict[int, list[tuple[str, float]]] = {}
    morphemes: set[str] = set()
    seen: set[tuple[int, str]] = set()

    def add_variant(gid: int, name: str, leika_key: str | None) -> int:
        content = lexicon.content_words(name)
        terms = tuple(stem(w) for w in content)
        key = (gid, " ".join(terms))
        if not terms or key in seen:
            return -1
        seen.add(key)
        variants.append(Variant(gid, name, leika_key, terms))
        morphemes.update(terms)
        morphemes.update(content)
        return len(variants) - 1

    def add_group(kind: str, service_id: str | None, ozg_id: str | None, leika_key: str | None,
                  name: str, ozg_name: str | None, lebenslage_ids: Iterable[str], name_en: str | None = None) -> int:
        gid = len(groups)
        terms: list[tuple[str, float]] = []
        for lid in lebenslage_ids:
            if lid not in lebenslagen:
                continue
            lname, themenfeld_id = lebenslagen[lid]
            terms += [(t, LEBENSLAGE_WEIGHT) for t in lexicon.terms(lname)]
            terms += [(t, THEMENFELD_WEIGHT) for t in lexicon.terms(themenfelder.get(themenfeld_id, ""))]
        context[gid] = terms
        primary = len(variants)
        name_en = name_en or english.names.get(ozg_id or "")
        groups.append(Group(kind, service_id, ozg_id, leika_key, name, ozg_name, primary, name_en))
        if add_variant(gid, name, leika_key) < 0:  # name without searchable words
            groups[gid] = Group(kind, service_id, ozg_id, leika_key, name, ozg_name, -1, name_en)
        return gid

    ozg_groups: dict[str, int] = {}
    ozg_names: dict[str, str] = {}
    for row in ozg_rows:
        ozg_names[row["ozg_id"]] = row["name"]
        ozg_groups[row["ozg_id"]] = add_group("ozg", None, row["ozg_id"], None, row["name"], row["name"],
                                              [row["lebenslage_id"]])
    for row in leika_rows:
        key = parse_leika_key(row["leika_key"])
        gid = ozg_groups.get(row["ozg_id"])
        if gid is None:
            add_group("leika", None, row["ozg_id"] or None, key, row["name"], None, ())
        else:
            add_variant(gid, row["name"], key)

    ozg_lebenslage = {r["ozg_id"]: r["lebenslage_id"] for r in ozg_rows}
    if isinstance(definitions, Mapping):
        definitions = definitions.values()
    for definition in definitions or ():
        ozg_id = str(definition["ozg_id"])
        lebenslage_ids = [str(i) for i in definition.get("lebenslagen", ())] or [ozg_lebenslage.get(ozg_id, "")]
        name = definition["name"]["de"]
        gid = add_group("definition", definition["service_id"], ozg_id, definition.get("leika_key"), name,
                        ozg_names.get(ozg_id), lebenslage_ids, definition["name"].get("en"))
        for keyword in definition.get("keywords", ()):
            add_variant(gid, keyword, definition.get("leika_key"))
        leika_name = leika_names.get(definition.get("leika_key") or "")
        if leika_name:
            add_variant(gid, leika_name, definition.get("leika_key"))

    # German hyphen ellipses: "Organ- und Gewebespendeausweis" also names "Organspendeausweis"
    stems = {t for v in variants for t in v.terms}
    full_words = morphemes - stems
    for vid, variant in enumerate(variants):
        if "-" in variant.name:
            extra = tuple(stem(w) for w in ellipsis_words(variant.name, full_words, stems))
            if extra:
                variants[vid] = Variant(variant.group, variant.name, variant.leika_key, variant.terms + extra)
                morphemes.update(extra)
    for key, targets in lexicon.synonyms.items():
        morphemes.update(key.split())
        morphemes.update(targets)
    for targets in english.synonyms.values():
        morphemes.update(targets)
    # place names are no search words, unless a catalog word is spelled the same
    places = place_words(data_dir) - morphemes - {t for v in variants for t in v.terms}
    lexicon = dataclasses.replace(lexicon, stopwords=lexicon.stopwords | places)
    english = dataclasses.replace(english, stopwords=english.stopwords | places)
    return groups, variants, context, lexicon, morphemes, english
