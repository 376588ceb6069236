"""Create a fresh PostgreSQL database for tests or the bench (drops it first if it exists)."""

from __future__ import annotations

import sys

import psycopg


def main(name: str) -> None:
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "vr_test")
