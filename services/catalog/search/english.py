"""English queries on the German catalog: an English word or phrase is *translated* into the
catalog's German terms by the English lexicon (``search_lexicon_en.yaml``: "dog tax" →
hund, steuer; "id card" → personalausweis) and scored by the same index and ranking as a
German query, so every service the German search finds is reachable in English as far as
the lexicon's words go. German words typed on the English portal ("Kita", "Elterngeld",
"BAföG") still match the catalog directly; English words the lexicon does not know are
dropped, except within a typing error of a word it knows."""

from __future__ import annotations

from services.catalog.search.matcher import TermMatcher
from services.catalog.search.query import MAX_QUERY_LENGTH, MAX_QUERY_WORDS, QueryParser, Slot
from services.catalog.search.text import Lexicon, osa_distance, stem, words

MAX_PHRASE = 3  # words of the longest lexicon key ("certificate of good conduct" without "of")


class EnglishQueryParser(QueryParser):
    """Slots of an English query, against the German index's vocabulary (``german``: the
    German lexicon, which says which German words are weak or action words)."""

    def __init__(self, matcher: TermMatcher, lexicon: Lexicon, german: Lexicon) -> None:
        super().__init__(matcher, lexicon)
        self.german = german

    def parse(self, query: str) -> list[Slot]:
        lexicon = self.lexicon
        raw = [w for w in words(query[:MAX_QUERY_LENGTH]) if w not in lexicon.stopwords][:MAX_QUERY_WORDS]
        terms = [lexicon.stem(w) for w in raw]
        slots: list[Slot | None] = []
        i = 0
        while i < len(terms):
            for size in range(min(MAX_PHRASE, len(terms) - i), 1, -1):
                phrase = " ".join(terms[i:i + size])
                if phrase in lexicon.synonyms:
                    slots += self._translated(phrase)
                    i += size
                    break
            else:
                term, german = terms[i], stem(raw[i])
                i += 1
                key = term if term in lexicon.synonyms else self._english_typo(term)
                if key is not None:
                    slots += self._translated(key)
                elif german in self.matcher.vocabulary:  # a German word on the English portal
                    slots += self._slots_for(german)
        return [s for s in slots if s is not None]

    def _translated(self, key: str) -> list[Slot | None]:
        """Slots for the German terms an English key stands for: one slot whose alternatives
        are the key's German words (a translation is as good as the word itself; weak and
        action words count as in German), or — for a translation into several German words
        that are all wanted ("register address" → wohnsitz, anmeld) — one slot per word."""
        lexicon = self.lexicon
        targets = lexicon.synonyms[key]
        if len(targets) == 1 and " " in targets[0]:
            german = self.german
            return [self._slot({part: 1.0}, part in german.weak, part in german.actions) for part in targets[0].split()]
        return [self._slot(dict.fromkeys(targets, 1.0), key in lexicon.weak, key in lexicon.actions)]

    def _english_typo(self, term: str) -> str | None:
        """The lexicon key within one typing error (two for long words), if exactly one is."""
        if len(term) < 5:
            return None
        limit = 1 if len(term) < 8 else 2
        close = [key for key in self.lexicon.synonyms if " " not in key and abs(len(key) - len(term)) <= limit
                 and osa_distance(key, term, limit) <= limit]
        return close[0] if len(close) == 1 else None
