"""Liveness and readiness of every process, on its metrics port beside ``/metrics``:

* ``/live``  — 200 while the process serves HTTP at all (the liveness probe);
* ``/ready`` — 200 ``{"status": "ready", "checks": {…}}`` when the dependencies the process
  needs answer, else 503 with the failing check (the readiness probe): ``database`` (a
  ``SELECT 1`` on PostgreSQL — only a TCP connect under eventlet, whose hub a blocking libpq
  call would stall — or the writable var directory with SQLite) and ``broker`` (an AMQP
  login, or a TCP connect where the process does not use services.common.amqp). This module
  imports neither driver (the web front end may not): db and amqp register their checks. A result is reused for two seconds so a burst of
  probes costs one check; a process that is stopping answers 503 ``stopping`` at once.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import urlparse
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


def _postgres_address(current: config.Settings) -> tuple[str, int]:
    """Host and port from POSTGRES_DSN (URL or ``key=value`` form) or POSTGRES_HOST/PORT."""
    if current.postgres_dsn:
        if "://" in current.postgres_dsn:
            url = urlparse(current.postgres_dsn)
            return url.hostname or "127.0.0.1", url.port or 5432
        parts = dict(item.split("=", 1) for item in current.postgres_dsn.split() if "=" in item)
        return parts.get("host", "127.0.0.1"), int(parts.get("port", 5432))
    return current.postgres_host or "127.0.0.1", int(current.postgres_port or 5432)


def check_database() -> None:
    """SQLite: the var directory is writable; PostgreSQL: its port answers. A process that
    opens the database (``services.common.db``) replaces this by a ``SELECT 1``."""
    current = config.settings()
    if not current.postgres_configured:
        directory = current.var_dir
        if not (directory.is_dir() and os.access(directory, os.W_OK)):
            raise OSError(f"{directory} is not a writable directory")
        return
    socket.create_connection(_postgres_address(current), timeout=2).close()


def check_broker() -> None:
    """The broker's port answers; ``services.common.amqp`` replaces this by an AMQP login."""
    url = urlparse(config.settings().amqp_uri)
    socket.create_connection((url.hostname or "127.0.0.1", url.port or 5672), timeout=2).close()


#: The checks by name; services.common.db and .amqp put stronger ones in when imported.
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
