"""PendingDeletions: the accounts whose deletion was requested and is not complete yet.

Deleting an account takes steps in two services (identity, then the erasure of the
applicant's cases in submissions, then identity again); any of them may fail. The request
is recorded here in the same transaction as the account's ``DeletionRequested``, so the
identity service can find and retry every unfinished deletion until it is complete. One
stream for the whole deployment: deletions are rare, snapshots keep it cheap to load.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

PENDING_DELETIONS_ID = uuid5(NAMESPACE_URL, "https://virtuelles-rathaus.de/identity/pending-deletions")


class PendingDeletions(Aggregate):
    @event("Started")
    def __init__(self, id: UUID, timestamp: datetime) -> None:  # the stream id: eventsourcing passes it on
        self.pending: dict[str, bool] = {}  # account id -> whether the account's cases need erasing

    @classmethod
    def start(cls, now: datetime) -> PendingDeletions:
        return cls(id=PENDING_DELETIONS_ID, timestamp=now)

    def add(self, account_id: UUID, erase_cases: bool, now: datetime) -> None:
        if str(account_id) not in self.pending:
            self._deletion_queued(account_id=str(account_id), erase_cases=erase_cases, timestamp=now)

    def remove(self, account_id: UUID, now: datetime) -> None:
        if str(account_id) in self.pending:
            self._deletion_done(account_id=str(account_id), timestamp=now)

    @event("DeletionQueued")
    def _deletion_queued(self, account_id: str, erase_cases: bool, timestamp: datetime) -> None:
        self.pending[account_id] = erase_cases

    @event("DeletionDone")
    def _deletion_done(self, account_id: str, timestamp: datetime) -> None:
        self.pending.pop(account_id, None)
