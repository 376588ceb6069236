"""Create a fresh PostgreSQL database for tests or the bench (drops it first if it exists).

The server, user and password come from the same POSTGRES_* settings the services read
(`make test` and `make bench` set them), so the scratch database lands where the tests look.
"""

from __future__ import annotations

import sys

import psycopg

from services.common import db


def main(name: str) -> None:
    with psycopg.connect(db.maintenance_conninfo(), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "vr_test")
