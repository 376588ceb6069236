"""German text handling for the catalog search: normalisation, stemming, edit distance,
hyphen ellipses and the lexicon (stop words, synonyms). Matching query words against the
index's terms is :mod:`services.catalog.search.matcher`.

Pure Python, no third-party text libraries. Everything here works on *normalised* text:
lower case, ``ä/ö/ü/ß`` folded to ``ae/oe/ue/ss`` (so both spellings citizens type are the
same), other accents removed, and words reduced by a light stemmer that merges inflected
forms and verb/noun pairs ("anmelden", "Anmeldung" → "anmeld").
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

_FOLD = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"), ("ẞ", "ss"))
_TOKEN = re.compile(r"[a-z0-9]+")
#: Fugenelemente that may join two parts of a compound ("Geburt-s-urkunde", "Hund-e-steuer").
LINKERS = ("es", "en", "er", "s", "e", "n")
MIN_PART = 4  # shortest compound part unless listed in the lexicon's short_words


def normalize(text: str) -> str:
    """Lower-case, fold umlauts and ß, strip other accents."""
    text = text.lower()
    if text.isascii():
        return text
    for umlaut, folded in _FOLD:
        text = text.replace(umlaut, folded)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """Normalised words of ``text`` (hyphens and punctuation split words)."""
    return _TOKEN.findall(normalize(text))


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """Light German stemmer for normalised words (inflection and -ung, not derivation)."""
    if len(word) <= 3 or word.isdigit():
        return word
    for plural in ("nissen", "nisses", "nisse"):  # Zeugnisse, Ergebnissen -> Zeugnis
        if word.endswith(plural):
            word = word[: -len(plural)] + "nis"
            break
    for suffix in ("ungen", "ung"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    for suffix in ("ern", "em", "en", "er", "es", "et"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) >= 5 and word[-1] in "es":
        word = word[:-1]
    return word


@lru_cache(maxsize=65536)
def stem_en(word: str) -> str:
    """Light English stemmer for normalised words: plurals, -ing, -ed and a final e, so
    "moving", "moved" and "move" or "certificates" and "certificate" are one term."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


#: The stemmer of each query language; catalog words are always German.
STEMMERS = {"de": stem, "en": stem_en}


#: Particles of German separable verbs ("ich ziehe nach Vechta um": umziehen) and the
#: pronouns that open a main clause (the finite verb comes second).
SEPARABLE_PARTICLES = frozenset({"an", "ab", "um", "aus", "ein", "zurueck", "weg", "nach", "zu"})
PRONOUNS = frozenset({"ich", "wir", "du", "er", "sie", "es", "ihr", "man"})


def join_separable(sentence: list[str]) -> list[str]:
    """A German sentence's separable verb put together again: in a main clause the finite
    verb comes second and its particle last ("ich melde meinen Hund an" → "anmelde" …);
    the joined verb stands where the verb stood and the particle goes."""
    if len(sentence) < 3 or sentence[-1] not in SEPARABLE_PARTICLES:
        return sentence
    verb = 1 if sentence[0] in PRONOUNS else 0
    if verb >= len(sentence) - 1 or sentence[verb] in SEPARABLE_PARTICLES:
        return sentence
    return [*sentence[:verb], sentence[-1] + sentence[verb], *sentence[verb + 1:-1]]


def osa_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (edits incl. transpositions), capped at ``limit + 1``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    if a == b:
        return 0
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        row_min = i
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            row_min = min(row_min, value)
        if row_min > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)


_ELLIPSIS_FORWARD = re.compile(r"([a-z]+)-\s*(?:/|,|und|oder|bzw\.?|sowie)\s*([a-z]+)")
_ELLIPSIS_BACKWARD = re.compile(r"([a-z]+)\s*(?:/|,|und|oder|bzw\.?|sowie)\s*-([a-z]+)")


def ellipsis_words(text: str, known_words: set[str] | frozenset[str],
                   known_stems: set[str] | frozenset[str]) -> list[str]:
    """Compounds hidden in German hyphen ellipses, given the words and stems known in the catalog.

    "Organ- und Gewebespendeausweis" → ["organspendeausweis"];
    "Meldebescheinigung und -registerauskunft" → ["melderegisterauskunft"].
    """
    text = normalize(text)
    found = []
    for modifier, compound in _ELLIPSIS_FORWARD.findall(text):
        cut = _first_part_end(compound, known_words, known_stems)
        if cut:
            found.append(modifier + compound[cut:])
    for compound, head in _ELLIPSIS_BACKWARD.findall(text):
        cut = _first_part_end(compound, known_words, known_stems)
        if cut:
            found.append(compound[:cut] + head)
    return found


def _first_part_end(compound: str, known_words: set[str] | frozenset[str],
                    known_stems: set[str] | frozenset[str]) -> int | None:
    """End of the first part of a compound (after its linking letters), or None."""
    fallback = None
    for i in range(3, len(compound) - MIN_PART + 1):
        prefix = compound[:i]
        is_word = prefix in known_words
        if not is_word and prefix not in known_stems:
            continue
        ends = [i] + [i + len(lk) for lk in LINKERS if compound.startswith(lk, i)]
        for end in ends:
            rest = compound[end:]
            if len(rest) >= MIN_PART and (rest in known_words or rest in known_stems):
                return end
        if fallback is None:
            # a stem lacks its final e ("geweb" of "gewebe"): the e belongs to the first part
            fallback = i if is_word or not compound.startswith("e", i) else i + 1
    return fallback


@dataclass(frozen=True)
class Lexicon:
    """Stop words, weak words and synonyms from ``search_lexicon.yaml``, normalised and stemmed."""

    stopwords: frozenset[str]
    weak: frozenset[str]
    actions: frozenset[str]
    short_words: frozenset[str]
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lang: str = "de"  # the language of the keys, stop, weak and action words; values are German
    names: dict[str, str] = field(default_factory=dict)  # OZG-ID -> name in ``lang`` (display only)

    @property
    def stem(self) -> Callable[[str], str]:
        """The stemmer of the lexicon's language (``stem`` for German, ``stem_en``)."""
        return STEMMERS[self.lang]

    @classmethod
    def load(cls, path: Path | str, lang: str = "de", extra_stopwords: frozenset[str] = frozenset()) -> Lexicon:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader) or {}
        key_stem = STEMMERS[lang]
        synonyms: dict[str, list[str]] = defaultdict(list)
        for key, values in (raw.get("synonyms") or {}).items():
            key_stems = [key_stem(w) for w in words(str(key))]
            if not 1 <= len(key_stems) <= 3:
                raise ValueError(f"synonym key must be one to three words: {key!r}")
            for value in values:
                value_words = words(str(value))
                if lang != "de" and len(value_words) > 1 and len(values) == 1:
                    # a translation into several German words, all of them wanted ("register
                    # address" → "wohnsitz anmeldung"): one slot each (services.catalog.search.english)
                    synonyms[" ".join(key_stems)].append(" ".join(stem(w) for w in value_words))
                    continue
                if len(value_words) != 1:
                    raise ValueError(f"synonym of {key!r} must be a single word: {value!r}")
                target = stem(value_words[0])
                joined = " ".join(key_stems)
                if target != joined and target not in synonyms[joined]:
                    synonyms[joined].append(target)
        return cls(
            stopwords=frozenset(w for s in raw.get("stopwords") or () for w in words(str(s))) | extra_stopwords,
            weak=frozenset(key_stem(w) for s in raw.get("weak_words") or () for w in words(str(s))),
            actions=frozenset(key_stem(w) for s in raw.get("action_words") or () for w in words(str(s))),
            short_words=frozenset(w for s in raw.get("short_words") or () for w in words(str(s))),
            synonyms={k: tuple(v) for k, v in synonyms.items()},
            lang=lang,
            names={str(k): str(v) for k, v in (raw.get("names") or {}).items()},
        )

    def terms(self, text: str) -> list[str]:
        """Stemmed words of a catalog text without stop words."""
        return [stem(w) for w in self.content_words(text)]

    def content_words(self, text: str) -> list[str]:
        """Normalised words of a catalog text without stop words (not stemmed)."""
        return [w for w in words(text) if w not in self.stopwords and (len(w) > 1 or w.isdigit())]
