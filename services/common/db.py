"""Read-model storage: one small DB-API wrapper for SQLite (default) and PostgreSQL.

Projections, tracking records and relay positions live here. SQL is written once with
``?`` placeholders and rewritten to ``%s`` for psycopg. Each service gets its own file
(SQLite) or its own schema (PostgreSQL), so no service reads another service's tables.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from services.common import config, health, metrics
from services.common.partitions import partition_of_schema

T = TypeVar("T")


def postgres_parts(current: config.Settings | None = None, service: str | None = None) -> dict[str, str]:
    """PostgreSQL connection parts from POSTGRES_DSN or the POSTGRES_* settings; a case
    partition's store (``submissions_p<k>``) from CASE_PARTITION_DSN_<k> if that is set."""
    current = current or config.settings()
    dsn = (config.case_partition_dsn(partition_of_schema(service)) if service else "") or current.postgres_dsn
    if dsn:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(dsn)
        return {
            "dbname": str(parts.get("dbname", "postgres")),
            "host": str(parts.get("host", "127.0.0.1")),
            "port": str(parts.get("port", "5432")),
            "user": str(parts.get("user", "postgres")),
            "password": str(parts.get("password", "")),
        }
    return {
        "dbname": current.postgres_dbname,
        "host": current.postgres_host,
        "port": current.postgres_port,
        "user": current.postgres_user,
        "password": current.postgres_password,
    }


def postgres_conninfo(current: config.Settings | None = None, service: str | None = None) -> str:
    parts = postgres_parts(current, service)
    return " ".join(f"{key}={value}" for key, value in parts.items() if value != "")


MAINTENANCE_DB = "postgres"  # the database every server has: CREATE DATABASE, server-wide views


def maintenance_conninfo(current: config.Settings | None = None) -> str:
    """The configured server's maintenance database, same host, port, user and password."""
    from psycopg.conninfo import make_conninfo

    parts = {key: value for key, value in postgres_parts(current).items() if value != ""}
    return make_conninfo(**{**parts, "dbname": MAINTENANCE_DB})


def schema_for(service: str, current: config.Settings | None = None) -> str:
    """The PostgreSQL schema (or SQLite file stem) a service keeps its data in.

    ``VR_SCHEMA_PREFIX`` lets tests and benches run beside a development instance."""
    return (current or config.settings()).schema_prefix + service


def eventstore_env(service: str) -> dict[str, str]:
    """eventsourcing settings for one service's event store.

    PostgreSQL when POSTGRES_DSN or POSTGRES_DBNAME is set (each service in its own
    schema, so no service reads another's tables); otherwise an SQLite file under var/.
    """
    current = config.settings()
    if current.postgres_configured:
        parts = postgres_parts(current, service)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts["dbname"],
            "POSTGRES_HOST": parts["host"],
            "POSTGRES_PORT": parts["port"],
            "POSTGRES_USER": parts["user"],
            "POSTGRES_PASSWORD": parts["password"],
            "POSTGRES_SCHEMA": schema_for(service, current),
            "POSTGRES_LOCK_TIMEOUT": current.postgres_lock_timeout,
            "POSTGRES_POOL_SIZE": current.postgres_pool_size,
            "POSTGRES_MAX_OVERFLOW": current.postgres_max_overflow,
            "POSTGRES_CONNECT_TIMEOUT": current.postgres_connect_timeout,
            "CREATE_TABLE": "y",
        }
    current.var_dir.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(current.var_dir / f"{schema_for(service, current)}-events.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
        "CREATE_TABLE": "y",
    }


def connect_postgres(conninfo: str, **kwargs: Any) -> Any:
    """``psycopg.connect`` that waits up to ``POSTGRES_CONNECT_TIMEOUT`` for a free slot when
    the server answers "too many clients" (SQLSTATE 53300) — as the event stores' pools wait
    for a connection — instead of failing a process's start or a read at a busy moment."""
    import psycopg

    deadline = time.monotonic() + float(config.settings().postgres_connect_timeout or 5)
    pause = 0.2
    while True:
        try:
            return psycopg.connect(conninfo, **kwargs)
        except psycopg.OperationalError as exc:
            text = str(exc)
            full = getattr(exc, "sqlstate", None) == "53300" or "too many clients" in text or "too many connections" in text
            if not full or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def ensure_schema(service: str) -> None:
    """Create the PostgreSQL schema a service keeps its tables in (no-op for SQLite)."""
    current = config.settings()
    if not current.postgres_configured:
        return
    import psycopg

    # another process of the service may create it at the same moment
    race = contextlib.suppress(psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema)
    with connect_postgres(postgres_conninfo(current, service), autocommit=True) as conn, race:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema_for(service, current)}"')


def _is_ddl_race(exc: BaseException) -> bool:
    text = str(exc)
    return "already exists" in text or "duplicate key" in text or "tuple concurrently" in text


def open_application(factory: Callable[[dict[str, str]], T], service: str) -> T:
    """Construct a service's eventsourcing Application on its configured store, retrying
    the table creation race when several processes of one service start together."""
    ensure_schema(service)
    for attempt in range(10):
        try:
            return factory(eventstore_env(service))
        except Exception as exc:
            if attempt == 9 or not _is_ddl_race(exc):
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


class ReadStore:
    """Connections to the service's read-model database, kept in a small pool.

    A connection is taken for one transaction and given back; so a process holds as many
    connections as transactions run at once (under eventlet, where database calls do not
    yield, that is one), not one per thread or greenthread."""

    MAX_IDLE = 4

    def __init__(self, service: str, name: str = "read"):
        current = config.settings()
        self.service = schema_for(service, current)
        self.postgres = current.postgres_configured
        self._idle: list[Any] = []
        self._in_use = 0
        self._lock = threading.Lock()
        self._gauges = (metrics.DB_CONNECTIONS.labels(service, "in_use"), metrics.DB_CONNECTIONS.labels(service, "idle"))
        self.path: str | None = None
        self.conninfo: str | None = None
        if self.postgres:
            ensure_schema(service)
            self.conninfo = postgres_conninfo(current, service)
        else:
            current.var_dir.mkdir(parents=True, exist_ok=True)
            self.path = str(current.var_dir / f"{self.service}-{name}.sqlite")

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> Any:
        if self.postgres:
            conn = connect_postgres(self.conninfo, autocommit=False)
            conn.execute(f'SET search_path TO "{self.service}"')
            conn.commit()
            return conn
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _count(self, in_use: int) -> None:
        """Track connections for ``vr_db_connections`` (called with the lock held)."""
        self._in_use += in_use
        self._gauges[0].set(self._in_use)
        self._gauges[1].set(len(self._idle))

    def _take(self) -> Any:
        with self._lock:
            self._count(1)
            while self._idle:
                conn = self._idle.pop()
                if not (self.postgres and conn.closed):
                    self._count(0)
                    return conn
        try:
            return self._connect()
        except BaseException:
            with self._lock:
                self._count(-1)
            raise

    def _give_back(self, conn: Any, broken: bool) -> None:
        with self._lock:
            self._count(-1)
            if not broken and len(self._idle) < self.MAX_IDLE:
                self._idle.append(conn)
                self._count(0)
                return
        with contextlib.suppress(Exception):
            conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._count(0)
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    @contextmanager
    def transaction(self, exclusive: bool = False) -> Iterator[Any]:
        """A transaction; ``exclusive`` takes the write lock up front (used by rebuilds)."""
        conn = self._take()
        broken = False
        try:
            if self.postgres:
                try:
                    with conn.cursor() as cur:
                        yield _Cursor(self, cur)
                    conn.commit()
                except BaseException:
                    with contextlib.suppress(Exception):
                        conn.rollback()
                    raise
            else:
                conn.execute("BEGIN IMMEDIATE" if exclusive else "BEGIN")
                try:
                    yield _Cursor(self, conn.cursor())
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(Exception):
                        conn.execute("ROLLBACK")
                    raise
        except BaseException:
            broken = self.postgres and (conn.closed or conn.broken)
            raise
        finally:
            self._give_back(conn, broken)

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self.transaction() as cur:
            cur.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def executescript(self, script: str) -> None:
        """Run DDL statements separated by ``;`` (idempotent CREATE … IF NOT EXISTS).

        Processes starting together may race on PostgreSQL's catalog; retry then."""
        for attempt in range(10):
            try:
                with self.transaction() as cur:
                    for statement in script.split(";"):
                        if statement.strip():
                            cur.execute(statement)
                return
            except Exception as exc:
                if attempt == 9 or not _is_ddl_race(exc):
                    raise
                time.sleep(0.1 * (attempt + 1))


class _Cursor:
    def __init__(self, store: ReadStore, cursor: Any):
        self._store = store
        self._cursor = cursor

    def execute(self, statement: str, params: Sequence[Any] = ()) -> _Cursor:
        self._cursor.execute(self._store.sql(statement), tuple(params))
        return self

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._store.sql(statement), [tuple(r) for r in rows])

    def copy_rows(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
        """PostgreSQL's ``COPY … FROM STDIN``: bulk loads (rebuilds) at several times the rate of
        ``executemany`` inserts."""
        with self._cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def fetchall(self) -> list[tuple]:
        return self._cursor.fetchall()

    def fetchone(self) -> tuple | None:
        return self._cursor.fetchone()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount


def _ready() -> None:
    """The readiness check ``database`` (services/common/health.py): ``SELECT 1``; under
    eventlet only the port (a blocking libpq call would stall every green thread)."""
    current = config.settings()
    if not current.postgres_configured or "eventlet" in sys.modules:
        health.check_database()
        return
    import psycopg

    with psycopg.connect(postgres_conninfo(current), connect_timeout=2) as conn:
        conn.execute("SELECT 1")


health.CHECKS["database"] = _ready
