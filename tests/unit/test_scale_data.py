"""The scale bench's synthetic Germany (bench/scale_data.py): valid-format keys, every Land,
every municipality in a hosted district, and sizes skewed like reality."""

from __future__ import annotations

import itertools
from collections import Counter

from bench.scale_data import LAENDER, SERVICES, case_counts, check_keys, generate, own_cases, pick, plan_cases

GERMANY = generate(10_800)


def test_every_key_has_a_valid_format_and_matches_its_ars():
    assert [p for t in GERMANY.tenants for p in check_keys(t)] == []
    assert len({t.ags for t in GERMANY.tenants}) == len(GERMANY.tenants)
    assert len({t.code for t in GERMANY.tenants}) == len(GERMANY.tenants)


def test_all_sixteen_laender_have_municipalities_and_a_district():
    assert {t.land for t in GERMANY.gemeinden} == {land[0] for land in LAENDER}
    assert {t.land for t in GERMANY.districts} == {land[0] for land in LAENDER}
    assert 10_500 <= len(GERMANY.gemeinden) <= 11_100


def test_every_municipality_lies_in_a_district_of_its_own_land():
    districts = {t.ags: t for t in GERMANY.districts}
    for tenant in GERMANY.gemeinden:
        district = districts[tenant.district_ags]
        assert district.kind == "landkreis" and tenant.ags[:5] == district.ags[:5]


def test_hosted_keys_and_codes_are_left_alone():
    germany = generate(500, taken_prefixes=frozenset({"03151"}), taken_codes=frozenset({"X0001", "Q0001"}))
    assert not any(t.ags.startswith("03151") for t in germany.tenants)
    assert not {"X0001", "Q0001"} & {t.code for t in germany.tenants}


def test_cases_are_skewed_a_few_towns_many_villages():
    counts = case_counts(GERMANY, 1_000_000)
    sizes = sorted(counts.values(), reverse=True)
    assert sum(sizes) == 1_000_000
    assert sizes[0] > 50_000 and sizes[len(sizes) // 2] < 50  # Zipf-like: the largest ≫ the median
    assert sum(sizes[:100]) > sum(sizes[5_000:])  # 100 towns carry more than the 5,800 smallest
    assert 40 <= own_cases(counts[pick(counts, 50)]) <= 60


def test_the_case_plan_mixes_services_and_statuses_by_age():
    counts = case_counts(GERMANY, 20_000)
    plan = list(plan_cases(counts))
    assert len(plan) == 20_000 and Counter(p.portal for p in plan) == Counter(counts)
    assert {p.service_id for p in plan} == set(SERVICES)
    statuses = Counter(p.status for p in plan)
    assert set(statuses) == {"submitted", "in_review", "information_requested", "approved", "rejected", "withdrawn"}
    old, recent = plan[:1000], plan[-1000:]
    assert max(p.age_days for p in recent) < min(p.age_days for p in old)
    assert sum(p.status == "approved" for p in old) > sum(p.status == "approved" for p in recent)
    # a part of the plan is the same as that part of the whole plan
    assert list(plan_cases(counts, start=500, stop=600)) == list(itertools.islice(plan, 500, 600))
