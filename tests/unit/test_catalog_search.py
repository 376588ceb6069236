"""Citizen-language catalog search: compounds, inflection, umlauts, typos, synonyms, tenant tiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalog.definitions import load_definitions
from services.catalog.search import (
    DEFAULT_CASES,
    Lexicon,
    QueryError,
    SearchIndex,
    ellipsis_words,
    evaluate,
    load_cases,
    normalize,
    osa_distance,
    stem,
    words,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "services" / "catalog" / "data"
RESULT_KEYS = {"service_id", "ozg_id", "leika_key", "name", "name_lang", "score", "offered", "kind", "ozg_name"}


@pytest.fixture(scope="module")
def definitions() -> dict:
    return load_definitions()


@pytest.fixture(scope="module")
def index(definitions: dict) -> SearchIndex:
    return SearchIndex.load(DATA_DIR, definitions)


def top(index: SearchIndex, query: str, n: int = 1, offered: dict[str, str] | None = None) -> list[dict]:
    return index.search(query, offered, limit=n)


def top_services(index: SearchIndex, query: str, n: int = 3) -> list[str | None]:
    return [r["service_id"] for r in top(index, query, n)]


def top_ozg(index: SearchIndex, query: str, n: int = 3) -> list[str | None]:
    return [r["ozg_id"] for r in top(index, query, n)]


# -- text handling ----------------------------------------------------------------------------
def test_normalize_folds_umlauts_sharp_s_and_accents() -> None:
    assert normalize("Straße Öl Müll ÄRGER Café") == "strasse oel muell aerger cafe"
    assert words("Kfz-Steuer, Führungszeugnis!") == ["kfz", "steuer", "fuehrungszeugnis"]


@pytest.mark.parametrize(("a", "b"), [
    ("anmelden", "anmeldung"), ("hunde", "hund"), ("ausweises", "ausweis"), ("kinder", "kind"),
    ("gebühren", "gebühr"), ("anmeldungen", "anmelden"),
])
def test_stemmer_merges_inflected_forms(a: str, b: str) -> None:
    assert stem(normalize(a)) == stem(normalize(b))


def test_stemmer_keeps_different_words_apart() -> None:
    assert stem("perso") != stem("personen")
    assert stem("anmelden") != stem("abmelden")


def test_osa_distance() -> None:
    assert osa_distance("fuerungszeugnis", "fuehrungszeugnis", 2) == 1
    assert osa_distance("hnud", "hund", 2) == 1  # transposition
    assert osa_distance("hund", "katze", 2) == 3  # capped at limit + 1


def test_ellipsis_compounds() -> None:
    known = {"gewebe", "spendeausweis", "bescheinigung", "melde", "anerkennung", "mutterschaft"}
    assert ellipsis_words("Organ- und Gewebespendeausweis", known, set()) == ["organspendeausweis"]
    assert ellipsis_words("Meldebescheinigung und -registerauskunft", known, set()) == ["melderegisterauskunft"]
    assert ellipsis_words("Vaterschafts-/Mutterschaftsanerkennung", known, set()) == ["vaterschaftsanerkennung"]


def test_lexicon_rejects_multi_word_synonym_targets(tmp_path: Path) -> None:
    path = tmp_path / "lexicon.yaml"
    path.write_text("synonyms:\n  auto: [kraftfahrzeug zulassung]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="single word"):
        Lexicon.load(path)


# -- queries ----------------------------------------------------------------------------------
def test_hund_anmelden_finds_dog_registration_first(index: SearchIndex) -> None:
    assert top_services(index, "Hund anmelden", 1) == ["hundeanmeldung"]
    assert top_services(index, "hund abmelden", 1) == ["hundeabmeldung"]


@pytest.mark.parametrize("query", ["Hundeanmeldung", "Hunde anmelden", "hund angemeldet", "Anmeldung Hund"])
def test_compounds_and_inflection(index: SearchIndex, query: str) -> None:
    assert top_services(index, query, 1) == ["hundeanmeldung"]


@pytest.mark.parametrize("query", ["Ausweis verloren", "Personalausweis verloren", "perso verloren",
                                   "Personalausweis gestohlen", "ausweis geklaut"])
def test_lost_identity_card(index: SearchIndex, query: str) -> None:
    assert top_services(index, query, 1) == ["personalausweis-verlust"]


def test_lost_identity_card_in_catalog_words(index: SearchIndex) -> None:
    # "Personalausweis Ausstellung neu wegen Verlust" (LeiKa) is an equally right first answer
    results = top(index, "Verlust Personalausweis", 2)
    assert results[0]["ozg_id"] == "10119"
    assert "personalausweis-verlust" in [r["service_id"] for r in results]


@pytest.mark.parametrize("variants", [
    ("Führungszeugnis", "Fuehrungszeugnis", "FÜHRUNGSZEUGNIS", "führungszeugnisse"),
    ("Sperrmüll", "Sperrmuell", "sperrmüll"),
    ("Straßenfest", "Strassenfest"),
    ("Bafög", "BAfoeG"),
])
def test_umlaut_and_case_spellings_give_the_same_results(index: SearchIndex, variants: tuple[str, ...]) -> None:
    results = [[(r["service_id"], r["ozg_id"], r["name"]) for r in index.search(v, None, limit=5)] for v in variants]
    assert results[0]
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize(("query", "ozg_id"), [
    ("Fürungszeugnis", "10562"), ("fuhrungszeugnis", "10562"), ("hundeanmeldng", "10160"),
    ("reisepas beantragen", "10177"), ("sperrmül anmelden", "10110"), ("bewohnerparkausweiss", "10173"),
])
def test_typos(index: SearchIndex, query: str, ozg_id: str) -> None:
    assert top_ozg(index, query, 1) == [ozg_id]


@pytest.mark.parametrize(("query", "expected"), [
    ("Umzug", {"10124"}),
    ("Baby", {"10000", "10003", "10557", "10005"}),
    ("Hochzeit", {"10026", "10025"}),
    ("Auto", {"10439"}),
    ("kita platz", {"10019"}),
    ("gelber sack", {"10110"}),
    ("steuer id vergessen", {"10081"}),
])
def test_synonyms_and_lebenslagen(index: SearchIndex, query: str, expected: set[str]) -> None:
    assert expected & set(top_ozg(index, query, 3))


def test_results_have_the_documented_shape(index: SearchIndex) -> None:
    results = index.search("gewerbe anmelden", None, limit=10)
    assert results and len(results) <= 10
    for result in results:
        assert set(result) == RESULT_KEYS
        assert result["kind"] in {"definition", "ozg", "leika"}
        assert (result["service_id"] is not None) == (result["kind"] == "definition")
        assert result["leika_key"] is None or len(result["leika_key"]) == 14
        assert 0.0 < result["score"] <= 1.0
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)  # without offered services: by score


def test_catalog_entry_of_a_definition_is_not_repeated(index: SearchIndex) -> None:
    results = index.search("gewerbe anmelden", None, limit=20)
    keys = [r["leika_key"] for r in results if r["leika_key"]]
    assert len(keys) == len(set(keys))
    assert results[0]["service_id"] == "gewerbeanmeldung"


def test_tenant_services_rank_first_then_district_then_catalog(index: SearchIndex) -> None:
    offered = {"hundeabmeldung": "own", "hundeanmeldung": "district"}
    results = index.search("Hund", offered, limit=5)
    assert [r["service_id"] for r in results[:2]] == ["hundeabmeldung", "hundeanmeldung"]
    assert [r["offered"] for r in results[:2]] == ["own", "district"]
    assert all(r["offered"] is None for r in results[2:])


def test_offered_services_are_promoted_only_when_relevant(index: SearchIndex) -> None:
    # an offered service that matches only "anmelden" does not push the Gewerbe services down
    results = index.search("gewerbe anmelden", {"hundeanmeldung": "own", "kita-anmeldung": "district"}, limit=5)
    assert results[0]["service_id"] == "gewerbeanmeldung"
    assert "hundeanmeldung" not in [r["service_id"] for r in results[:3]]
    # a weaker but relevant offered service outranks a better catalog entry
    results = index.search("personalausweis", {"personalausweis-verlust": "own"}, limit=3)
    assert results[0]["service_id"] == "personalausweis-verlust"


def test_exact_ozg_id_and_leika_key(index: SearchIndex) -> None:
    assert {r["ozg_id"] for r in index.search("10160", None)} == {"10160"}
    assert index.search("99008001014002", None)[0]["service_id"] == "personalausweis-verlust"
    assert index.search("99999", None) == []


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_empty_query_raises(index: SearchIndex, query: str) -> None:
    with pytest.raises(QueryError) as refused:
        index.search(query, None)
    assert (refused.value.code, refused.value.params["detail"]["text"]) == ("invalid_query", "query_empty")


def test_non_string_query_and_bad_limit_raise(index: SearchIndex) -> None:
    with pytest.raises(QueryError):
        index.search(None, None)  # type: ignore[arg-type]
    with pytest.raises(QueryError) as refused:
        index.search("hund", None, limit=0)
    assert refused.value.params["detail"]["text"] == "limit_range"


@pytest.mark.parametrize("query", ["ich will das", "?!", "xyzqwv", "a"])
def test_queries_without_meaning_return_nothing(index: SearchIndex, query: str) -> None:
    assert index.search(query, None) == []


def test_very_long_query_is_cut_not_rejected(index: SearchIndex) -> None:
    assert index.search("hund anmelden " + "bitte " * 200, None, limit=1)[0]["service_id"] == "hundeanmeldung"


def test_junk_rows_of_the_source_data_are_not_indexed(index: SearchIndex) -> None:
    assert all("Test 124" not in r["name"] for r in index.search("test 124", None, limit=20))


def test_index_works_without_definitions_and_with_a_list(definitions: dict) -> None:
    plain = SearchIndex.load(DATA_DIR, None)
    results = plain.search("Hund anmelden", None, limit=3)
    assert results[0]["ozg_id"] == "10160"
    assert all(r["service_id"] is None for r in results)
    from_list = SearchIndex.load(DATA_DIR, list(definitions.values()))
    assert from_list.search("Hund anmelden", None, limit=3)[0]["service_id"] == "hundeanmeldung"


# -- evaluation set ---------------------------------------------------------------------------
def test_eval_set_is_large_enough_and_references_real_services() -> None:
    import csv

    cases = load_cases(DEFAULT_CASES)
    with (DATA_DIR / "ozg_leistungen.csv").open(encoding="utf-8", newline="") as handle:
        ozg_ids = {row["ozg_id"] for row in csv.DictReader(handle)}
    assert len(cases) >= 60
    assert len({c["query"] for c in cases}) == len(cases)
    for case in cases:
        assert case["expected"] and set(case["expected"]) <= ozg_ids, case


def test_recall_at_5_on_the_eval_set(index: SearchIndex) -> None:
    report = evaluate(index, load_cases(DEFAULT_CASES))
    assert report["n"] >= 60
    assert report["recall_at_5"] >= 0.9, report["misses"]
    assert report["mrr"] >= 0.8


def test_every_language_and_sentences_are_measured_apart(index: SearchIndex) -> None:
    from services.catalog.search.evaluation import evaluate_groups

    groups = evaluate_groups(index, load_cases(DEFAULT_CASES))
    assert set(groups) == {"de", "de_sentence", "en", "all"}
    assert groups["en"]["n"] >= 50 and groups["de_sentence"]["n"] >= 20
    for name in ("de", "de_sentence", "en"):
        assert groups[name]["recall_at_5"] >= 0.9, (name, groups[name]["misses"])


# -- English and whole sentences (issue #14) ---------------------------------------------------
@pytest.mark.parametrize(("a", "b"), [("moving", "move"), ("moved", "moves"), ("certificates", "certificate"),
                                      ("licences", "licence"), ("taxes", "tax"), ("allowances", "allowance")])
def test_english_stemmer_merges_inflected_forms(a: str, b: str) -> None:
    from services.catalog.search.text import stem_en

    assert stem_en(a) == stem_en(b)


def test_separable_verbs_are_joined_again() -> None:
    from services.catalog.search.text import join_separable

    assert join_separable(words("ich ziehe nach Vechta um")) == ["ich", "umziehe", "nach", "vechta"]
    assert join_separable(words("melde meinen Hund an")) == ["anmelde", "meinen", "hund"]
    assert join_separable(words("Hund an")) == ["hund", "an"]  # too short to be a sentence
    assert join_separable(words("hund anmelden")) == ["hund", "anmelden"]


@pytest.mark.parametrize(("query", "ozg_id", "service_id"), [
    ("dog tax", "10160", "hundeanmeldung"),
    ("postal vote", "10145", "briefwahl"),
    ("I lost my id card", "10119", "personalausweis-verlust"),
    ("birth certificate", "10557", None),
    ("parental allowance", "10000", "elterngeld"),
    ("I am moving to Vechta", "10124", None),
    ("business registration", "10294", "gewerbeanmeldung"),
    ("certificate of good conduct", "10562", "fuehrungszeugnis"),
    ("daycare", "10019", "kita-anmeldung"),
])
def test_english_queries_find_the_service(index: SearchIndex, query: str, ozg_id: str, service_id: str | None) -> None:
    offered = {service_id: "own"} if service_id else None  # on the portal of a tenant offering it
    (first,) = index.search(query, offered, limit=1, lang="en")
    assert (first["ozg_id"], first["service_id"]) == (ozg_id, service_id), first


def test_english_results_are_named_in_english_where_known(index: SearchIndex) -> None:
    (dog,) = index.search("dog tax", None, limit=1, lang="en")
    assert (dog["name"], dog["name_lang"]) == ("Register a dog (dog tax)", "en")
    (german,) = index.search("Hundesteuer", None, limit=1)
    assert german["name_lang"] == "de" and german["name"] != dog["name"]
    hits = index.search("fishing licence", None, limit=10, lang="en")
    assert {h["name_lang"] for h in hits} <= {"de", "en"} and hits[0]["name"] == "Fishing licence"


def test_german_words_on_the_english_portal_and_english_typos(index: SearchIndex) -> None:
    assert index.search("Elterngeld", None, limit=1, lang="en")[0]["ozg_id"] == "10000"
    assert index.search("birth certifcate", None, limit=1, lang="en")[0]["ozg_id"] == "10557"
    assert index.search("the and of", None, limit=5, lang="en") == []


def test_sentences_in_german(index: SearchIndex) -> None:
    assert index.search("ich ziehe nach Vechta um", None, limit=1)[0]["ozg_id"] == "10124"
    assert index.search("ich melde meinen Hund ab", None, limit=1)[0]["ozg_id"] == "10160"


def test_an_unknown_query_language_is_refused(index: SearchIndex) -> None:
    with pytest.raises(QueryError):
        index.search("chien", None, limit=1, lang="fr")
