"""PersonalData: everything that identifies a person, kept apart so it can be erased.

Decision (data subject rights, Art. 17 DSGVO): personal data — e-mail address, names,
eID attributes and the password hash — is *not* written to the application's event log.
It lives in this aggregate, which the application stores in a **separate event store**
(``<app>_personal_data`` table / POPO store) that

* is never part of the notification log, so the relay never publishes it and
  projections never copy it;
* is erased on account deletion by physically deleting the aggregate's stream
  (see :mod:`services.identity.erasure`), leaving the Account stream with only an
  ``AccountDeleted`` event and no way back to the person.

Alternatives considered: eventsourcing's cipher encrypts the whole store with one key,
which gives confidentiality but no per-person erasure; crypto-shredding (a key per
person) needs a mutable key table anyway and makes every read decrypt. A separate,
deletable stream is simpler and auditable (tests assert the address is nowhere in
either store after deletion).

The price is two writes per command touching personal data (PII store, then event
log); the application orders them so that a crash in between is harmless or repaired
on the next read (see ``email_generation``).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate


class PersonalData(Aggregate):
    class PersonalDataRecorded(Aggregate.Created):
        account_id: UUID
        email: str
        display_name: str | None
        organisation_name: str | None

        def apply(self, data: PersonalData) -> None:
            data.account_id = self.account_id
            data.email = self.email
            data.display_name = self.display_name
            data.organisation_name = self.organisation_name
            data.password_hash = None
            data.pending_email = None
            data.email_generation = 0
            data.eid = None

    class PasswordHashSet(Aggregate.Event):
        password_hash: str
        reason: str  # "initial" | "change" | "reset" | "rehash"

        def apply(self, data: PersonalData) -> None:
            data.password_hash = self.password_hash

    class PendingEmailSet(Aggregate.Event):
        email: str

        def apply(self, data: PersonalData) -> None:
            data.pending_email = self.email

    class PendingEmailApplied(Aggregate.Event):
        generation: int

        def apply(self, data: PersonalData) -> None:
            if data.pending_email:
                data.email = data.pending_email
            data.pending_email = None
            data.email_generation = self.generation

    class EidAttributesRecorded(Aggregate.Event):
        provider: str
        level: str
        subject: str
        attributes: dict[str, Any]

        def apply(self, data: PersonalData) -> None:
            data.eid = {
                "provider": self.provider,
                "level": self.level,
                "subject": self.subject,
                "attributes": dict(self.attributes),
                "verified_at": self.timestamp,
            }

    if TYPE_CHECKING:
        account_id: UUID
        email: str
        display_name: str | None
        organisation_name: str | None
        password_hash: str | None
        pending_email: str | None
        email_generation: int
        eid: dict[str, Any] | None

    @classmethod
    def record(
        cls,
        *,
        account_id: UUID,
        email: str,
        now: datetime,
        display_name: str | None = None,
        organisation_name: str | None = None,
    ) -> PersonalData:
        return cls._create(
            cls.PersonalDataRecorded,
            id=uuid4(),
            account_id=account_id,
            email=email,
            display_name=display_name,
            organisation_name=organisation_name,
            timestamp=now,
        )

    def set_password_hash(self, password_hash: str, now: datetime, *, reason: str) -> None:
        self.trigger_event(self.PasswordHashSet, password_hash=password_hash, reason=reason, timestamp=now)

    def set_pending_email(self, email: str, now: datetime) -> None:
        self.trigger_event(self.PendingEmailSet, email=email, timestamp=now)

    def apply_pending_email(self, generation: int, now: datetime) -> None:
        """Catch up with the account's ``email_generation`` (idempotent)."""
        if generation > self.email_generation:
            self.trigger_event(self.PendingEmailApplied, generation=generation, timestamp=now)

    def record_eid(self, *, provider: str, level: str, subject: str, attributes: dict[str, Any], now: datetime) -> None:
        self.trigger_event(
            self.EidAttributesRecorded,
            provider=provider,
            level=level,
            subject=subject,
            attributes=dict(attributes),
            timestamp=now,
        )

    def as_dict(self) -> dict[str, Any]:
        """Personal data for views and the Art. 15 export; never the password hash."""
        eid = None
        if self.eid:
            eid = {**self.eid, "verified_at": self.eid["verified_at"].isoformat()}
        return {
            "email": self.email,
            "pending_email": self.pending_email,
            "display_name": self.display_name,
            "organisation_name": self.organisation_name,
            "has_password": self.password_hash is not None,
            "eid": eid,
        }
