"""Which index terms a query word stands for: itself, compounds containing it, or known
words within a typing error or two. Kept apart from :mod:`services.catalog.search.text`
because it needs the index's vocabulary, while text handling needs nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from services.catalog.search.text import LINKERS, MIN_PART, Lexicon, osa_distance, stem


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


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
