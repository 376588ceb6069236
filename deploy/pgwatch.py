"""Watch PostgreSQL's client connections while ``make test`` runs and say, when stopped, the
peak against ``max_connections`` and who held them then — a test part that fails for want of
connections (CI allows 100; a platform holds ~55) names the culprits in its log.

``python deploy/pgwatch.py OUT`` polls once a second over one connection of its own and
rewrites OUT with the summary on every new peak, so the file is right however it is stopped.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psycopg

from services.common import db

QUERY = (
    "SELECT coalesce(nullif(application_name, ''), '(tests)') AS who, datname, count(*) "
    "FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1, 2 ORDER BY 3 DESC"
)


def main(out: Path) -> None:
    stop = False

    def ended(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, ended)
    signal.signal(signal.SIGINT, ended)
    with psycopg.connect(db.maintenance_conninfo(), autocommit=True) as conn:
        limit = conn.execute("SHOW max_connections").fetchone()[0]
        peak = -1
        parent = os.getppid()
        while not stop and os.getppid() == parent:  # an interrupted make test leaves none behind
            rows = conn.execute(QUERY).fetchall()
            total = sum(n for _, _, n in rows)
            if total > peak:
                peak = total
                lines = [f"peak PostgreSQL connections {total} of max_connections {limit} at {time.strftime('%H:%M:%S')}:"]
                lines += [f"  {n:4d} {who} ({dbname})" for who, dbname, n in rows[:25]]
                out.write_text("\n".join(lines) + "\n")
            time.sleep(1)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
