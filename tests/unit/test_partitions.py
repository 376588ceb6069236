"""The case partition map and the encodings that route without a lookup
(services/common/partitions.py)."""

from __future__ import annotations

from uuid import UUID, uuid4, uuid5

import pytest

from services.common import config
from services.common.partitions import (
    PartitionMap,
    encode_position,
    mark_case_id,
    parse_map,
    partition_of_id,
    partition_of_position,
    relay_process,
    schema_name,
    source_of_position,
)
from services.submissions.domain import case_id_for


def test_one_partition_is_todays_store() -> None:
    one = PartitionMap.from_settings(config.Settings.from_env({}))
    assert one.partitions == 1 and one.of_tenant("03460009") == 0
    case_id = case_id_for("03460009", "citizen:erika", "k1")
    assert mark_case_id(case_id, 0) == case_id and partition_of_id(case_id) == 0
    assert schema_name("submissions", 0) == "submissions" and relay_process(0) == "relay"
    assert encode_position(0, 42) == 42 and source_of_position("submissions", 42) == "submissions"


def test_the_map_pins_tenants_and_laender_longest_prefix_first_and_hashes_the_rest() -> None:
    current = config.Settings.from_env({"CASE_PARTITIONS": "3", "CASE_PARTITION_MAP": "03:1, 03460009:2,09:0"})
    partitions = PartitionMap.from_settings(current)
    assert partitions.of_tenant("03460009") == 2  # the tenant beats its Land
    assert partitions.of_tenant("03460006") == 1  # Niedersachsen
    assert partitions.of_tenant("09162000") == 0  # Bayern
    spread = {partitions.of_tenant(f"05{n:06d}") for n in range(200)}  # unpinned: a stable hash
    assert spread == {0, 1, 2}
    assert all(partitions.of_tenant(f"05{n:06d}") == PartitionMap(3).of_tenant(f"05{n:06d}") for n in range(50))


@pytest.mark.parametrize("raw", ["03460009", "03460009:x", "abc:1", "03:5"])
def test_a_bad_map_is_refused_when_read(raw: str) -> None:
    with pytest.raises(ValueError, match="CASE_PARTITION_MAP"):
        parse_map(raw, 2)


def test_a_case_id_names_its_partition_and_every_unmarked_id_is_partition_0() -> None:
    base = case_id_for("03460009", "citizen:erika", "k1")
    for partition in (1, 2, 700):
        marked = mark_case_id(base, partition)
        assert partition_of_id(marked) == partition == partition_of_id(str(marked))
        assert marked != base and marked == mark_case_id(base, partition)  # deterministic: retries find it
        assert UUID(str(marked)).version == 8
    assert partition_of_id(uuid4()) == 0 and partition_of_id(uuid5(base, "x")) == 0
    assert partition_of_id("not-a-uuid") == 0


def test_positions_of_two_partitions_never_meet_and_are_tracked_apart() -> None:
    assert partition_of_position(encode_position(1, 5)) == 1 and partition_of_position(5) == 0
    assert encode_position(1, 1) > encode_position(0, 10**12)
    assert source_of_position("submissions", encode_position(1, 5)) == "submissions_p1"
    assert source_of_position("payments", 17) == "payments" and source_of_position("submissions", None) == "submissions"
    assert encode_position(32767, 2**48 - 1) < 2**63  # a PostgreSQL BIGINT
