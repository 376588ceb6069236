"""Worklist queries with many cases. Loading goes through ``SubmissionsApp.submit_batch`` in
the bench process (batches of 500: the service's own code without HTTP and RPC) with a local
resolver over the catalog application; ~6 % of the cases are then moved on (review, question,
approval) with the domain methods, so that status filters, due dates and closed cases find
something. All of it reaches the worklist the real way (event store → relay → RabbitMQ →
projector); then page queries are timed via HTTP and directly on :class:`CaseReadModels`."""

from __future__ import annotations

import cProfile
import random
import time
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.application import AggregateNotFoundError
from tqdm import tqdm

from bench.common import TENANTS, latency_summary
from bench.profiling import cprofile_summary
from services.common import db
from services.common.db import ReadStore
from services.submissions.application import SubmissionsApp, open_submissions
from services.submissions.commands import Offering, SubmitCommand
from services.submissions.domain import ReferenceSequence
from services.submissions.projections import CaseReadModels
from tests.examples import form

BATCH = 500
SPERRMUELL = {  # Landkreis level: a Gemeinde portal routes it to its Landkreis's worklist
    "first_name": "Erika", "last_name": "Mustermann", "street": "Große Straße", "house_number": "12a",
    "postal_code": "49377", "city": "Vechta", "email": "erika.mustermann@example.org", "waste_types": "furniture",
    "volume_m3": 2.5, "items": "1 Sofa, 2 Stühle, 1 Matratze", "is_owner_or_tenant": True,
}
# per 10 cases: 5 Hundeanmeldung, 3 Meldebescheinigung, 2 Sperrmüll
MIX = ("hundeanmeldung",) * 5 + ("meldebescheinigung",) * 3 + ("sperrmuell",) * 2


def local_resolver() -> Any:
    """Offerings from the catalog application in-process (the catalog service's own code)."""
    from services.catalog.application import CatalogApp

    catalog = CatalogApp(db.eventstore_env("catalog"))
    cache: dict[tuple[str, str], Offering] = {}

    def resolve(portal: str, service_id: str) -> Offering:
        key = (portal, service_id)
        if key not in cache:
            cache[key] = Offering.from_catalog(catalog.resolve(portal, service_id))
        return cache[key]

    return resolve


def caught_up(app: SubmissionsApp, models: CaseReadModels) -> tuple[int, int]:
    head = app.recorder.max_notification_id() or 0
    return head, min(models.positions().values(), default=0)


def wait_projected(app: SubmissionsApp, models: CaseReadModels, desc: str, timeout: float = 300) -> float:
    """Wait until the projector's tracking position reached the event store's head."""
    began = time.monotonic()
    head, position = caught_up(app, models)
    with tqdm(total=head, initial=position, desc=desc, unit="ev", leave=False) as bar:
        while position < head and time.monotonic() - began < timeout:
            time.sleep(0.2)
            _, new = caught_up(app, models)
            bar.update(new - position)
            position = new
    return time.monotonic() - began


def load_cases(total: int, portals: tuple[str, ...], profile_batches: int = 10) -> dict[str, Any]:
    """Top the worklist up to ``total`` cases: Gemeinde portals, three services, so that the
    Landkreise get the Sperrmüll cases of their Gemeinden (25 tenants' worklists in all)."""
    app = open_submissions()
    models = CaseReadModels(ReadStore("submissions"))
    resolve = local_resolver()
    existing = int(models.store.query("SELECT count(*) FROM worklist")[0][0])
    wait_projected(app, models, "projector catching up")
    sequences = replay_sequences(app)
    missing = max(0, total - existing)
    forms = {"hundeanmeldung": form("hundeanmeldung"), "meldebescheinigung": form("meldebescheinigung"), "sperrmuell": SPERRMUELL}
    profiler = cProfile.Profile()
    saved: list[str] = []
    errors: dict[str, int] = {}
    timings = {"profiled_cases": 0, "profiled_s": 0.0, "cases": 0, "seconds": 0.0}
    fields = getattr(SubmitCommand, "__dataclass_fields__", {})
    extra = {"trust_level": "high"} if "trust_level" in fields else {}  # Meldebescheinigung asks for eID
    with tqdm(total=missing, desc="load cases (in-process submit_batch)", unit="case", leave=False) as bar:
        for n, start in enumerate(range(0, missing, BATCH)):
            commands = [
                SubmitCommand(
                    portal=portals[i % len(portals)], service_id=MIX[i % len(MIX)], form_data=forms[MIX[i % len(MIX)]],
                    applicant={}, principal="bench", idempotency_key=f"load-{i}", correlation_id=f"bench-load-{i}",
                    **extra,
                )
                for i in range(start, min(start + BATCH, missing))
            ]
            began = time.perf_counter()
            if 0 < n <= profile_batches:  # the first batch loads the sequences: not profiled
                results = profiler.runcall(app.submit_batch, commands, resolve)
                timings["profiled_cases"] += len(commands)
                timings["profiled_s"] += time.perf_counter() - began
            else:
                results = app.submit_batch(commands, resolve)
                timings["cases"] += len(commands)
                timings["seconds"] += time.perf_counter() - began
            saved.extend(r["case"]["case_id"] for r in results if "case" in r)
            for r in results:
                if "error" in r:
                    errors[r["error"]["code"]] = errors.get(r["error"]["code"], 0) + 1
            bar.update(len(commands))
    loaded_at = time.monotonic()
    catch_up = wait_projected(app, models, "projector catching up")
    moved = move_cases(app, saved)
    wait_projected(app, models, "projector catching up")
    count = int(models.store.query("SELECT count(*) FROM worklist")[0][0])
    by_status = dict(models.store.query("SELECT status, count(*) FROM worklist GROUP BY status ORDER BY 2 DESC"))
    per_tenant = [n for (n,) in models.store.query("SELECT count(*) FROM worklist GROUP BY tenant")]
    return {
        "method": "SubmissionsApp.submit_batch in-process (batches of 500, local catalog resolver); "
        "relay + projector of the running platform fold them into the read model",
        "existing_before": existing,
        "reference_sequences_cold_load": sequences,
        "loaded": len(saved),
        "load_errors": errors,
        "worklist_rows": count,
        "by_status": by_status,
        "tenants": len(per_tenant),
        "cases_per_tenant_min_max": [min(per_tenant, default=0), max(per_tenant, default=0)],
        "moved": moved,
        "submit_batch_cases_per_s": round(timings["cases"] / timings["seconds"], 1) if timings["seconds"] else None,
        "submit_batch_cases_per_s_under_cprofile": round(timings["profiled_cases"] / timings["profiled_s"], 1)
        if timings["profiled_s"] else None,
        "projector_lag_after_load_s": round(catch_up, 1),
        "load_and_project_s": round(time.monotonic() - loaded_at + timings["seconds"] + timings["profiled_s"], 1),
        "cprofile_submit_batch": cprofile_summary(profiler) if timings["profiled_cases"] else None,
    }


def replay_sequences(app: SubmissionsApp) -> dict[str, Any]:
    """Load every tenant's ReferenceSequence cold, as the service does after a restart or an
    IntegrityError: the aggregate has one event per batch that touched the tenant, no snapshots."""
    year = app.clock().year
    began = time.perf_counter()
    versions = []
    for tenant in TENANTS:
        try:
            versions.append(app.repository.get(ReferenceSequence.create_id(tenant, year)).version)
        except AggregateNotFoundError:
            continue
        getattr(app, "_sequences", {}).pop((tenant, year), None)  # the load below warms them itself
    return {"sequences": len(versions), "events_max": max(versions, default=0), "events_total": sum(versions),
            "seconds": round(time.perf_counter() - began, 3)}


def move_cases(app: SubmissionsApp, case_ids: list[str], share: float = 0.06) -> dict[str, int]:
    """Review ~6 % of the cases; of those, ask back on a third and approve a third."""
    rng = random.Random(7)
    chosen = rng.sample(case_ids, int(len(case_ids) * share))
    meta = {"actor": "bench", "correlation_id": "bench-move"}
    counts = {"review_started": 0, "information_requested": 0, "approved": 0}
    due = date.today() + timedelta(days=3)
    with tqdm(total=len(chosen), desc="move cases on (start-review/ask/approve)", unit="case", leave=False) as bar:
        for start in range(0, len(chosen), 250):
            cases = [app.get_case(UUID(cid)) for cid in chosen[start : start + 250]]
            for k, case in enumerate(cases):
                if case.status == "payment_pending":  # a service with a fee: paid first, as a citizen would
                    case.receive_payment(case.amount_due_cents, f"PAY-{start + k}", **meta)
                case.start_review("Frau Meyer" if k % 2 else "Herr Kaya", **meta)
                counts["review_started"] += 1
                if k % 3 == 1:
                    case.request_information("Bitte Nachweis nachreichen.", due - timedelta(days=k % 20), **meta)
                    counts["information_requested"] += 1
                elif k % 3 == 2:
                    case.approve("Bewilligt.", **meta)
                    counts["approved"] += 1
            app.save(*cases)
            bar.update(len(cases))
    return counts


# -- queries ------------------------------------------------------------------------------
QUERIES: dict[str, dict[str, Any]] = {
    "first page (open, by age, 50)": {},
    "first page, limit 500": {"limit": 500},
    "deep keyset page (row ~3000, 50)": {"deep": True},
    "filter status=in_review": {"status": "in_review"},
    "filter status=information_requested": {"status": "information_requested"},
    "filter service_id=meldebescheinigung": {"service_id": "meldebescheinigung"},
    "sort due_date asc": {"sort": "due_date"},
    "sort reference desc, deep page": {"sort": "reference", "order": "desc", "deep": True},
    "closed cases (state=closed)": {"state": "closed"},
}


def _direct_query(params: dict[str, Any]) -> dict[str, Any]:
    """HTTP query parameters → CaseReadModels.worklist keywords."""
    return {k: v for k, v in params.items() if k != "service_id"} | (
        {"service_ids": [params["service_id"]]} if "service_id" in params else {})


def deep_cursor(models: CaseReadModels, tenant: str, sort: str, order: str, depth: int = 3000) -> str | None:
    cursor, seen = None, 0
    while seen < depth:
        page = models.worklist(tenant, sort=sort, order=order, limit=min(500, depth - seen), cursor=cursor)
        seen += len(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return None
    return cursor


def query_latencies(base_url: str, headers: dict[str, str], repeats: int = 80) -> dict[str, Any]:
    """p50/p99 per query type after ``ANALYZE worklist`` (plans before/after are kept)."""
    models = CaseReadModels(ReadStore("submissions"))
    rng = random.Random(11)
    out: dict[str, Any] = {"_plans_before_analyze": explain(models)}
    began = time.perf_counter()
    _analyze(models)
    out["_analyze_ms"] = round((time.perf_counter() - began) * 1000, 1)
    cursors: dict[tuple[str, str, str], str | None] = {}
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        for tenant in TENANTS[:3]:  # warm both paths
            client.get(f"/api/v1/tenants/{tenant}/worklist")
            models.worklist(tenant)
        for label, spec in tqdm(QUERIES.items(), desc="worklist queries", leave=False):
            params = {k: v for k, v in spec.items() if k != "deep"}
            http_ms: list[float] = []
            direct_ms: list[float] = []
            rows: list[int] = []
            for _ in range(repeats):
                tenant = rng.choice(TENANTS)
                if spec.get("deep"):
                    key = (tenant, params.get("sort", "submitted_at"), params.get("order", "asc"))
                    if key not in cursors:
                        cursors[key] = deep_cursor(models, *key)
                    if cursors[key]:
                        params["cursor"] = cursors[key]
                began = time.perf_counter()
                response = client.get(f"/api/v1/tenants/{tenant}/worklist", params=params)
                http_ms.append(time.perf_counter() - began)
                rows.append(len(response.json().get("items", [])) if response.status_code == 200 else -1)
                began = time.perf_counter()
                models.worklist(tenant, **_direct_query(params))
                direct_ms.append(time.perf_counter() - began)
                params.pop("cursor", None)
            out[label] = {
                "http": latency_summary(http_ms),
                "direct": latency_summary(direct_ms),
                "rows_avg": round(sum(rows) / len(rows), 1),
                "http_errors": sum(1 for r in rows if r < 0),
            }
    out["_plans_after_analyze"] = explain(models)
    out["_what_if_status_index"] = what_if_status_index(models)
    return out


def what_if_status_index(models: CaseReadModels) -> dict[str, Any]:
    """What an index for the status filter would do (on the bench's throw-away schema)."""
    with models.store.transaction() as cur:
        cur.execute("CREATE INDEX IF NOT EXISTS bench_worklist_by_status ON worklist (tenant, status, submitted_at, case_id)")
        cur.execute("ANALYZE worklist")
    plans = explain(models)
    return {k: v for k, v in plans.items() if "status" in k}


def _analyze(models: CaseReadModels) -> None:
    with models.store.transaction() as cur:
        cur.execute("ANALYZE worklist")


def explain(models: CaseReadModels) -> dict[str, dict[str, Any]]:
    """Plan and execution time of each query type on the first tenant (EXPLAIN ANALYZE)."""
    captured: list[tuple[str, tuple]] = []
    original = models.store.query

    def capture(statement: str, params: Any = ()) -> list[tuple]:
        captured.append((statement, tuple(params)))
        return original(statement, params)

    plans: dict[str, dict[str, Any]] = {}
    models.store.query = capture  # type: ignore[method-assign]
    try:
        for label, spec in QUERIES.items():
            params = _direct_query({k: v for k, v in spec.items() if k != "deep"})
            if spec.get("deep"):
                params["cursor"] = deep_cursor(models, TENANTS[9], params.get("sort", "submitted_at"), params.get("order", "asc"))
            captured.clear()
            models.worklist(TENANTS[9], **params)
            statement, args = captured[-1]
            lines = [r[0] for r in original("EXPLAIN (ANALYZE, BUFFERS) " + statement, args)]
            nodes = [line.strip().removeprefix("-> ").split("  (")[0] for line in lines if "->" in line or not line.startswith(" ")]
            executed = next((line for line in lines if line.startswith("Execution Time")), "")
            plans[label] = {"plan": " → ".join(n for n in nodes if not n.startswith(("Planning", "Execution"))),
                            "execution_ms": float(executed.split(":")[1].split()[0]) if executed else None}
    finally:
        models.store.query = original  # type: ignore[method-assign]
    return plans
