"""Catalog search: citizen-language search over the OZG/LeiKa catalog and the platform's
service definitions (:mod:`.index`, built by :mod:`.build`, reading queries with
:mod:`.query`, :mod:`.matcher` and :mod:`.text`), wired to tenants by :mod:`.finder`, and
measured offline by :mod:`.evaluation` (``python -m services.catalog.search``)."""

from services.catalog.search.evaluation import DEFAULT_CASES, evaluate, load_cases, percentile
from services.catalog.search.finder import ServiceFinder
from services.catalog.search.index import QueryError, SearchIndex
from services.catalog.search.text import Lexicon, ellipsis_words, normalize, osa_distance, stem, words

__all__ = [
    "DEFAULT_CASES",
    "Lexicon",
    "QueryError",
    "SearchIndex",
    "ServiceFinder",
    "ellipsis_words",
    "evaluate",
    "load_cases",
    "normalize",
    "osa_distance",
    "percentile",
    "stem",
    "words",
]
