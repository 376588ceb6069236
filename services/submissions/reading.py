"""Reading a partition's case events back from its event store as integration events, for
the rebuild of the read models.

Decoding is most of a rebuild's CPU (the stored JSON, the domain event, its envelope: at a
million cases ~60 µs of ~70 µs per event; folding and writing the rest). So beyond
``PARALLEL_FROM`` notifications, ``REBUILD_WORKERS`` processes each read and decode spans of
the log while this process folds and writes; their results are taken in log order, and at
most two spans per worker are in flight (memory stays bounded however fast they are).
Smaller logs are read here, the next page fetched while this one is decoded.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from eventsourcing.popo import POPOApplicationRecorder
from eventsourcing.utils import get_topic
from tqdm import tqdm

from services.common import config
from services.submissions.application import SubmissionsApp, open_submissions
from services.submissions.domain import Case
from services.submissions.integration import PUBLISHED, map_notification

CASE_TOPICS = tuple(get_topic(cls) for cls in PUBLISHED if issubclass(cls, Case.Event))
PAGE = 2000  # notifications per query
SPAN = 20_000  # notification ids per worker task (~14,000 case events, ~15 MB decoded)
PARALLEL_FROM = 100_000  # notifications; below, starting processes costs more than it saves


def tenant_prefilter(app: SubmissionsApp, tenant: str | None) -> Callable[[Any], bool]:
    """A look at a stored event's bytes, so that a one-tenant rebuild decodes only that
    tenant's events (the log has no tenant column: without it, rebuilding a village of 50
    cases decoded all 10,800 tenants' events — 87 s at 150,000 cases). Only where the bytes
    are plain JSON as the mapper writes it (no cipher, no compression, checked with a probe);
    otherwise every event is decoded. A false hit costs a decode: the fold filters by tenant."""
    mapper = app.mapper
    plain = mapper.cipher is None and mapper.compressor is None
    if tenant is None or not plain or mapper.transcoder.encode({"tenant": "0"}) != b'{"tenant":"0"}':
        return lambda note: True
    needle = b'"tenant":' + json.dumps(tenant).encode()
    return lambda note: needle in note.state


def _page(app: SubmissionsApp, start: int, stop: int) -> list[Any]:
    # only the case events are read and decoded: about a third of the log are reference
    # sequences, applicant indexes and drafts, which have no read model here
    return app.recorder.select_notifications(start=start, limit=PAGE, stop=stop, topics=CASE_TOPICS,
                                             inclusive_of_start=False)


def _decode(app: SubmissionsApp, notes: list[Any], wanted: Callable[[Any], bool]) -> list[dict[str, Any]]:
    envelopes = []
    for note in notes:
        envelope = map_notification(app, note) if wanted(note) else None
        if envelope is not None and envelope["type"].startswith("case."):
            envelopes.append(envelope)
    return envelopes


def envelopes_from_store(
    app: SubmissionsApp, head: int, progress: bool = True, tenant: str | None = None, workers: int | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> Iterator[dict[str, Any]]:
    """Every case event in one partition's event store up to ``head`` (of ``tenant``, or all),
    as integration events, in log order (in this process for an in-memory store)."""
    workers = config.settings().rebuild_workers if workers is None else workers
    desc = f"rebuild p{app.partition}" if app.partition else "rebuild"
    with tqdm(total=head, unit="ev", desc=desc, disable=not progress, file=sys.stderr) as bar:
        # other processes can read the store unless it lives in this one's memory (tests)
        if workers > 1 and head >= parallel_from and not isinstance(app.recorder, POPOApplicationRecorder):
            yield from _by_workers(app.partition, head, tenant, workers, bar)
        else:
            yield from _here(app, head, tenant, bar)


def _pages(app: SubmissionsApp, start: int, stop: int) -> Iterator[list[Any]]:
    """The pages of case notifications with ids in (start, stop]; the next page is read while
    this one is decoded (the database answers on another core)."""
    with ThreadPoolExecutor(1, thread_name_prefix="rebuild-read") as reader:
        notes = _page(app, start, stop) if start < stop else []
        while notes:
            position = notes[-1].id
            ahead = reader.submit(_page, app, position, stop) if position < stop else None
            yield notes
            notes = ahead.result() if ahead is not None else []


def _here(app: SubmissionsApp, head: int, tenant: str | None, bar: tqdm) -> Iterator[dict[str, Any]]:
    wanted = tenant_prefilter(app, tenant)
    for notes in _pages(app, 0, head):
        yield from _decode(app, notes, wanted)
        bar.update(notes[-1].id - bar.n)


def _by_workers(partition: int, head: int, tenant: str | None, workers: int, bar: tqdm) -> Iterator[dict[str, Any]]:
    # spawned, not forked: a forked child would share this process's database sockets
    context = multiprocessing.get_context("spawn")
    spans = deque((start, min(start + SPAN, head)) for start in range(0, head, SPAN))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(partition, tenant)) as pool:
        pending: deque[Future] = deque()
        while spans or pending:
            while spans and len(pending) < 2 * workers:
                pending.append(pool.submit(_decode_span, *spans.popleft()))
            stop, envelopes = pending.popleft().result()
            yield from envelopes
            bar.update(stop - bar.n)


_WORKER: dict[str, Any] = {}


def _start_worker(partition: int, tenant: str | None) -> None:
    app = open_submissions(partition)
    _WORKER.update(app=app, wanted=tenant_prefilter(app, tenant))


def _decode_span(start: int, stop: int) -> tuple[int, list[dict[str, Any]]]:
    """The case events with notification ids in (start, stop], decoded."""
    app, wanted = _WORKER["app"], _WORKER["wanted"]
    return stop, [envelope for notes in _pages(app, start, stop) for envelope in _decode(app, notes, wanted)]
