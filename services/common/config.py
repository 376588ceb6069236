"""Configuration from the environment, with defaults.

Every service has a ``config.yml`` whose values may be written as ``${VAR:default}``;
:func:`load_config` expands them the same way nameko does, so the same file serves the
nameko container and the plain (non-eventlet) processes such as the relay and projector.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"

_ENV = re.compile(r"\$\{([^}^{:]+)(?::([^}^{]*))?\}")


def expand(value: str) -> str:
    """Replace ``${VAR:default}`` by the environment's value or the default."""

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        return os.environ.get(name, default if default is not None else "")

    return _ENV.sub(repl, value)


def _expand_tree(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _expand_tree(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_expand_tree(value) for value in node]
    if isinstance(node, str):
        expanded = expand(node)
        if expanded != node:
            return yaml.safe_load(expanded) if expanded else expanded
        return node
    return node


def load_config(path: str | Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return _expand_tree(yaml.safe_load(handle) or {})


def var_dir() -> Path:
    """Where embedded (SQLite) data lives: ./var unless VR_VAR_DIR says otherwise."""
    return Path(os.environ.get("VR_VAR_DIR", ROOT / "var"))


def amqp_uri() -> str:
    return os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)


def postgres_configured() -> bool:
    return bool(os.environ.get("POSTGRES_DSN") or os.environ.get("POSTGRES_DBNAME"))


def _postgres_parts() -> dict[str, str]:
    """PostgreSQL connection parts from POSTGRES_DSN or the POSTGRES_* variables."""
    dsn = os.environ.get("POSTGRES_DSN")
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
        "dbname": os.environ["POSTGRES_DBNAME"],
        "host": os.environ.get("POSTGRES_HOST", "127.0.0.1"),
        "port": os.environ.get("POSTGRES_PORT", "5432"),
        "user": os.environ.get("POSTGRES_USER", "postgres"),
        "password": os.environ.get("POSTGRES_PASSWORD", ""),
    }


def postgres_conninfo() -> str:
    parts = _postgres_parts()
    return " ".join(f"{key}={value}" for key, value in parts.items() if value != "")


def schema_for(service: str) -> str:
    """The PostgreSQL schema (or SQLite file stem) a service keeps its data in.

    ``VR_SCHEMA_PREFIX`` lets tests and benches run beside a development instance."""
    return os.environ.get("VR_SCHEMA_PREFIX", "") + service


def eventstore_env(service: str) -> dict[str, str]:
    """eventsourcing settings for one service's event store.

    PostgreSQL when POSTGRES_DSN or POSTGRES_DBNAME is set (each service in its own
    schema, so no service reads another's tables); otherwise an SQLite file under var/.
    """
    if postgres_configured():
        parts = _postgres_parts()
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parts["dbname"],
            "POSTGRES_HOST": parts["host"],
            "POSTGRES_PORT": parts["port"],
            "POSTGRES_USER": parts["user"],
            "POSTGRES_PASSWORD": parts["password"],
            "POSTGRES_SCHEMA": schema_for(service),
            "POSTGRES_LOCK_TIMEOUT": os.environ.get("POSTGRES_LOCK_TIMEOUT", "5"),
            "POSTGRES_POOL_SIZE": os.environ.get("POSTGRES_POOL_SIZE", "4"),
            "CREATE_TABLE": "y",
        }
    var_dir().mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(var_dir() / f"{schema_for(service)}-events.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "10",
        "CREATE_TABLE": "y",
    }
