"""End-to-end load: concurrent HTTP clients submit Hundeanmeldungen through the gateway; a
watcher thread sees them arrive in the worklist read model. Three load generators (the bench
shares the 2 cores with the platform, so the client's CPU per request matters): ``threads``
(a keep-alive ``httpx.Client`` per thread), ``asyncio`` (``httpx.AsyncClient``, a pool of
``concurrency`` connections) and ``raw`` (asyncio streams speaking minimal HTTP/1.1)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import httpx
import psycopg
from tqdm import tqdm

from bench.common import TENANTS, BenchPlatform, CpuWindow, latency_summary, worklist_count
from tests.examples import form

Request = tuple[str, bytes, str]  # path, body, idempotency key
AUTH: dict[str, str] = {}  # Authorization header of the citizen who submits (set by the bench)
Done = Callable[[int, float, float, int, bytes], None]
CLIENTS = ("threads", "asyncio", "raw")


def build_requests(n: int, tag: str, tenants: tuple[str, ...] = TENANTS) -> list[Request]:
    body = json.dumps({"service_id": "hundeanmeldung", "form_data": form()}).encode()
    return [(f"/api/v1/tenants/{tenants[i % len(tenants)]}/cases", body, f"{tag}-{i}") for i in range(n)]


def offered_tenants(base_url: str, service_id: str = "hundeanmeldung") -> tuple[tuple[str, ...], str]:
    """The tenants whose portal takes this service online (one probe submission each), and
    the last refusal seen."""
    offered, refusal = [], ""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for ags in TENANTS:
            body = {"service_id": service_id, "form_data": form(service_id)}
            response = client.post(f"/api/v1/tenants/{ags}/cases", json=body, headers={"Idempotency-Key": f"probe-{ags}", **AUTH})
            if response.status_code == 201:
                offered.append(ags)
            else:
                refusal = f"{ags}: {response.status_code} {response.text[:300]}"
    return tuple(offered), refusal


# -- load generators ---------------------------------------------------------------------
def run_threads(base_url: str, requests: list[Request], concurrency: int, done: Done) -> None:
    lock = threading.Lock()
    indices = iter(range(len(requests)))

    def worker() -> None:
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=base_url, timeout=120, limits=limits) as client:
            while True:
                with lock:
                    i = next(indices, None)
                if i is None:
                    return
                path, body, key = requests[i]
                began = time.perf_counter()
                try:
                    response = client.post(
                        path, content=body, headers={"Content-Type": "application/json", "Idempotency-Key": key, **AUTH}
                    )
                    status, content = response.status_code, response.content
                except httpx.HTTPError as exc:
                    status, content = 0, repr(exc).encode()
                done(i, began, time.perf_counter(), status, content)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()


def run_asyncio(base_url: str, requests: list[Request], concurrency: int, done: Done) -> None:
    async def main() -> None:
        indices = iter(range(len(requests)))
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, timeout=120, limits=limits) as client:

            async def worker() -> None:
                for i in indices:
                    path, body, key = requests[i]
                    began = time.perf_counter()
                    try:
                        response = await client.post(
                            path, content=body, headers={"Content-Type": "application/json", "Idempotency-Key": key, **AUTH}
                        )
                        status, content = response.status_code, response.content
                    except httpx.HTTPError as exc:
                        status, content = 0, repr(exc).encode()
                    done(i, began, time.perf_counter(), status, content)

            await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(main())


async def _raw_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes) -> tuple[int, bytes, bool]:
    writer.write(head + body)
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed by the gateway")
    status = int(status_line.split()[1])
    length, close = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
        elif name == b"transfer-encoding":
            raise ConnectionError("chunked responses are not supported by the raw client")
    return status, await reader.readexactly(length), close


def run_raw(base_url: str, requests: list[Request], concurrency: int, done: Done) -> None:
    url = urlparse(base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80

    auth = "".join(f"{k}: {v}\r\n" for k, v in AUTH.items())

    async def main() -> None:
        indices = iter(range(len(requests)))

        async def worker() -> None:
            reader = writer = None
            for i in indices:
                path, body, key = requests[i]
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                    f"Idempotency-Key: {key}\r\n{auth}Content-Length: {len(body)}\r\n\r\n"
                ).encode()
                began = time.perf_counter()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    status, content, close = await _raw_exchange(reader, writer, head, body)  # type: ignore[arg-type]
                except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                    status, content, close = 0, repr(exc).encode(), True
                done(i, began, time.perf_counter(), status, content)
                if close and writer is not None:
                    writer.close()
                    reader = writer = None
            if writer is not None:
                writer.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    asyncio.run(main())


GENERATORS = {"threads": run_threads, "asyncio": run_asyncio, "raw": run_raw}


# -- visibility in the worklist ------------------------------------------------------------
class VisibilityWatcher(threading.Thread):
    """Polls the worklist read model (the table the worklist API reads) for sampled case
    ids, recording when each first shows up, and counts rows until ``target`` is reached."""

    def __init__(self, conninfo: str, schema: str, target: int, interval: float = 0.01):
        super().__init__(daemon=True)
        self.conninfo, self.schema, self.target, self.interval = conninfo, schema, target, interval
        self.pending: dict[str, float] = {}
        self.latencies: list[float] = []
        self.count = 0
        self.reached_at: float | None = None
        self.load_done = threading.Event()  # counting rows is not free: only once the clients are done
        self.lock = threading.Lock()
        self.finish = threading.Event()

    def watch(self, case_id: str, sent_at: float) -> None:
        with self.lock:
            self.pending[case_id] = sent_at

    def run(self) -> None:
        self.error: str | None = None
        for _ in range(20):  # a broken connection (busy server, restart) is retried, not fatal
            try:
                self._watch()
                return
            except psycopg.Error as exc:
                self.error = repr(exc)
                time.sleep(0.5)

    def _watch(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            last_count = 0.0
            while not self.finish.is_set():
                with self.lock:
                    ids = list(self.pending)
                if ids:
                    rows = conn.execute(
                        f'SELECT case_id FROM "{self.schema}".worklist WHERE case_id = ANY(%s)', (ids,)
                    ).fetchall()
                    now = time.perf_counter()
                    with self.lock:
                        for (case_id,) in rows:
                            self.latencies.append(now - self.pending.pop(case_id))
                if self.load_done.is_set() and time.monotonic() - last_count > 0.05:
                    self.count = worklist_count(conn, self.schema)
                    last_count = time.monotonic()
                    if self.reached_at is None and self.count >= self.target:
                        self.reached_at = time.perf_counter()
                if self.reached_at is not None and not self.pending:
                    return
                time.sleep(self.interval)


@dataclass
class Run:
    client: str
    concurrency: int
    n: int
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_done: float = 0.0
    sample: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def submit_run(
    plat: BenchPlatform,
    conninfo: str,
    schema: str,
    n: int,
    client: str,
    concurrency: int,
    tag: str,
    tenants: tuple[str, ...] = TENANTS,
    sample_every: int = 10,
    settle_timeout: float = 300.0,
) -> dict[str, Any]:
    """Submit ``n`` cases with one load generator, wait until all are in the worklist."""
    requests = build_requests(n, tag, tenants)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        baseline = worklist_count(conn, schema)
    watcher = VisibilityWatcher(conninfo, schema, baseline + n)
    run = Run(client, concurrency, n)
    bar = tqdm(total=n, desc=f"submit {client} c={concurrency}", unit="req", leave=False, mininterval=0.5)
    lock = threading.Lock()

    def done(i: int, began: float, ended: float, status: int, content: bytes) -> None:
        with lock:
            run.statuses[status] += 1
            run.last_done = max(run.last_done, ended)
            if status == 201:
                run.latencies.append(ended - began)
            elif len(run.errors) < 5:
                run.errors.append(f"{status}: {content[:300]!r}")
        if status == 201 and i % sample_every == 0:
            watcher.watch(json.loads(content)["case_id"], began)
        bar.update(1)

    cpu = CpuWindow(plat.pids()).start()
    watcher.start()
    run.first_send = time.perf_counter()
    GENERATORS[client](plat.base_url, requests, concurrency, done)
    bar.close()
    http_seconds = run.last_done - run.first_send
    accepted = run.statuses[201]
    watcher.target = baseline + accepted
    watcher.load_done.set()
    with tqdm(total=accepted, desc="until visible in worklist", unit="case", leave=False) as seen:
        deadline = time.monotonic() + settle_timeout
        while watcher.is_alive() and time.monotonic() < deadline:
            seen.update(max(0, min(accepted, watcher.count - baseline)) - seen.n)
            watcher.join(0.2)
    watcher.finish.set()
    watcher.join()
    cpu_used = cpu.stop()
    visible_seconds = watcher.reached_at - run.first_send if watcher.reached_at else None
    return {
        "client": client,
        "concurrency": concurrency,
        "tenants": len(tenants),
        "n": n,
        "accepted": accepted,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "errors_sample": run.errors,
        "http_seconds": round(http_seconds, 2),
        "submissions_per_s": round(accepted / http_seconds, 1) if http_seconds else None,
        "visible_seconds": round(visible_seconds, 2) if visible_seconds else None,
        "end_to_end_per_s": round(accepted / visible_seconds, 1) if visible_seconds else None,
        "submit_latency": latency_summary(run.latencies),
        "submit_to_visible_latency": latency_summary(watcher.latencies),
        "visibility_unseen_samples": len(watcher.pending),
        "watcher_error": getattr(watcher, "error", None),
        "cpu": cpu_used,
    }
