"""The OParl sync worker: ``python -m services.council.sync`` (a plain process, no eventlet).

Why one thread per tenant: a council information system that is slow, down or broken must
never hold up another municipality's sync, so each source has its own loop, its own HTTP
deadline per run and its own backoff; nothing is shared between them but the read store's
connection pool. Each run pulls the body's organizations, meetings (with agenda items and
files) and papers (with consultations and files) — everything on the first run, then only
what changed (``modified_since`` = start of the last good run, less a safety margin) — page
by page (``elementsPerPage``, ``links.next``), each page written in one transaction.
Requests are spaced (a polite rate), time out, and are retried with doubling backoff;
invalid objects are skipped, counted (``vr_council_skipped_objects_total``) and logged with
their id. A failed run keeps the data of the last good one: the portal shows its date.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.common import logs
from services.common import metrics as common_metrics
from services.common.config import CouncilSettings
from services.common.db import ReadStore
from services.council import metrics
from services.council.application import CouncilApp, open_council
from services.council.oparl import BadObject, meeting_row, object_id, organization_row, paper_row
from services.council.projections import CouncilStore

log = logs.get_logger("council-sync")
SAFETY_MARGIN = timedelta(minutes=2)  # clocks of the source and of this host differ a little
MAX_PAGE_OBJECTS = 200


class SourceError(Exception):
    """The source could not be read (after retries): down, slow, 5xx or not JSON."""


class Source:
    """One OParl system over HTTP for one run: retries, spacing and a deadline."""

    def __init__(self, client: httpx.Client, settings: CouncilSettings, deadline: float):
        self.client, self.settings, self.deadline = client, settings, deadline
        self.requests = 0
        self._last = 0.0

    def get(self, url: str, params: dict[str, str] | None = None) -> Any:
        delay = self.settings.backoff
        for attempt in range(1, max(self.settings.attempts, 1) + 1):
            wait = self._last + self.settings.request_interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise SourceError("run deadline passed")
            self._last = time.monotonic()
            self.requests += 1
            try:
                response = self.client.get(url, params=params, timeout=min(self.settings.request_timeout, left),
                                           headers={"Accept": "application/json"})
                if response.status_code >= 500 or response.status_code == 429:
                    raise SourceError(f"HTTP {response.status_code}")
                if response.status_code != 200:  # 4xx: retrying will not help
                    raise SourceError(f"HTTP {response.status_code} (not retried)") from None
                return response.json()
            except (httpx.HTTPError, SourceError, ValueError) as exc:
                final = attempt >= self.settings.attempts or "not retried" in str(exc)
                reason = "malformed JSON" if isinstance(exc, ValueError) else str(exc) or type(exc).__name__
                if final:
                    raise SourceError(f"{url}: {reason}") from None
                log.info("council_request_retried", url=url[:300], attempt=attempt, reason=reason[:200])
                time.sleep(min(delay, max(self.deadline - time.monotonic(), 0)))
                delay *= 2
        raise SourceError("unreachable")

    def pages(self, url: str, params: dict[str, str]) -> Iterator[list[Any]]:
        """The data of each page of an external list, following ``links.next``."""
        next_url: str | None = url
        first = True
        for _ in range(self.settings.max_pages):
            if not next_url:
                return
            page = self.get(next_url, params if first else None)
            first = False
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise SourceError(f"{next_url}: not an OParl list page")
            yield page["data"][:MAX_PAGE_OBJECTS]
            links = page.get("links") if isinstance(page.get("links"), dict) else {}
            found = links.get("next")
            next_url = found if isinstance(found, str) and found.startswith(("http://", "https://")) else None
        log.warning("council_page_limit", url=url[:300], max_pages=self.settings.max_pages)


def _list_url(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise SourceError(f"body has no {key} list")
    return value


def choose_body(bodies: list[Any], tenant: str) -> dict[str, Any]:
    """The body of this municipality (its AGS), else the system's first valid one."""
    valid = []
    for body in bodies:
        try:
            object_id(body, "Body")
        except BadObject as bad:
            skip(bad, tenant)
            continue
        valid.append(body)
    for body in valid:
        if body.get("ags") == tenant:
            return body
    if not valid:
        raise SourceError("the system lists no body")
    return valid[0]


def skip(bad: BadObject, tenant: str) -> None:
    metrics.SKIPPED.labels(bad.kind).inc()
    log.warning("council_object_skipped", tenant=tenant, kind=bad.kind, object_id=bad.object_id[:300], reason=bad.reason)


def sync_tenant(store: CouncilStore, client: httpx.Client, settings: CouncilSettings, tenant: str, url: str,
                now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> dict[str, Any]:
    """One run for one tenant: full or incremental; returns its figures. Raises SourceError
    (after recording it) when the source cannot be read; the data already there stays."""
    started, clock = now(), time.monotonic()
    state = store.sync_state(tenant)
    if state["source_url"] not in (None, url):
        store.forget_source(tenant)  # another system: its predecessor's data goes
        state = store.sync_state(tenant)
    since = state["high_water"]
    store.record_run(tenant, url, last_attempt_at=started.isoformat(timespec="seconds"))
    source = Source(client, settings, clock + settings.run_deadline)
    figures = {"tenant": tenant, "incremental": bool(since), "organizations": 0, "meetings": 0, "papers": 0,
               "skipped": 0}
    try:
        system = source.get(url)
        object_id(system, "System")
        bodies = [b for page in source.pages(_list_url(system, "body"), {}) for b in page]
        body = choose_body(bodies, tenant)
        params = {"elementsPerPage": str(max(1, min(settings.page_size, 100)))}
        if since:
            params["modified_since"] = since
        for kind, key, convert, put in (
            ("organizations", "organization", organization_row, store.put_organizations),
            ("meetings", "meeting", meeting_row, store.put_meetings),
            ("papers", "paper", paper_row, store.put_papers),
        ):
            for page in source.pages(_list_url(body, key), params):
                rows = []
                for obj in page:
                    try:
                        found = convert(obj)
                    except BadObject as bad:
                        skip(bad, tenant)
                        figures["skipped"] += 1
                        continue
                    row, inner = found if isinstance(found, tuple) else (found, [])
                    for bad in inner:
                        skip(bad, tenant)
                    figures["skipped"] += len(inner)
                    rows.append(row)
                put(tenant, rows)
                figures[kind] += len(rows)
                metrics.SYNCED.labels(kind).inc(len(rows))
    except (SourceError, BadObject) as exc:
        elapsed = time.monotonic() - clock
        store.record_run(tenant, url, last_error=str(exc)[:500], duration_ms=int(elapsed * 1000))
        metrics.RUNS.labels("failed").inc()
        metrics.DURATION.labels("failed").observe(elapsed)
        log.warning("council_sync_failed", tenant=tenant, error=str(exc)[:500], requests=source.requests,
                    seconds=round(elapsed, 3))
        raise SourceError(str(exc)) from None
    elapsed = time.monotonic() - clock
    objects = figures["organizations"] + figures["meetings"] + figures["papers"]
    name = body.get("name") if isinstance(body.get("name"), str) else ""
    store.record_run(tenant, url, body_name=name[:200], last_success_at=started.isoformat(timespec="seconds"),
                     last_error=None, high_water=(started - SAFETY_MARGIN).isoformat(timespec="seconds"),
                     objects=objects, skipped=figures["skipped"], duration_ms=int(elapsed * 1000))
    metrics.RUNS.labels("incremental" if since else "full").inc()
    metrics.DURATION.labels("ok").observe(elapsed)
    figures |= {"objects": objects, "requests": source.requests, "seconds": round(elapsed, 3)}
    log.info("council_synced", **figures)
    return figures


class TenantLoop(threading.Thread):
    """Syncs one tenant's source every interval; after a failure waits longer (up to 8x)."""

    def __init__(self, store: CouncilStore, settings: CouncilSettings, tenant: str, url: str):
        super().__init__(name=f"council-{tenant}", daemon=True)
        self.store, self.settings, self.tenant, self.url = store, settings, tenant, url
        self.stopping = threading.Event()

    def run(self) -> None:
        failures = 0
        with httpx.Client(follow_redirects=True, headers={"User-Agent": "VirtuellesRathaus-OParl-Sync/1"}) as client:
            while not self.stopping.is_set():
                try:
                    sync_tenant(self.store, client, self.settings, self.tenant, self.url)
                    failures = 0
                except SourceError:
                    failures += 1
                except Exception as exc:  # the loop must outlive any one run
                    failures += 1
                    log.exception("council_sync_crashed", tenant=self.tenant, error=repr(exc)[:300])
                self.stopping.wait(self.settings.sync_interval * min(2 ** failures, 8) if failures
                                   else self.settings.sync_interval)


class Worker:
    """Keeps one :class:`TenantLoop` per configured source, following configuration changes."""

    def __init__(self, app: CouncilApp, store: CouncilStore, settings: CouncilSettings):
        self.app, self.store, self.settings = app, store, settings
        self.loops: dict[str, TenantLoop] = {}
        self.stopping = threading.Event()

    def reconcile(self) -> None:
        sources = self.app.sources()
        for tenant, loop in list(self.loops.items()):
            if sources.get(tenant) != loop.url:
                loop.stopping.set()
                del self.loops[tenant]
                if tenant not in sources:
                    self.store.forget_source(tenant)
                log.info("council_source_changed", tenant=tenant, url=sources.get(tenant))
        for tenant, url in sources.items():
            if tenant not in self.loops:
                self.loops[tenant] = TenantLoop(self.store, self.settings, tenant, url)
                self.loops[tenant].start()

    def run(self, poll: float = 2.0) -> None:
        while not self.stopping.is_set():
            try:
                self.reconcile()
            except Exception as exc:  # noqa: BLE001 - the event store may be briefly away
                log.warning("council_sources_unavailable", error=repr(exc)[:300])
            self.stopping.wait(poll)
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for loop in self.loops.values():
            loop.stopping.set()


def main() -> int:
    logs.configure("council-sync")
    common_metrics.serve("council-sync")
    settings = CouncilSettings.from_env()
    app = open_council()
    seeded = app.seed(settings.seeds())
    store = CouncilStore(ReadStore("council"))
    worker = Worker(app, store, settings)
    signal.signal(signal.SIGTERM, lambda *_: worker.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: worker.stopping.set())
    log.info("council-sync_started", seeded=seeded, settings=json.dumps({
        "interval": settings.sync_interval, "timeout": settings.request_timeout, "deadline": settings.run_deadline}))
    worker.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
