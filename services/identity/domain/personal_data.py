"""PersonalData: everything that identifies a person, kept apart so it can be erased.

Decision (data subject rights, Art. 17 DSGVO): personal data — e-mail address, names,
eID attributes and the password hash — is *not* written to the application's event log.
It lives in this aggregate, which the application stores in a **separate event store**
(``<app>_personal_data`` table / POPO store) that

* is never part of the notification log, so the relay never publishes it and
  projections never copy it;
* is erased on account deletion by physically deleting the aggregate's stream
  (:func:`services.common.erasure.purge_stream`), leaving the Account stream with only an
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
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event


class PersonalData(Aggregate):
    @event("PersonalDataRecorded")
    def __init__(
        self,
        account_id: UUID,
        email: str,
        display_name: str | None,
        organisation_name: str | None,
        timestamp: datetime,
    ) -> None:
        self.account_id = account_id
        self.email = email
        self.display_name = display_name
        self.organisation_name = organisation_name
        self.password_hash: str | None = None
        self.pending_email: str | None = None
        self.email_generation = 0
        self.eid: dict[str, Any] | None = None
        self.profile: dict[str, Any] | None = None

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
        """A new stream with a random id (eventsourcing's default ``create_id``: uuid4)."""
        return cls(
            account_id=account_id,
            email=email,
            display_name=display_name,
            organisation_name=organisation_name,
            timestamp=now,
        )

    def set_password_hash(self, password_hash: str, now: datetime, *, reason: str) -> None:
        self._password_hash_set(password_hash=password_hash, reason=reason, timestamp=now)

    def set_pending_email(self, email: str, now: datetime) -> None:
        self._pending_email_set(email=email, timestamp=now)

    def apply_pending_email(self, generation: int, now: datetime) -> None:
        """Catch up with the account's ``email_generation`` (idempotent)."""
        if generation > self.email_generation:
            self._pending_email_applied(generation=generation, timestamp=now)

    def record_eid(self, *, provider: str, level: str, subject: str, attributes: dict[str, Any], now: datetime) -> None:
        self._eid_attributes_recorded(
            provider=provider, level=level, subject=subject, attributes=dict(attributes), timestamp=now
        )

    def set_profile(self, profile: dict[str, Any], now: datetime) -> None:
        """The prefill profile (checked by :func:`services.identity.domain.profile.check_profile`)."""
        self._profile_set(profile=dict(profile), timestamp=now)

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
            "profile": getattr(self, "profile", None),
        }

    # Events: the methods below only change state (they also run on replay); the
    # command's ``now`` is the event timestamp.
    @event("PasswordHashSet")
    def _password_hash_set(self, password_hash: str, reason: str, timestamp: datetime) -> None:
        # reason: "initial" | "change" | "reset" | "rehash"
        self.password_hash = password_hash

    @event("PendingEmailSet")
    def _pending_email_set(self, email: str, timestamp: datetime) -> None:
        self.pending_email = email

    @event("PendingEmailApplied")
    def _pending_email_applied(self, generation: int, timestamp: datetime) -> None:
        if self.pending_email:
            self.email = self.pending_email
        self.pending_email = None
        self.email_generation = generation

    @event("ProfileSet")
    def _profile_set(self, profile: dict[str, Any], timestamp: datetime) -> None:
        self.profile = {**profile, "updated_at": timestamp.isoformat()}

    @event("EidAttributesRecorded")
    def _eid_attributes_recorded(
        self, provider: str, level: str, subject: str, attributes: dict[str, Any], timestamp: datetime
    ) -> None:
        self.eid = {
            "provider": provider,
            "level": level,
            "subject": subject,
            "attributes": dict(attributes),
            "verified_at": timestamp,
        }
