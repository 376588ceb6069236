"""EmailIndex: one tiny aggregate per normalised e-mail address.

Its id is derived from the address by a keyed hash under the deployment secret
(``VR_SECRET_KEY``; :func:`~services.identity.domain.values.email_index_id`), so two
concurrent registrations of the same address both try to write version 1 of the same
stream and the event store's optimistic concurrency lets exactly one win — uniqueness
without a unique index or a lock — while nobody without the secret can compute the id
of a guessed address. The account id itself is random (uuid4): deriving it from the
address would put the address (or a guessable hash of it) into every event of the
account forever.

On deletion or e-mail change the index is *released* (the stream stays, pointing
nowhere) and the address can be claimed again by appending to the same stream. The
index events contain no address. When an account is erased, the application redacts
its id out of the stored events of every index stream it ever claimed
(``IdentityBase._unlink_email_index``), so the address no longer leads to the account.
Redacted rather than deleted: the stream must stay whole for the next claim of the
address, and the notification log keeps no gaps. What remains is the events' place in
the log beside the account's own; reading anything from that needs the event store, the
deployment secret and the guessed address together.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from services.identity.domain.errors import EmailAlreadyInUse, NotPermitted


class EmailIndex(Aggregate):
    @event("EmailClaimed")
    def __init__(
        self,
        id: UUID,  # the stream id (keyed hash of the address): eventsourcing passes it on, it is no event attribute
        account_id: UUID,
        timestamp: datetime,
    ) -> None:
        self.account_id: UUID | None = account_id

    @classmethod
    def claim_new(cls, index_id: UUID, account_id: UUID, now: datetime) -> EmailIndex:
        return cls(id=index_id, account_id=account_id, timestamp=now)

    @property
    def is_claimed(self) -> bool:
        return self.account_id is not None

    def claim(self, account_id: UUID, now: datetime) -> None:
        if self.account_id == account_id:
            return
        if self.account_id is not None:
            raise EmailAlreadyInUse("address is in use")
        self._email_reclaimed(account_id=account_id, timestamp=now)

    def release(self, account_id: UUID, now: datetime) -> None:
        if self.account_id != account_id:
            raise NotPermitted("address is not held by this account")
        self._email_released(timestamp=now)

    @event("EmailReclaimed")
    def _email_reclaimed(self, account_id: UUID, timestamp: datetime) -> None:
        self.account_id = account_id

    @event("EmailReleased")
    def _email_released(self, timestamp: datetime) -> None:
        self.account_id = None
