"""The case event store split by tenant into partitions (services/common/partitions.py).

:class:`CaseStore` holds one :class:`SubmissionsApp` per partition and routes: a submission
by the tenant its offering names (the map), every other command by the partition its case
id carries — no lookup table, no query of another partition on the hot path. What stays in
partition 0 (unpartitioned): drafts, attachments and their blobs, the applicant's files
index (owner-keyed, no tenant; a draft is submitted into its tenant's partition and marked
submitted in partition 0 afterwards). Per partition: cases, each tenant's reference
sequence, and the applicant's case index of that partition's cases (erasure and export take
the union, closing the index in every partition).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from services.common.partitions import PartitionMap, partition_of_id
from services.common.problems import DomainError
from services.submissions.application import SubmissionsApp, open_submissions
from services.submissions.commands import Offering, SubmitCommand
from services.submissions.domain import Case, ReferenceSequence


class CaseStore:
    """Partitioned like :class:`SubmissionsApp` for the commands and reads of cases."""

    def __init__(self, apps: list[SubmissionsApp], partition_map: PartitionMap):
        if len(apps) != partition_map.partitions:
            raise ValueError("one application per partition")
        self.apps = apps
        self.map = partition_map
        self.primary = self.files = apps[0]
        if len(apps) > 1:
            for app in apps:
                app.files = self.primary
                app.find_case = self.get_case
                app.case_stream = self.case_stream
                app.sequence_floor = self._floor_elsewhere(app)

    @property
    def partitions(self) -> list[SubmissionsApp]:
        return self.apps

    def close(self) -> None:
        for app in self.apps:
            app.close()

    # -- routing -------------------------------------------------------------------------------
    def of_case(self, case_id: UUID | str) -> SubmissionsApp:
        partition = partition_of_id(case_id)
        if partition >= len(self.apps):
            raise DomainError("case_not_found", case_id=str(case_id)[:64])
        return self.apps[partition]

    def of_tenant(self, tenant: str) -> SubmissionsApp:
        return self.apps[self.map.of_tenant(tenant)]

    def _partition_of(self, cmd: SubmitCommand, resolve: Callable[[str, str], Offering]) -> int:
        """Where a submission goes: its offering's tenant's partition (a bad command goes to
        partition 0, which answers it with the same error as ever)."""
        try:
            portal, service_id = cmd.portal, cmd.service_id
            if cmd.draft_id:
                draft = self.primary.get_draft(cmd.draft_id, cmd.principal)
                if draft.case_id:
                    return min(partition_of_id(draft.case_id), len(self.apps) - 1)
                portal, service_id = draft.portal, draft.service_id
            return self.map.of_tenant(resolve(portal, service_id).tenant)
        except DomainError:
            return 0

    # -- commands --------------------------------------------------------------------------------
    def submit_batch(self, commands: list[SubmitCommand], resolve: Callable[[str, str], Offering]) -> list[dict[str, Any]]:
        """One group commit per partition the batch touches; results in the commands' order."""
        if len(self.apps) == 1:
            return self.primary.submit_batch(commands, resolve)
        groups: dict[int, list[int]] = {}
        for i, cmd in enumerate(commands):
            groups.setdefault(self._partition_of(cmd, resolve), []).append(i)
        results: list[dict[str, Any]] = [{}] * len(commands)
        for partition, indexes in groups.items():
            saved = self.apps[partition].submit_batch([commands[i] for i in indexes], resolve)
            for i, result in zip(indexes, saved, strict=True):
                results[i] = result
        return results

    def act(self, case_id: UUID | str, *args: Any) -> dict[str, Any]:
        return self.of_case(case_id).act(case_id, *args)

    def record_fee_paid(self, case_id: str, *args: Any) -> str:
        return self.of_case(case_id).record_fee_paid(case_id, *args)

    def decide_automatically(self, case_id: str, *args: Any) -> str:
        return self.of_case(case_id).decide_automatically(case_id, *args)

    # -- reads of one case -----------------------------------------------------------------------
    def get_case(self, case_id: UUID | str) -> Case:
        return self.of_case(case_id).get_case(case_id)

    def case_stream(self, case_id: UUID) -> Iterable[Any]:
        return self.of_case(case_id).events.get(case_id)

    def case_events(self, case_id: UUID | str) -> list[Any]:
        return self.of_case(case_id).case_events(case_id)

    def case_version(self, case_id: UUID | str) -> int:
        return self.of_case(case_id).case_version(case_id)

    def case_contents(self, case_id: UUID | str) -> dict[str, Any]:
        return self.of_case(case_id).case_contents(case_id)

    def rule_facts(self, case_id: str) -> dict[str, Any]:
        return self.of_case(case_id).rule_facts(case_id)

    def past_cases(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.primary.past_cases(*args, **kwargs)  # reads the read model; each case via case_stream

    # -- across partitions (erasure, export: not the hot path) ---------------------------------
    def applicant_case_ids(self, applicant_ref: str) -> list[str]:
        return [case_id for app in self.apps for case_id in app.applicant_case_ids(applicant_ref)]

    def _floor_elsewhere(self, app: SubmissionsApp) -> Callable[[str, int], int]:
        """The highest reference number the tenant's year reached in any other partition: a
        tenant moved by the map goes on numbering where it stopped (read once per tenant and
        year, when a partition first numbers it)."""
        others = [other for other in self.apps if other is not app]

        def floor(tenant: str, year: int) -> int:
            last = 0
            for other in others:
                with contextlib.suppress(AggregateNotFoundError):
                    last = max(last, other.repository.get(ReferenceSequence.create_id(tenant, year)).last)
            return last

        return floor


def open_case_store(partition_map: PartitionMap | None = None) -> CaseStore:
    """Every partition's application on the configured stores (``CASE_PARTITIONS``)."""
    partition_map = partition_map or PartitionMap.from_settings()
    return CaseStore([open_submissions(k) for k in range(partition_map.partitions)], partition_map)
