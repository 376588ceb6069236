"""Chaos switches: the faults of real providers, on demand. Rates are shares from 0 to 1
(rolled per event, status call, failed payment or refund); delays are seconds.

The starting values come from ``PSP_SIMULATOR_CHAOS_*``; ``PUT /admin/chaos`` changes them
until the next start. Every injected fault is counted durably (``GET /admin/stats``) so a
chaos test can report what it survived.
"""

from __future__ import annotations

import dataclasses
import random
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from services.common.config import PspSimulatorSettings
from services.payments.psp_simulator.errors import invalid
from services.payments.psp_simulator.store import Store
from services.payments.psp_simulator.telemetry import CHAOS_INJECTED

MAX_DELAY = 86400.0


@dataclass
class Chaos:
    duplicate_rate: float = 0.0
    delay: float = 0.0
    out_of_order_rate: float = 0.0
    out_of_order_delay: float = 5.0
    drop_rate: float = 0.0
    status_error_rate: float = 0.0
    late_success_rate: float = 0.0
    late_success_delay: float = 5.0
    refund_failure_rate: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: PspSimulatorSettings) -> Chaos:
        values = {name: getattr(settings, f"chaos_{name}") for name in cls.switches()}
        return cls(**values, rng=random.Random(settings.chaos_seed or None))

    @classmethod
    def switches(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "rng")

    def roll(self, rate: float) -> bool:
        """True for a share ``rate`` of the calls."""
        return rate > 0 and self.rng.random() < rate

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in self.switches()}

    def update(self, body: Any) -> None:
        """Change the switches named in ``body`` (all checked before any is changed)."""
        if not isinstance(body, dict):
            raise invalid("body", "expected a JSON object of chaos switches")
        changes = {}
        for name, value in body.items():
            if name not in self.switches():
                raise invalid(name, "unknown chaos switch")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise invalid(name, "expected a number")
            upper = 1.0 if name.endswith("_rate") else MAX_DELAY
            if not 0 <= value <= upper:
                raise invalid(name, f"expected a number from 0 to {upper:g}")
            changes[name] = float(value)
        for name, value in changes.items():
            setattr(self, name, value)


def count(conn: sqlite3.Connection, kind: str) -> None:
    """Record one injected fault of ``kind`` (in the caller's transaction) and in the metrics."""
    conn.execute(
        "INSERT INTO chaos_counts (kind, count) VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET count = count + 1",
        (kind,),
    )
    CHAOS_INJECTED.labels(kind).inc()


def counts(store: Store) -> dict[str, int]:
    return {row["kind"]: row["count"] for row in store.all("SELECT kind, count FROM chaos_counts ORDER BY kind")}
