"""Citizen-language search over the OZG/LeiKa catalog and the platform's service definitions.

The index is built in memory from the CSV files in ``services/catalog/data`` and the
definitions (no database, no network). It is read-only after ``SearchIndex.load`` and safe to
share between green threads. Its parts: :mod:`.build` (groups and variants from the data),
:mod:`.query` (slots of a query), :mod:`.matcher` (compounds, typos), :mod:`.text` (German
words); this module scores and ranks.

Model
-----
* A *result group* is one service definition, one OZG service (Leistungsbündel) or a LeiKa
  service without OZG-ID. Each group has *variants* — short texts that name it: the OZG name
  and the names of all LeiKa services of the bundle; for a definition its German name, its
  citizen keywords and its LeiKa name — and *context* words (its Lebenslage and Themenfeld).
* A query is split into *slots*, one per meaningful word (stop words dropped, unknown compounds
  split into parts, two-word synonym phrases merged). Each slot matches index terms by stem,
  as part of a compound, by synonym or, for unknown words, within one or two typing errors.
* A variant scores ``coverage * (0.8 + 0.2 * precision)``. Coverage is the weighted share of
  query slots it matches (context words count half or less); a slot weighs its idf over the
  variants it matches at query time (so "Kita" weighs like the Kindertages... services it
  stands for), weak words ("beantragen") a fifth, action verbs ("anmelden") half. Precision is
  the idf-weighted share of the variant's own words the query matched, so short exact names
  beat long ones. A group scores as its best variant.
* Ranking: relevant definitions (score >= 75 % of the best) the tenant offers online itself
  come first, then relevant ones offered by its district, then everything by score. A catalog
  entry is not shown when it is the LeiKa service of a definition in the result.
* A query that is exactly an OZG-ID (5 digits) or LeiKa key (14 digits) returns that service.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from services.catalog.search.build import Group, Variant, build
from services.catalog.search.english import EnglishQueryParser
from services.catalog.search.matcher import TermMatcher
from services.catalog.search.query import WEAK_WORD_WEIGHT, QueryParser, Slot
from services.catalog.search.text import Lexicon, normalize
from services.common.problems import DomainError, text

MAX_LIMIT = 100
PRECISION_SHARE = 0.2
RERANK_CANDIDATES = 300
RELEVANT_SHARE = 0.75     # offered services rank first if they score >= this share of the best
MIN_RESULT_SHARE = 0.2    # results below this share of the best score are left out
TIERS = {"own": 0, "district": 1}
_ID_QUERY = re.compile(r"^\s*(\d{5}|\d{14})\s*$")


class QueryError(DomainError):
    """A query the search cannot answer (empty, or asking for too many results)."""

    code = "invalid_query"


class SearchIndex:
    """In-memory search index; build it with :meth:`load`."""

    def __init__(self, groups: list[Group], variants: list[Variant],
                 context: dict[int, list[tuple[str, float]]], lexicon: Lexicon,
                 morphemes: set[str], english: Lexicon | None = None) -> None:
        self._groups = groups
        self._variants = variants
        postings: dict[str, list[int]] = {}
        for vid, variant in enumerate(variants):
            for term in set(variant.terms):
                postings.setdefault(term, []).append(vid)
        context_postings: dict[str, dict[int, float]] = {}
        for gid, terms in context.items():
            for term, weight in terms:
                slot = context_postings.setdefault(term, {})
                slot[gid] = max(slot.get(gid, 0.0), weight)
        self._postings = postings
        self._context_postings = context_postings
        total = len(variants)
        idf = {term: math.log(1.0 + total / len(ids)) for term, ids in postings.items()}
        self._variant_weights = [
            tuple(idf[t] * (WEAK_WORD_WEIGHT if t in lexicon.weak else 1.0) for t in v.terms) for v in variants
        ]
        self._variant_size = [sum(w) for w in self._variant_weights]
        matcher = TermMatcher(set(postings) | set(context_postings), morphemes, lexicon)
        self._parsers: dict[str, QueryParser] = {"de": QueryParser(matcher, lexicon)}
        if english is not None:
            self._parsers["en"] = EnglishQueryParser(matcher, english, lexicon)
        # exact look-up by OZG-ID or LeiKa key: id -> [(group, variant)]
        self._by_id: dict[str, list[tuple[int, int]]] = {}
        for gid, group in enumerate(groups):
            if group.ozg_id and group.primary >= 0 and group.kind != "leika":
                self._by_id.setdefault(group.ozg_id, []).append((gid, group.primary))
        for vid, variant in enumerate(variants):
            if variant.leika_key:
                self._by_id.setdefault(variant.leika_key, []).append((variant.group, vid))

    # ------------------------------------------------------------------------------ loading
    @classmethod
    def load(cls, data_dir: Path | str,
             definitions: Mapping[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]] | None = None,
             ) -> SearchIndex:
        """Build the index from the catalog CSVs in ``data_dir`` and the service definitions.

        ``definitions`` may be a mapping service_id -> definition (as returned by
        ``services.catalog.definitions.load_definitions``) or an iterable of definitions.
        """
        return cls(*build(data_dir, definitions))

    # ------------------------------------------------------------------------------ search
    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._parsers)

    def search(self, query: str, offered: Mapping[str, str] | None = None, limit: int = 10,
               lang: str = "de") -> list[dict[str, Any]]:
        """Services matching a citizen's query, best first.

        ``offered`` maps service_id -> "own" | "district" for the definitions the current
        tenant or its district offers online; those rank first when relevant. ``lang`` is
        the query's language (``de``, ``en``); results are named in it where a name in it
        is known (``name_lang`` says which). Raises :class:`QueryError` for an empty query,
        a limit outside 1..100 or an unknown language.
        """
        if lang not in self._parsers:
            raise QueryError(detail=text("one_of", choices=", ".join(self._parsers)))
        if not isinstance(query, str) or not normalize(query).strip():
            raise QueryError(detail=text("query_empty"))
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(detail=text("limit_range", low=1, high=MAX_LIMIT))
        exact = _ID_QUERY.match(query)
        if exact:
            scored: dict[int, list[tuple[float, int]]] = {}
            for gid, vid in self._by_id.get(exact.group(1), ()):
                scored.setdefault(gid, []).append((1.0, vid))
        else:
            slots = self._parsers[lang].parse(query)
            scored = self._score(slots) if slots else {}
        return self._rank(scored, offered or {}, limit, lang) if scored else []

    def _score(self, slots: list[Slot]) -> dict[int, list[tuple[float, int]]]:
        """Best-scoring variants per group: {group id: [(score, variant id), ...] best first}."""
        variants = self._variants
        groups = self._groups
        direct: list[dict[int, float]] = []
        context: list[dict[int, float]] = []
        for slot in slots:
            best: dict[int, float] = {}
            best_context: dict[int, float] = {}
            for term, similarity in slot.matches.items():
                for vid in self._postings.get(term, ()):
                    if similarity > best.get(vid, 0.0):
                        best[vid] = similarity
                for gid, factor in self._context_postings.get(term, {}).items():
                    value = similarity * factor
                    if value > best_context.get(gid, 0.0):
                        best_context[gid] = value
            direct.append(best)
            context.append(best_context)
        # a slot's weight is its idf over the variants it actually matches (compounds and
        # synonyms included), so "Kita" counts like the Kindertages... services it stands for
        total = len(variants)
        weights = []
        for slot, best, best_context in zip(slots, direct, context, strict=True):
            soft_count = sum(best.values()) + sum(best_context.values())
            weights.append(math.log(1.0 + total / (1.0 + soft_count)) * slot.factor)
        total_weight = sum(weights) or 1.0

        # coverage: weighted share of slots matched, by name (direct) or by context of the group
        candidates: dict[int, list[int]] = {}  # group -> candidate variants
        coverage: dict[int, float] = {}
        for best in direct:
            for vid in best:
                if vid not in coverage:
                    coverage[vid] = 0.0
                    candidates.setdefault(variants[vid].group, []).append(vid)
        for best_context in context:
            for gid in best_context:
                primary = groups[gid].primary
                if gid not in candidates and primary >= 0:
                    coverage[primary] = 0.0
                    candidates[gid] = [primary]
        for slot_weight, best, best_context in zip(weights, direct, context, strict=True):
            weight = slot_weight / total_weight
            for vid, similarity in best.items():
                coverage[vid] += weight * similarity
            for gid, value in best_context.items():
                for vid in candidates.get(gid, ()):
                    gain = value - best.get(vid, 0.0)
                    if gain > 0.0:
                        coverage[vid] += weight * gain
        top = heapq.nlargest(RERANK_CANDIDATES, coverage.items(), key=lambda item: item[1])

        # precision: weighted share of the variant's own words the query matched
        term_best: dict[str, float] = {}
        for slot in slots:
            for term, similarity in slot.matches.items():
                if similarity > term_best.get(term, 0.0):
                    term_best[term] = similarity
        scored: dict[int, list[tuple[float, int]]] = {}
        for vid, value in top:
            size = self._variant_size[vid]
            weights = self._variant_weights[vid]
            matched = sum(w * term_best.get(t, 0.0) for t, w in zip(variants[vid].terms, weights, strict=True))
            precision = matched / size if size else 0.0
            score = value * (1.0 - PRECISION_SHARE + PRECISION_SHARE * precision)
            scored.setdefault(variants[vid].group, []).append((score, vid))
        for ranked in scored.values():
            ranked.sort(reverse=True)
        return scored

    def _rank(self, scored: dict[int, list[tuple[float, int]]], offered: Mapping[str, str],
              limit: int, lang: str = "de") -> list[dict[str, Any]]:
        groups = self._groups
        best_score = max(ranked[0][0] for ranked in scored.values())
        floor = best_score * MIN_RESULT_SHARE
        relevant = best_score * RELEVANT_SHARE
        definition_keys = {groups[g].leika_key for g, ranked in scored.items()
                           if groups[g].kind == "definition" and groups[g].leika_key and ranked[0][0] >= floor}
        chosen: list[tuple[int, float, int]] = []
        for gid, ranked in scored.items():
            if groups[gid].kind != "definition":
                # a LeiKa service that is also a definition in the result is shown only once
                ranked = [(s, v) for s, v in ranked
                          if not self._variants[v].leika_key or self._variants[v].leika_key not in definition_keys]
            if ranked and ranked[0][0] >= floor:
                chosen.append((gid, *ranked[0]))

        def sort_key(item: tuple[int, float, int]) -> tuple[int, float, int, int, str]:
            gid, score, _ = item
            group = groups[gid]
            tier = TIERS.get(offered.get(group.service_id or "", ""), 2) if score >= relevant else 2
            return (tier, -round(score, 6), 0 if group.kind == "definition" else 1, len(group.name), group.name)

        results: list[dict[str, Any]] = []
        for gid, score, vid in sorted(chosen, key=sort_key)[:limit]:
            group = groups[gid]
            variant = self._variants[vid]
            definition = group.kind == "definition"
            name, name_lang = group.name if definition else variant.name, "de"
            if lang == "en" and group.name_en:
                name, name_lang = group.name_en, "en"
            results.append({
                "service_id": group.service_id,
                "ozg_id": group.ozg_id,
                "leika_key": group.leika_key if definition else variant.leika_key,
                "name": name,
                "name_lang": name_lang,
                "ozg_name": group.ozg_name,
                "kind": group.kind,
                "offered": offered.get(group.service_id) if group.service_id else None,
                "score": round(score, 4),
            })
        return results
