"""Reading a citizen's query: one *slot* per meaningful word, with the index terms it may
stand for (see :mod:`services.catalog.search.index` for how slots are scored)."""

from __future__ import annotations

from dataclasses import dataclass

from services.catalog.search.matcher import TermMatcher
from services.catalog.search.text import Lexicon, join_separable, words

MAX_QUERY_LENGTH = 200   # characters considered; longer input is cut
MAX_QUERY_WORDS = 10
SYNONYM_WEIGHT = 0.9      # similarity of a synonym relative to the word itself
SPLIT_WEIGHT = 0.95       # similarity of the parts of a query compound that was split
TYPO_WEIGHT = {1: 0.85, 2: 0.7}
WEAK_WORD_WEIGHT = 0.2    # slot weight factor of words like "beantragen", "online"
ACTION_WORD_WEIGHT = 0.5  # slot weight factor of verbs like "anmelden", "abholen"


@dataclass(slots=True)
class Slot:
    factor: float              # 1, or less for weak and action words
    matches: dict[str, float]  # index term -> similarity


class QueryParser:
    """Splits queries into slots against one index's vocabulary; read-only, so shared."""

    def __init__(self, matcher: TermMatcher, lexicon: Lexicon) -> None:
        self.matcher = matcher
        self.lexicon = lexicon

    def _slot(self, alternatives: dict[str, float], weak: bool = False, action: bool = False) -> Slot | None:
        matches: dict[str, float] = {}
        for term, factor in alternatives.items():
            for found, similarity in self.matcher.matches(term).items():
                value = similarity * factor
                if value > matches.get(found, 0.0):
                    matches[found] = value
        if not matches:
            return None
        return Slot(WEAK_WORD_WEIGHT if weak else ACTION_WORD_WEIGHT if action else 1.0, matches)

    def _word_alternatives(self, term: str) -> dict[str, float]:
        alternatives = {term: 1.0}
        for synonym in self.lexicon.synonyms.get(term, ()):
            alternatives.setdefault(synonym, SYNONYM_WEIGHT)
        return alternatives

    def parse(self, query: str) -> list[Slot]:
        """The slots of a query; empty when no word of it means anything to the index."""
        lexicon = self.lexicon
        sentence = join_separable(words(query[:MAX_QUERY_LENGTH]))
        raw = [w for w in sentence if w not in lexicon.stopwords][:MAX_QUERY_WORDS]
        terms = [lexicon.stem(w) for w in raw]
        slots: list[Slot | None] = []
        i = 0
        while i < len(terms):
            term = terms[i]
            phrase = f"{term} {terms[i + 1]}" if i + 1 < len(terms) else ""
            if phrase in lexicon.synonyms:
                slots.append(self._slot({s: SYNONYM_WEIGHT for s in lexicon.synonyms[phrase]}))
                i += 2
                continue
            i += 1
            if len(term) < 2 and not term.isdigit():
                continue
            if term in self.matcher.vocabulary or term in lexicon.synonyms:
                slots += self._slots_for(term)
                continue
            parts = self.matcher.split(term)
            typos = self.matcher.typos(term)
            if parts:  # unknown compound of known words: "kitaplatz" -> "kita", "platz"
                close = [t for t in typos if t[1] == 1]  # ... unless it is a typo of a known word
                slots += self._slots_for(*parts, whole=term,
                                         extra=self._typo_alternatives(term, close) if close else None)
                continue
            if typos:  # "fuerungszeugni" -> "fuehrungszeugni"
                slot = self._slot(self._typo_alternatives(term, typos), term in lexicon.weak, term in lexicon.actions)
                slots += [slot] if slot else []
                continue
            split = self.matcher.split_with_typo(term)
            if split:  # "hundeanmeldng" -> "hund", "anmeld"
                first, corrected, distance = split
                slots += self._slots_for(first, whole=term)
                slots += self._slots_for(corrected, factor=TYPO_WEIGHT[distance])
        return [s for s in slots if s is not None]

    def _slots_for(self, *parts: str, whole: str | None = None, factor: float = 1.0,
                   extra: dict[str, float] | None = None) -> list[Slot | None]:
        """One slot per query word; parts of a split compound also accept the whole word (and
        ``extra`` alternatives for it, e.g. typo readings)."""
        lexicon = self.lexicon
        split_factor = SPLIT_WEIGHT if whole else 1.0
        slots = []
        for part in parts:
            alternatives = {p: f * split_factor * factor for p, f in self._word_alternatives(part).items()}
            for alternative, value in (extra or {}).items():
                alternatives[alternative] = max(value, alternatives.get(alternative, 0.0))
            if whole:
                alternatives[whole] = 1.0
            slots.append(self._slot(alternatives, part in lexicon.weak, part in lexicon.actions))
        return slots

    def _typo_alternatives(self, term: str, typos: list[tuple[str, int]]) -> dict[str, float]:
        alternatives = {term: 1.0}
        best = typos[0][1]
        for candidate, distance in typos[:3]:
            if distance > best:
                break
            for alternative, factor in self._word_alternatives(candidate).items():
                value = factor * TYPO_WEIGHT[distance]
                if value > alternatives.get(alternative, 0.0):
                    alternatives[alternative] = value
        return alternatives
