"""Liveness and readiness of every process, on its metrics port beside ``/metrics``:

* ``/live``  — 200 while the process serves HTTP at all (the liveness probe);
* ``/ready`` — 200 ``{"status": "ready", "checks": {…}}`` when the dependencies the process
  needs answer, else 503 with the failing check (the readiness probe): ``database`` (a
  ``SELECT 1`` on PostgreSQL — a TCP connect under eventlet, whose hub a blocking libpq
  call would stall — or the writable var directory with SQLite) and ``broker`` (an AMQP
  connection that opens and closes). A result is reused for two seconds so a burst of
  probes costs one check; a process that is stopping answers 503 ``stopping`` at once.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from services.common import config

#: What each process needs before it can do its work; a process not named here needs both.
DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "gateway": ("broker",),  # no database of its own: everything by RPC
    "web": (),  # a client of the gateway over HTTP only
    "psp_simulator": (),  # another company: its own SQLite file
}
CACHE_SECONDS = 2.0

_state: dict[str, Any] = {"stopping": False, "at": 0.0, "result": None}
_lock = threading.Lock()


def dependencies(process: str) -> tuple[str, ...]:
    return DEPENDENCIES.get(process, ("database", "broker"))


def stopping() -> None:
    """From now on ``/ready`` answers 503: a stopping process takes no new work."""
    _state["stopping"] = True


def check_database() -> None:
    current = config.settings()
    if not current.postgres_configured:
        directory = current.var_dir
        if not (directory.is_dir() and os.access(directory, os.W_OK)):
            raise OSError(f"{directory} is not a writable directory")
        return
    from services.common.db import postgres_conninfo, postgres_parts

    if "eventlet" in sys.modules:
        parts = postgres_parts(current)
        socket.create_connection((parts["host"] or "127.0.0.1", int(parts["port"] or 5432)), timeout=2).close()
        return
    import psycopg

    with psycopg.connect(postgres_conninfo(current), connect_timeout=2) as conn:
        conn.execute("SELECT 1")


def check_broker() -> None:
    from services.common.amqp import connect

    connect().close()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "broker": check_broker}


def readiness(names: Iterable[str]) -> tuple[bool, dict[str, str]]:
    """Run the checks (or reuse the last result for a moment); (ready, check → ok/error)."""
    if _state["stopping"]:
        return False, {"process": "stopping"}
    with _lock:
        if _state["result"] is not None and time.monotonic() - _state["at"] < CACHE_SECONDS:
            return _state["result"]
        results: dict[str, str] = {}
        for name in names:
            try:
                CHECKS[name]()
                results[name] = "ok"
            except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason goes out
                results[name] = f"{type(exc).__name__}: {str(exc)[:200]}"
        _state["result"] = (all(v == "ok" for v in results.values()), results)
        _state["at"] = time.monotonic()
        return _state["result"]


def wsgi_app(process: str, metrics_app: Callable[..., Any]) -> Callable[..., Any]:
    names = dependencies(process)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path not in ("/live", "/ready"):
            return metrics_app(environ, start_response)
        ready, checks = (True, {}) if path == "/live" else readiness(names)
        body = json.dumps({"status": ("live" if path == "/live" else "ready") if ready else "unavailable",
                           "process": process, "checks": checks}).encode()
        start_response("200 OK" if ready else "503 Service Unavailable",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds: not worth a log line each."""


def start(process: str, port: int, addr: str, metrics_app: Callable[..., Any]) -> None:
    """Serve ``/metrics``, ``/live`` and ``/ready`` on ``port`` in a daemon thread."""
    server = make_server(addr, port, wsgi_app(process, metrics_app), _Server, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics-health", daemon=True).start()
