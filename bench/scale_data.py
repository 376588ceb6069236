"""Synthetic Germany for ``make bench-scale``: ~10,800 municipalities (Gemeinden) in all 16
Länder, each inside a district (Landkreis) tenant, with valid-format keys, Zipf-like sizes
and a case plan (service, final status, age) skewed like reality: a few large towns with
tens of thousands of cases, many villages with a few dozen.

Pure and deterministic (seeded), so that a unit test can check it without a database and a
bench run can tell in advance which tenant is "the village" and which "the town".

Keys (format only; the names and numbers are invented, not the official ones):
- AGS, 8 digits: Land 2, Regierungsbezirk 1, Kreis 2, Gemeinde 3 (a district: Gemeinde 000);
- ARS, 12 digits: Land 2, Regierungsbezirk 1, Kreis 2, Gemeindeverband 4, Gemeinde 3
  (a verbandsfreie Gemeinde: Verband ``0`` + its Gemeinde number, otherwise 5001…).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

AGS_RE = re.compile(r"^(\d{2})(\d)(\d{2})(\d{3})$")
ARS_RE = re.compile(r"^(\d{2})(\d)(\d{2})(\d{4})(\d{3})$")

# Land: (key, name, municipalities in reality (rounded), districts, Regierungsbezirke)
LAENDER = (
    ("01", "Schleswig-Holstein", 1106, 11, 0),
    ("02", "Hamburg", 1, 1, 0),
    ("03", "Niedersachsen", 942, 36, 0),
    ("04", "Bremen", 2, 1, 0),
    ("05", "Nordrhein-Westfalen", 396, 31, 5),
    ("06", "Hessen", 421, 21, 3),
    ("07", "Rheinland-Pfalz", 2301, 24, 0),
    ("08", "Baden-Württemberg", 1101, 35, 4),
    ("09", "Bayern", 2056, 71, 7),
    ("10", "Saarland", 52, 6, 0),
    ("11", "Berlin", 1, 1, 0),
    ("12", "Brandenburg", 411, 14, 0),
    ("13", "Mecklenburg-Vorpommern", 726, 6, 0),
    ("14", "Sachsen", 418, 10, 0),
    ("15", "Sachsen-Anhalt", 218, 11, 0),
    ("16", "Thüringen", 605, 17, 0),
)
SYLLABLES = ("Al", "Ber", "dorf", "Hau", "sen", "Kirch", "heim", "Lin", "den", "Mar", "bach", "Nie", "der",
             "Ost", "er", "Ro", "feld", "Sand", "stedt", "Tal", "hof", "Wie", "sen", "burg", "Eich", "hagen")
# the services the bench can fill in (tests/examples.py), with their level and share of cases
SERVICES = {"hundeanmeldung": 0.30, "meldebescheinigung": 0.25, "gewerbeanmeldung": 0.10,
            "sperrmuell": 0.25, "elterngeld": 0.10}
DISTRICT_SERVICES = frozenset({"sperrmuell", "elterngeld"})
# final status of a case by its age: the older, the more likely decided (shares per bucket)
STATUS_BY_AGE = (  # (up to days, {status: share})
    (7, {"submitted": 0.70, "in_review": 0.25, "information_requested": 0.02, "withdrawn": 0.03}),
    (30, {"submitted": 0.20, "in_review": 0.35, "information_requested": 0.10, "approved": 0.27,
          "rejected": 0.04, "withdrawn": 0.04}),
    (120, {"submitted": 0.04, "in_review": 0.10, "information_requested": 0.06, "approved": 0.65,
           "rejected": 0.09, "withdrawn": 0.06}),
    (730, {"submitted": 0.005, "in_review": 0.01, "information_requested": 0.005, "approved": 0.82,
           "rejected": 0.10, "withdrawn": 0.06}),
)
MAX_AGE_DAYS = STATUS_BY_AGE[-1][0]
# villages (below this population) do not offer a residents' parking permit
PARKING_MIN_POPULATION = 20_000


@dataclass(frozen=True)
class SynthTenant:
    ags: str
    ars: str
    name: str
    code: str
    kind: str  # gemeinde | landkreis
    land: str
    district_ags: str | None
    population: int
    withdrawn: tuple[str, ...] = ()  # services the catalog offers the level but this tenant does not

    def row(self) -> dict[str, object]:
        """What the catalog's tenant registration takes."""
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        return {"ags": self.ags, "name": self.name, "code": self.code, "kind": self.kind,
                "district_ags": self.district_ags, "slug": f"{slug}-{self.ags}",
                "email": f"rathaus-{self.ags}@synth.example"}


@dataclass
class Germany:
    tenants: list[SynthTenant]
    weights: dict[str, float] = field(default_factory=dict)  # gemeinde AGS → share of cases

    @property
    def gemeinden(self) -> list[SynthTenant]:
        return [t for t in self.tenants if t.kind == "gemeinde"]

    @property
    def districts(self) -> list[SynthTenant]:
        return [t for t in self.tenants if t.kind == "landkreis"]


def _code(prefix: str, number: int) -> str:
    """Tenant code (``^[A-Z][A-Z0-9]{1,4}$``): prefix + 4 base-36 digits."""
    digits = ""
    for _ in range(4):
        number, rest = divmod(number, 36)
        digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + digits
    return prefix + digits


def _name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()


def scaled_counts(total: int) -> list[int]:
    """Municipalities per Land for ``total`` (real proportions, at least one per Land)."""
    real = sum(land[2] for land in LAENDER)
    return [max(1, round(land[2] * total / real)) for land in LAENDER]


def generate(total: int = 10_800, seed: int = 12, taken_prefixes: frozenset[str] = frozenset(),
             taken_codes: frozenset[str] = frozenset(), zipf_s: float = 1.0) -> Germany:
    """~``total`` Gemeinden (+ their districts). ``taken_prefixes``: 5-digit AGS prefixes
    (Land+RB+Kreis) already hosted, skipped so no synthetic key collides with a real tenant."""
    rng = random.Random(seed)
    tenants: list[SynthTenant] = []
    gemeinden: list[dict[str, object]] = []
    district_no = 0
    for (land, land_name, _, districts, regbez), count in zip(LAENDER, scaled_counts(total), strict=True):
        n_districts = max(1, min(districts, count))
        per_district = [count // n_districts + (1 if i < count % n_districts else 0) for i in range(n_districts)]
        kreis_in_rb: dict[int, int] = {}
        for d, size in enumerate(per_district):
            rb = (d % regbez) + 1 if regbez else 0
            while True:  # Kreis numbers 51… inside a Regierungsbezirk; skip hosted ones
                kreis = 51 + kreis_in_rb.get(rb, 0)
                kreis_in_rb[rb] = kreis_in_rb.get(rb, 0) + 1
                prefix = f"{land}{rb}{kreis:02d}"
                if prefix not in taken_prefixes:
                    break
            if kreis > 99:
                raise ValueError(f"too many districts in {land_name} RB {rb}")
            district_no += 1
            code = _code("X", district_no)
            while code in taken_codes:
                district_no += 1
                code = _code("X", district_no)
            district_ags = f"{prefix}000"
            tenants.append(SynthTenant(district_ags, f"{prefix}0000000", f"Landkreis {_name(rng)} ({land_name})",
                                       code, "landkreis", land, None, 0))
            verband, in_verband = 5000, 8
            for g in range(1, size + 1):
                if g > 999:
                    raise ValueError("more than 999 Gemeinden in one district")
                if in_verband >= 8:
                    verband, in_verband = verband + 1, 0
                in_verband += 1
                gemeinden.append({"ags": f"{prefix}{g:03d}", "prefix": prefix, "g": g, "verband": verband,
                                  "land": land, "district": district_ags})
    # Zipf-like sizes: rank r gets 1/r^s; ranks shuffled over the country (seeded)
    ranks = list(range(1, len(gemeinden) + 1))
    rng.shuffle(ranks)
    harmonic = sum(1 / r**zipf_s for r in ranks)
    weights: dict[str, float] = {}
    code_no = 0
    for spec, rank in zip(gemeinden, ranks, strict=True):
        population = max(150, int(3_700_000 / rank**zipf_s))
        # towns are verbandsfrei (Verband "0" + Gemeinde number); villages belong to a Verband
        verband = f"0{spec['g']:03d}" if population >= 20_000 else f"{spec['verband']:04d}"
        code_no += 1
        code = _code("Q", code_no)
        while code in taken_codes:
            code_no += 1
            code = _code("Q", code_no)
        withdrawn = ("bewohnerparkausweis",) if population < PARKING_MIN_POPULATION else ()
        ags = str(spec["ags"])
        tenants.append(SynthTenant(ags, f"{spec['prefix']}{verband}{spec['g']:03d}", _name(rng), code, "gemeinde",
                                   str(spec["land"]), str(spec["district"]), population, withdrawn))
        weights[ags] = 1 / rank**zipf_s / harmonic
    return Germany(tenants, weights)


def case_counts(germany: Germany, cases: int) -> dict[str, int]:
    """Cases submitted through each Gemeinde's portal (largest remainder, sums to ``cases``)."""
    exact = {ags: w * cases for ags, w in germany.weights.items()}
    counts = {ags: int(v) for ags, v in exact.items()}
    short = cases - sum(counts.values())
    for ags in sorted(exact, key=lambda a: exact[a] - counts[a], reverse=True)[:short]:
        counts[ags] += 1
    return counts


def own_cases(count: int) -> int:
    """Of ``count`` cases through a Gemeinde's portal, those its own worklist gets (the
    district's services go to the Landkreis)."""
    return round(count * (1 - sum(SERVICES[s] for s in DISTRICT_SERVICES)))


def pick(counts: dict[str, int], target: int) -> str:
    """The Gemeinde whose own worklist is closest to ``target`` cases."""
    return min(counts, key=lambda ags: (abs(own_cases(counts[ags]) - target), ags))


@dataclass(frozen=True)
class PlannedCase:
    portal: str
    service_id: str
    status: str
    age_days: float
    applicant: int  # synthetic applicant number (many applicants with a few cases each)


def status_for(age_days: float, rng: random.Random) -> str:
    shares = next((s for limit, s in STATUS_BY_AGE if age_days <= limit), STATUS_BY_AGE[-1][1])
    roll, acc = rng.random(), 0.0
    for status, share in shares.items():
        acc += share
        if roll < acc:
            return status
    return next(iter(shares))


def plan_cases(counts: dict[str, int], seed: int = 12, start: int = 0, stop: int | None = None) -> Iterator[PlannedCase]:
    """The case plan, oldest first, as a stream: each portal exactly its count of cases,
    interleaved by a seeded shuffle; ages spread over two years with more recent cases
    (demand grew with the portal); statuses by age. ``start``/``stop`` select a part
    (the same cases as that part of the whole plan)."""
    total = sum(counts.values())
    stop = total if stop is None else min(stop, total)
    portals = [ags for ags in counts for _ in range(counts[ags])]
    random.Random(seed).shuffle(portals)
    services = list(SERVICES)
    service_weights = [SERVICES[s] for s in services]
    applicants = max(2, int(total * 0.6))  # applicant 0: the bench's citizen, about a dozen cases
    for i in range(start, stop):
        local = random.Random(seed * 1_000_003 + i)  # per index: a part needs no parts before it
        age = MAX_AGE_DAYS * (1 - math.sqrt((i + 0.5) / total))  # i=0 oldest; recent months carry more
        service = local.choices(services, service_weights)[0]
        applicant = 0 if local.random() < 12 / total else local.randrange(1, applicants)
        yield PlannedCase(portals[i], service, status_for(age, local), age, applicant)


def submitted_at(age_days: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=age_days)


def check_keys(tenant: SynthTenant) -> list[str]:
    """What is wrong with a tenant's keys (empty: valid format and consistent)."""
    problems = []
    ags, ars = AGS_RE.match(tenant.ags), ARS_RE.match(tenant.ars)
    if not ags:
        problems.append(f"AGS {tenant.ags!r} is not 8 digits")
    if not ars:
        problems.append(f"ARS {tenant.ars!r} is not 12 digits")
    if ags and ars:
        if ags.group(1, 2, 3) != ars.group(1, 2, 3) or ags.group(4) != ars.group(5):
            problems.append(f"ARS {tenant.ars} does not match AGS {tenant.ags}")
        if not 1 <= int(ags.group(1)) <= 16:
            problems.append(f"Land {ags.group(1)} is not one of 01..16")
        if tenant.kind == "landkreis" and (ags.group(4) != "000" or ars.group(4) != "0000"):
            problems.append(f"district {tenant.ags} has a Gemeinde part")
        if tenant.kind == "gemeinde" and ags.group(4) == "000":
            problems.append(f"Gemeinde {tenant.ags} has Gemeinde number 000")
    return problems
