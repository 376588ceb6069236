"""Shared pieces of ``make bench``: settings, the platform under test, CPU accounting,
percentiles and the printed table. See :mod:`bench.run` for what is measured."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from services.catalog.search import percentile
from tests import support
from tests.support import free_port

ROOT = support.ROOT

# The 25 tenants (AGS): Landkreis Vechta and its 10 Gemeinden, Landkreis Cloppenburg and its 13.
TENANTS = (
    *(f"0346000{n}" for n in range(10)),
    "03460010",
    *(f"034530{n:02d}" for n in range(14)),
)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pg_env() -> dict[str, str]:
    """PostgreSQL settings from the environment (see :mod:`tests.support`), vr_bench unless
    POSTGRES_DSN or POSTGRES_DBNAME names another database."""
    return support.pg_env(default_dbname="vr_bench")


def conninfo(env: dict[str, str]) -> str:
    return support.conninfo(env["POSTGRES_DBNAME"])


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when empty."""
    return percentile(values, min(q, 100) / 100) if values else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def latency_summary(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": ms(pct(values, 50)),
        "p90_ms": ms(pct(values, 90)),
        "p99_ms": ms(pct(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


class BenchPlatform(support.Platform):
    """The real platform processes, plus restarting the gateway with other settings."""

    def restart(self, name: str, **env: str) -> None:
        """Restart a process (``gateway``: every replica) with these settings."""
        self.env.update(env)
        names = [name, *self.gateway_replicas] if name == "gateway" else [name]
        for each in names:
            if each in self.procs:
                self.kill(each, signal.SIGTERM)
        for each in names:
            self.start(each)
        self.wait_ready()

    def set_gateway_replicas(self, replicas: int) -> None:
        """Run ``replicas`` gateway processes on the platform's port from now on."""
        for name in self.gateway_replicas:
            if name in self.procs:
                self.kill(name, signal.SIGTERM)
        self.env["GATEWAY_REPLICAS"] = str(replicas)
        self.gateway_replicas = [f"gateway-{k}" for k in range(2, replicas + 1)]
        for name in self.gateway_replicas:
            self.metrics_ports.setdefault(name, free_port())
        self.restart("gateway")

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items() if proc.poll() is None}


# -- CPU accounting ------------------------------------------------------------------------
def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    close = raw.rindex(")")
    return [raw[raw.index("(") + 1 : close], *raw[close + 2 :].split()]


def _ticks(fields: list[str], children: bool = False) -> int:
    # fields[0] is comm, so utime/stime/cutime/cstime (stat fields 14-17) sit at 12..15 here
    total = int(fields[12]) + int(fields[13])
    if children:
        total += int(fields[14]) + int(fields[15])
    return total


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named process, by PostgreSQL, RabbitMQ and the whole box."""
    out: dict[str, float] = {}
    for name, pid in pids.items():
        fields = _stat_fields(pid)
        if fields:
            out[name] = _ticks(fields) / CLK_TCK
    own = _stat_fields("self")
    out["bench (load generator)"] = _ticks(own) / CLK_TCK if own else 0.0
    postgres = rabbit = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if not fields:
            continue
        if fields[0] == "postgres":  # the postmaster's cutime holds backends that already exited
            postgres += _ticks(fields, children=True)
        elif fields[0] in ("beam.smp", "erl_child_setup", "epmd"):
            rabbit += _ticks(fields)
    out["postgresql"] = postgres / CLK_TCK
    out["rabbitmq"] = rabbit / CLK_TCK
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    out["_box_busy"] = (sum(values) - values[3] - values[4]) / CLK_TCK
    out["_box_iowait"] = values[4] / CLK_TCK
    return out


@dataclass
class CpuWindow:
    """CPU used per process between ``start()`` and ``stop()``, as share of one core."""

    pids: dict[str, int]
    begin: dict[str, float] = field(default_factory=dict)
    started: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def start(self) -> CpuWindow:
        self.begin = cpu_seconds(self.pids)
        self.started = time.monotonic()
        return self

    def stop(self) -> dict[str, Any]:
        end = cpu_seconds(self.pids)
        wall = time.monotonic() - self.started
        cores = os.cpu_count() or 1
        used = {k: end[k] - self.begin.get(k, 0.0) for k in end}
        busy, iowait = used.pop("_box_busy"), used.pop("_box_iowait")
        self.result = {
            "wall_s": round(wall, 2),
            "cores": cores,
            "box_busy_pct_of_all_cores": round(100 * busy / (wall * cores), 1),
            "box_iowait_pct": round(100 * iowait / (wall * cores), 1),
            "per_process_pct_of_one_core": {k: round(100 * v / wall, 1) for k, v in sorted(used.items())},
            # PostgreSQL and RabbitMQ are shared: their figures include other users of the box
            "other_load_pct_of_one_core": round(100 * max(0.0, busy - sum(used.values())) / wall, 1),
        }
        return self.result


# -- output --------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    line = "  ".join("-" * w for w in widths)
    out = [f"\n== {title} ==", "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), line]
    for row in cells:
        out.append("  ".join((c.rjust(w) if i else c.ljust(w)) for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(out)


def worklist_count(conn: psycopg.Connection, schema: str) -> int:
    row = conn.execute(f'SELECT count(*) FROM "{schema}".worklist').fetchone()
    return int(row[0]) if row else 0
