"""German text handling for the catalog search: normalisation, stemming, compounds and typos.

Pure Python, no third-party text libraries. Everything here works on *normalised* text:
lower case, ``ä/ö/ü/ß`` folded to ``ae/oe/ue/ss`` (so both spellings citizens type are the
same), other accents removed, and words reduced by a light stemmer that merges inflected
forms and verb/noun pairs ("anmelden", "Anmeldung" → "anmeld").
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
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


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@dataclass(frozen=True)
class Lexicon:
    """Stop words, weak words and synonyms from ``search_lexicon.yaml``, normalised and stemmed."""

    stopwords: frozenset[str]
    weak: frozenset[str]
    actions: frozenset[str]
    short_words: frozenset[str]
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | str) -> Lexicon:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available
        raw = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader) or {}
        synonyms: dict[str, list[str]] = defaultdict(list)
        for key, values in (raw.get("synonyms") or {}).items():
            key_stems = [stem(w) for w in words(str(key))]
            if not 1 <= len(key_stems) <= 2:
                raise ValueError(f"synonym key must be one or two words: {key!r}")
            for value in values:
                value_words = words(str(value))
                if len(value_words) != 1:
                    raise ValueError(f"synonym of {key!r} must be a single word: {value!r}")
                target = stem(value_words[0])
                joined = " ".join(key_stems)
                if target != joined and target not in synonyms[joined]:
                    synonyms[joined].append(target)
        return cls(
            stopwords=frozenset(w for s in raw.get("stopwords") or () for w in words(str(s))),
            weak=frozenset(stem(w) for s in raw.get("weak_words") or () for w in words(str(s))),
            actions=frozenset(stem(w) for s in raw.get("action_words") or () for w in words(str(s))),
            short_words=frozenset(w for s in raw.get("short_words") or () for w in words(str(s))),
            synonyms={k: tuple(v) for k, v in synonyms.items()},
        )

    def terms(self, text: str) -> list[str]:
        """Stemmed words of a catalog text without stop words."""
        return [stem(w) for w in self.content_words(text)]

    def content_words(self, text: str) -> list[str]:
        """Normalised words of a catalog text without stop words (not stemmed)."""
        return [w for w in words(text) if w not in self.stopwords and (len(w) > 1 or w.isdigit())]


class TermMatcher:
    """Finds the index terms a query term stands for: itself, compounds containing it, typos.

    ``vocabulary`` are the stemmed terms of the index, ``morphemes`` the words and stems that
    may be compound parts. Results are cached per term; the instance is read-only otherwise.
    """

    def __init__(self, vocabulary: Iterable[str], morphemes: Iterable[str], lexicon: Lexicon,
                 cache_size: int = 20000) -> None:
        self.lexicon = lexicon
        self.vocabulary = frozenset(vocabulary)
        trigrams: dict[str, set[str]] = defaultdict(set)
        for term in self.vocabulary:
            for i in range(len(term) - 2):
                trigrams[term[i:i + 3]].add(term)
        self._trigrams = dict(trigrams)
        self.morphemes = frozenset(
            m for m in morphemes if len(m) >= MIN_PART or m in lexicon.short_words
        )
        # typo candidates: index terms, synonym keys and the full words of index terms
        targets: dict[str, str] = {}
        for word in self.morphemes:
            if stem(word) in self.vocabulary and not word.isdigit():
                targets[word] = stem(word)
        for term in self.vocabulary:
            targets[term] = term
        for key in lexicon.synonyms:
            if " " not in key:
                targets[key] = key
        self._typo_targets = {k: v for k, v in targets.items() if len(k) >= MIN_PART and not k.isdigit()}
        deletes: dict[str, list[str]] = defaultdict(list)
        for key in self._typo_targets:
            for d in _deletes(key):
                deletes[d].append(key)
        self._deletes = dict(deletes)
        self._split_words = self.morphemes | frozenset(k for k in lexicon.synonyms if " " not in k)
        self._cache_size = cache_size
        self._match_cache: dict[str, dict[str, float]] = {}
        self._typo_cache: dict[str, list[tuple[str, int]]] = {}
        self._segment_cache: dict[str, bool] = {}

    # -- compounds ---------------------------------------------------------------------------
    def is_compound_part(self, text: str) -> bool:
        """Whether ``text`` is a sequence of known words joined by optional linking letters."""
        if not text:
            return False
        cached = self._segment_cache.get(text)
        if cached is not None:
            return cached
        n = len(text)
        # reachable[i]: text[:i] can be segmented; second flag: last piece was a linker
        reachable = [[False, False] for _ in range(n + 1)]
        reachable[0] = [True, True]
        morphemes = self.morphemes
        for i in range(n):
            after_word, after_linker = reachable[i]
            if not (after_word or after_linker):
                continue
            for j in range(i + 1, n + 1):
                if text[i:j] in morphemes:
                    reachable[j][0] = True
            if after_word:
                for linker in LINKERS:
                    if text.startswith(linker, i):
                        reachable[i + len(linker)][1] = True
        result = reachable[n][0] or (reachable[n][1] and n > 2)
        if len(self._segment_cache) < self._cache_size:
            self._segment_cache[text] = result
        return result

    def split(self, term: str) -> list[str] | None:
        """Split an unknown compound into known parts ("kitaplatz" → ["kita", "platz"])."""
        n = len(term)
        if n < 2 * MIN_PART - 1:
            return None
        known = self._split_words
        best: list[list[str] | None] = [None] * (n + 1)
        best[0] = []
        for i in range(n):
            if best[i] is None:
                continue
            starts = [i] + [i + len(lk) for lk in LINKERS if i > 0 and term.startswith(lk, i)]
            for start in starts:
                for j in range(start + 1, n + 1):
                    part = term[start:j]
                    if part == term or part not in known or not (len(part) >= MIN_PART or part in self.lexicon.short_words):
                        continue
                    candidate = best[i] + [part]
                    current = best[j]
                    if current is None or len(candidate) < len(current) or (
                            len(candidate) == len(current) and min(map(len, candidate)) > min(map(len, current))):
                        best[j] = candidate
        parts = best[n]
        if not parts or len(parts) < 2:
            return None
        return [stem(p) for p in parts]

    def split_with_typo(self, term: str) -> tuple[str, str, int] | None:
        """Split a compound whose second part has a typo ("hundeanmeldng" → "hund", "anmeld", 2)."""
        for i in range(len(term) - MIN_PART, 2, -1):
            first = term[:i]
            if first not in self.morphemes:
                continue
            rest = term[i:]
            for candidate in [rest] + [rest[len(lk):] for lk in LINKERS if rest.startswith(lk)]:
                if len(candidate) < MIN_PART + 1:
                    continue
                typos = self.typos(candidate)
                if typos:
                    corrected, distance = typos[0]
                    return stem(first), corrected, distance
        return None

    # -- matching ------------------------------------------------------------------------------
    def matches(self, term: str) -> dict[str, float]:
        """Index terms equal to ``term`` or compounds containing it, with a similarity in (0, 1]."""
        cached = self._match_cache.get(term)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if term in self.vocabulary:
            found[term] = 1.0
        length = len(term)
        if length >= 3 and (length >= MIN_PART or term in self.lexicon.short_words):
            for candidate in self._containing(term):
                similarity = self._compound_similarity(term, candidate)
                if similarity:
                    found[candidate] = similarity
        if len(self._match_cache) < self._cache_size:
            self._match_cache[term] = found
        return found

    def _containing(self, term: str) -> list[str]:
        """Index terms that contain ``term`` and are longer (via the trigram index)."""
        sets = []
        for i in range(len(term) - 2):
            found = self._trigrams.get(term[i:i + 3])
            if not found:
                return []
            sets.append(found)
        sets.sort(key=len)
        candidates = set(sets[0])
        for other in sets[1:]:
            if len(candidates) <= 8:
                break
            candidates &= other
        return [t for t in candidates if term in t and t != term]

    def _compound_similarity(self, term: str, candidate: str) -> float:
        index = candidate.find(term)
        end = index + len(term)
        if index == 0:  # term is the first part: "hund" in "hundeanmeld"
            if self.is_compound_part(candidate[end:]):
                return 0.9
            return 0.7 if len(term) >= 6 else 0.0
        if end == len(candidate):  # term is the head: "auswei" in "personalauswei"
            if self.is_compound_part(candidate[:index]):
                return 0.85
            return 0.7 if len(term) >= 5 else 0.0
        if self.is_compound_part(candidate[:index]) and self.is_compound_part(candidate[end:]):
            return 0.8  # middle part: "fahrzeug" in "kraftfahrzeugsteu"
        return 0.5 if len(term) >= 6 else 0.0

    def typos(self, term: str) -> list[tuple[str, int]]:
        """Known terms within edit distance 1 (2 for long words) of ``term``, closest first."""
        cached = self._typo_cache.get(term)
        if cached is not None:
            return cached
        result: list[tuple[str, int]] = []
        if len(term) >= MIN_PART and not term.isdigit():
            limit = 2 if len(term) >= 8 else 1
            keys = _deletes(term) | {term}
            if limit == 2:  # two letters too many
                keys |= {d for key in list(keys) for d in _deletes(key)}
            candidates: set[str] = set()
            for key in keys:
                candidates.update(self._deletes.get(key, ()))
                if key in self._typo_targets:
                    candidates.add(key)
            best: dict[str, int] = {}
            for candidate in candidates:
                target = self._typo_targets[candidate]
                if target == term:
                    continue
                distance = osa_distance(term, candidate, limit)
                if distance <= limit and distance < best.get(target, limit + 1):
                    best[target] = distance
            result = sorted(best.items(), key=lambda item: (item[1], -len(item[0]), item[0]))
        if len(self._typo_cache) < self._cache_size:
            self._typo_cache[term] = result
        return result
