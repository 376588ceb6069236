"""Partitions of the case event store: which tenant's cases go where, and how any case id,
notification position or tracking source names its partition without asking a database.

Why partitions: the eventsourcing PostgreSQL recorder takes a table lock per insert (so
notification ids are gap-free and in commit order); writers of one table serialise. Each
partition is its own eventsourcing application (schema ``submissions`` for partition 0,
``submissions_p<k>`` for the others, each able to live on its own server) with its own relay,
so two partitions write and publish in parallel.

Three encodings make routing free of lookups (no cross-partition query on the hot path):

* **tenant → partition**: ``CASE_PARTITION_MAP`` (``AGS-prefix:k``, longest prefix wins, so a
  Land ``09``, a district ``03460`` or one tenant can be pinned), else a stable CRC-32 of the
  AGS modulo ``CASE_PARTITIONS``. Changing the map moves only *new* cases: every case
  carries its partition in its id.
* **case id → partition**: a case of partition 0 keeps today's uuid5 (so every existing id,
  of any version, means partition 0); a case of partition k ≥ 1 gets the same uuid5 with
  version nibble 8 (RFC 9562 "custom") and k in its last 16 bits. A command that carries
  only the case id (actions, payments, rules, hand-over) is routed from the id alone.
* **notification position → source**: a relay of partition k publishes
  ``position = k << 48 | notification id``. Partition 0's positions are unchanged; consumers
  that track positions (eventsourcing's tracking keeps one *maximum* per source) track each
  partition as its own source (``submissions``, ``submissions_p1`` …), so one partition's
  higher ids never make another's events look seen.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from uuid import UUID

from services.common import config

POSITION_BITS = 48  # 2.8e14 notifications per partition before positions of two partitions meet
MAX_PARTITIONS = 1 << 15  # positions stay within PostgreSQL's BIGINT
_ID_MARK_VERSION = 8


def parse_map(raw: str, partitions: int) -> dict[str, int]:
    """``"03460009:1, 09:1"`` → ``{"03460009": 1, "09": 1}``; a partition out of range is an error."""
    pinned: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        prefix, sep, number = item.partition(":")
        if not sep or not prefix.strip().isdigit() or not number.strip().isdigit():
            raise ValueError(f"CASE_PARTITION_MAP: {item!r} is not AGS-prefix:partition")
        if int(number) >= partitions:
            raise ValueError(f"CASE_PARTITION_MAP: partition {number} of {item!r} ≥ CASE_PARTITIONS={partitions}")
        pinned[prefix.strip()] = int(number)
    return pinned


class PartitionMap:
    """Tenant (AGS) → partition number, from the settings (or given explicitly in tests)."""

    def __init__(self, partitions: int = 1, pinned: Mapping[str, int] | None = None):
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise ValueError(f"CASE_PARTITIONS must be between 1 and {MAX_PARTITIONS}")
        self.partitions = partitions
        self.pinned = dict(pinned or {})
        self._prefixes = sorted(self.pinned, key=len, reverse=True)

    @classmethod
    def from_settings(cls, current: config.Settings | None = None) -> PartitionMap:
        current = current or config.settings()
        return cls(current.case_partitions, parse_map(current.case_partition_map, current.case_partitions))

    def of_tenant(self, tenant: str) -> int:
        if self.partitions == 1:
            return 0
        for prefix in self._prefixes:
            if tenant.startswith(prefix):
                return self.pinned[prefix]
        return zlib.crc32(tenant.encode()) % self.partitions


def mark_case_id(case_id: UUID, partition: int) -> UUID:
    """The case id as stored in ``partition`` (unchanged for partition 0)."""
    if partition == 0:
        return case_id
    raw = bytearray(case_id.bytes)
    raw[6] = (raw[6] & 0x0F) | (_ID_MARK_VERSION << 4)
    raw[14:16] = partition.to_bytes(2, "big")
    return UUID(bytes=bytes(raw))


def partition_of_id(case_id: UUID | str) -> int:
    """The partition a case id was created in (0 for every id without the mark)."""
    try:
        value = case_id if isinstance(case_id, UUID) else UUID(str(case_id))
    except ValueError:
        return 0  # not a case id at all: partition 0 answers "case not found"
    return int.from_bytes(value.bytes[14:16], "big") if value.version == _ID_MARK_VERSION else 0


def schema_name(base: str, partition: int) -> str:
    """The service name (schema, SQLite file stem) of one partition's store."""
    return base if partition == 0 else f"{base}_p{partition}"


def partition_of_schema(service: str) -> int:
    """The partition a service name of :func:`schema_name` belongs to (0 for any other name)."""
    base, sep, number = service.rpartition("_p")
    return int(number) if sep and base and number.isdigit() else 0


def relay_process(partition: int) -> str:
    """The process name (logs, metrics port) of one partition's relay."""
    return "relay" if partition == 0 else f"relay-p{partition}"


def encode_position(partition: int, notification_id: int) -> int:
    return notification_id if partition == 0 else (partition << POSITION_BITS) | notification_id


def partition_of_position(position: int) -> int:
    return int(position) >> POSITION_BITS


def source_of_position(base: str, position: int | None) -> str:
    """The tracking source of an integration event of service ``base`` at ``position``."""
    return schema_name(base, partition_of_position(position) if position is not None else 0)
