"""The ceilings: raw PostgreSQL single-row INSERTs and raw RabbitMQ publishing with confirms."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import psycopg
from tqdm import tqdm

from services.common.amqp import ConfirmingPublisher

PAYLOAD = '{"type":"case.submitted.v1","tenant":"03460009","data":{"reference":"VEC-2026-000001"}}' * 3


def _progress_sleep(seconds: float, desc: str) -> None:
    ticks = max(1, int(seconds * 4))
    for _ in tqdm(range(ticks), desc=desc, leave=False, bar_format="{desc}: {bar} {elapsed}"):
        time.sleep(seconds / ticks)


def postgres_inserts(conninfo: str, threads: int = 8, seconds: float = 5.0) -> dict[str, Any]:
    """``threads`` threads, each with its own autocommit connection, INSERT one row at a time."""
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL, created_at TIMESTAMPTZ DEFAULT now())")
    counts = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]
    start = threading.Barrier(threads + 1)
    stop = threading.Event()

    def worker(n: int) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            statement = f"INSERT INTO {table} (payload) VALUES (%s)"
            conn.execute(statement, (PAYLOAD,), prepare=True)  # warm up, prepare
            start.wait()
            own = latencies[n]
            while not stop.is_set():
                began = time.perf_counter()
                conn.execute(statement, (PAYLOAD,), prepare=True)
                own.append(time.perf_counter() - began)
                counts[n] += 1

    workers = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in workers:
        thread.start()
    start.wait()
    began = time.monotonic()
    _progress_sleep(seconds, f"raw PostgreSQL INSERT ({threads} conns)")
    stop.set()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - began
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {table}")
    flat = [v for part in latencies for v in part]
    flat.sort()
    return {
        "threads": threads,
        "seconds": round(elapsed, 2),
        "rows": sum(counts),
        "rows_per_s": round(sum(counts) / elapsed, 1),
        "p50_ms": round(flat[len(flat) // 2] * 1000, 2) if flat else None,
        "p99_ms": round(flat[int(len(flat) * 0.99)] * 1000, 2) if flat else None,
    }


def rabbit_publish(amqp_uri: str, seconds: float = 3.0, batch: int = 500) -> dict[str, Any]:
    """Persistent publishes with publisher confirms through the relay's own publisher
    (``ConfirmingPublisher``), to a durable queue of the bench's vhost: confirms awaited
    per batch of ``batch`` (as the relay does) and per single message."""
    queue = "bench.raw"
    out: dict[str, Any] = {}
    publisher = ConfirmingPublisher(amqp_uri, queues={queue: ["bench.#"]})
    try:
        envelope = {"event_id": "", "type": "bench.raw.v1", "correlation_id": "bench", "payload": PAYLOAD}
        for label, size, duration in (("batch", batch, seconds), ("single", 1, seconds / 2)):
            sent = 0
            began = time.monotonic()
            with tqdm(desc=f"raw RabbitMQ publish+confirm ({label} of {size})", unit="msg", leave=False) as bar:
                while time.monotonic() - began < duration:
                    messages = [{**envelope, "event_id": str(sent + i)} for i in range(size)]
                    publisher.publish_batch(messages)
                    sent += size
                    bar.update(size)
            elapsed = time.monotonic() - began
            out[f"{label}_confirm"] = {"batch": size, "messages": sent, "msgs_per_s": round(sent / elapsed, 1)}
        publisher.channel.queue_delete(queue)
    finally:
        publisher.close()
    return out
