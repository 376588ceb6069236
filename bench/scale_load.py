"""Loading the synthetic Germany (:mod:`bench.scale_data`) through the platform's own write
paths, batched: tenants and offerings through the catalog application
(``register_tenants``, ``sync_offerings``, ``withdraw_offering``), cases through
``SubmissionsApp.submit_batch`` (the group-commit path of the submissions service: one
transaction per 500 cases with their reference sequences and applicant indexes), and every
status change as the case's own domain event, saved 500 cases per transaction. Nothing is
written into an event store with SQL."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import project_aggregate

from bench.scale_data import Germany, PlannedCase, submitted_at
from bench.worklist import SPERRMUELL, local_resolver
from services.common.streams import select_streams
from services.submissions.application import SubmissionsApp
from services.submissions.commands import SubmitCommand
from tests.examples import form

BATCH = 500
FORMS = {"hundeanmeldung": form("hundeanmeldung"), "meldebescheinigung": form("meldebescheinigung"),
         "gewerbeanmeldung": form("gewerbeanmeldung"), "elterngeld": form("elterngeld"), "sperrmuell": SPERRMUELL}
META = {"actor": "bench:scale", "correlation_id": "bench-scale"}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def register_germany(germany: Germany) -> dict[str, Any]:
    """Tenants (districts first, they host the municipalities), the offerings every tenant
    gets at its level, and the villages' withdrawals (no residents' parking there)."""
    from services.catalog.application import CatalogApp
    from services.common import db

    catalog = CatalogApp(db.eventstore_env("catalog"))
    began = time.perf_counter()
    catalog.import_definitions()
    catalog.import_tenants()
    known = set(catalog.view.tenants)
    added = 0
    for group in (germany.districts, germany.gemeinden):
        rows = [t.row() for t in group if t.ags not in known]
        for start in range(0, len(rows), 2000):
            catalog.register_tenants(rows[start : start + 2000])
            added += len(rows[start : start + 2000])
            say(f"[scale] tenants registered: {added:,} ({time.perf_counter() - began:.0f} s)")
    tenants_s = time.perf_counter() - began
    offered = catalog.sync_offerings()
    withdrawn = _withdraw(catalog, [(t.ags, s) for t in germany.gemeinden for s in t.withdrawn])
    result = {
        "tenants_added": added, "tenants_in_catalog": len(catalog.view.tenants),
        "offerings_opened": offered, "offerings_withdrawn": withdrawn,
        "offerings_active": sum(1 for o in catalog.view.offerings.values() if o["active"]),
        "tenants_s": round(tenants_s, 1), "seconds": round(time.perf_counter() - began, 1),
    }
    catalog.close()
    return result


def _withdraw(catalog: Any, pairs: list[tuple[str, str]]) -> int:
    """The offering's own withdraw command, saved 500 offerings per transaction (one save
    each, as ``withdraw_offering`` does, takes minutes for ten thousand villages)."""
    from services.catalog.domain import Offering

    pending = [p for p in pairs if (catalog.view.offering(*p) or {}).get("active")]
    for start in range(0, len(pending), BATCH):
        offerings = _load(catalog, [Offering.create_id(*p) for p in pending[start : start + BATCH]])
        for offering in offerings:
            offering.withdraw("Keine Bewohnerparkzonen in der Gemeinde.")
        catalog.save(*offerings)
    return len(pending)


def _commands(batch: list[tuple[int, PlannedCase]], tag: str, principal: Callable[[int], str]) -> list[SubmitCommand]:
    return [
        SubmitCommand(portal=p.portal, service_id=p.service_id, form_data=FORMS[p.service_id], applicant={},
                      principal=principal(p.applicant), idempotency_key=f"{tag}-{i}", correlation_id=f"{tag}-{i}",
                      trust_level="high")
        for i, p in batch
    ]


def move(case: Any, status: str, k: int) -> None:
    """Take a submitted case to its planned status with the domain's own commands."""
    if status == "submitted":
        return
    if case.status == "payment_pending":
        case.receive_payment(case.amount_due_cents, f"PAY-{k}", **META)
    if status == "withdrawn":
        case.withdraw("Antrag nicht mehr nötig.", **META)
        return
    case.start_review("Frau Meyer" if k % 2 else "Herr Kaya", **META)
    if status == "information_requested":
        case.request_information("Bitte Nachweis nachreichen.", date.today() + timedelta(days=k % 21 - 7), **META)
    elif status in ("approved", "rejected"):
        if k % 10 == 0:  # one in ten was asked back first
            case.request_information("Bitte Nachweis nachreichen.", date.today(), **META)
            case.supply_information("Nachweis anbei.", **META)
        if status == "approved":
            case.approve("Bewilligt.", **META)
        else:
            case.reject("Voraussetzungen nicht erfüllt.", **META)


def _batches(plan: Iterable[PlannedCase], size: int) -> Iterator[list[tuple[int, PlannedCase]]]:
    batch: list[tuple[int, PlannedCase]] = []
    for i, planned in enumerate(plan):
        batch.append((i, planned))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load_cases(app: SubmissionsApp, plan: Iterable[PlannedCase], total: int, tag: str,
               principal: Callable[[int], str], every: float = 10.0) -> dict[str, Any]:
    """Submit the plan in batches (the clock set to each batch's submission time, so cases
    have their ages), then move each batch's cases on; progress with cases/s and ETA."""
    resolve = local_resolver()
    clock = app.clock
    now = datetime.now(UTC)
    began = last = time.perf_counter()
    done = events = 0
    errors: dict[str, int] = {}
    by_status: dict[str, int] = {}
    submit_s = move_s = 0.0
    try:
        for batch in _batches(plan, BATCH):
            moment = submitted_at(batch[0][1].age_days, now)
            app.clock = lambda moment=moment: moment
            t0 = time.perf_counter()
            results = app.submit_batch(_commands(batch, tag, principal), resolve)
            t1 = time.perf_counter()
            submit_s += t1 - t0
            planned = {}
            for (i, p), result in zip(batch, results, strict=True):
                if "case" in result:
                    planned[result["case"]["case_id"]] = (i, p.status)
                    events += 1
                else:
                    errors[result["error"]["code"]] = errors.get(result["error"]["code"], 0) + 1
            cases = _load(app, [UUID(c) for c in planned])
            for case in cases:
                k, status = planned[str(case.id)]
                move(case, status, k)
                events += len(case.pending_events)
                by_status[status] = by_status.get(status, 0) + 1
            app.save(*cases)
            move_s += time.perf_counter() - t1
            done += len(batch)
            if time.perf_counter() - last > every:
                last = time.perf_counter()
                rate = done / (last - began)
                say(f"[scale] {tag}: {done:,}/{total:,} cases, {rate:,.0f} cases/s, "
                    f"ETA {(total - done) / rate / 60:.1f} min, load {os.getloadavg()[0]:.1f}")
    finally:
        app.clock = clock
    seconds = time.perf_counter() - began
    return {
        "cases": done, "errors": errors, "by_status": by_status, "seconds": round(seconds, 1),
        "cases_per_s": round(done / seconds, 1) if seconds else None,
        "case_events_saved": events, "submit_batch_s": round(submit_s, 1), "status_moves_s": round(move_s, 1),
    }


def _load(app: Any, ids: list[UUID]) -> list[Any]:
    """Many aggregates in one query (one round trip, not one per aggregate)."""
    streams = select_streams(app.recorder, ids)
    return [project_aggregate(None, [app.mapper.to_domain_event(s) for s in stored]) for stored in streams.values()]
