"""Plumbing shared by the identity application's command groups.

Two stores: the application's event store (Account, EmailIndex, Session — published
via the notification log) and a separate PersonalData store (never published,
erasable; see ``domain/personal_data.py``). The two stores cannot share a transaction.
Commands decide on the Account first (in memory, so invalid tokens fail before any
write), then write PersonalData, then the Account's events. A crash between the writes
leaves: after registration, an orphan PersonalData nobody references (purged when the
race is detected); after a password reset/change, the new password active but the
token not yet consumed — the user simply retries; after an e-mail change, the Account
ahead of PersonalData, caught up on the next read (``email_generation``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import EnvType

from services.common.config import IdentitySettings, Settings
from services.common.erasure import purge_stream, rewrite_event
from services.common.secrets import keyed_digest, secret_from
from services.identity import onetime
from services.identity.application.results import MAIL_VERIFY_EMAIL, MailToSend
from services.identity.domain import (
    Account,
    AccountNotFound,
    EmailIndex,
    InvalidEmail,
    OneTimeTokenInvalid,
    PendingDeletions,
    PersonalData,
    email_index_id,
    normalise_email,
)
from services.identity.eid import IdentityProvider, provider_from_name
from services.identity.keys import KeySet, ensure_dev_keys
from services.identity.passwords import PasswordService
from services.identity.ratelimit import LoginThrottle, MailThrottle
from services.identity.throttle_store import store_of
from services.identity.tokens import TokenService

T = TypeVar("T")
ERASED_ACCOUNT = UUID(int=0)  # stands for an erased account in redacted e-mail index events


def utc_now() -> datetime:
    return datetime.now(UTC)


def load_keyset(settings: IdentitySettings) -> KeySet:
    """Configured keys (IDENTITY_SIGNING_KEY_FILE …) or the key directory, generating a
    development key pair there if it is empty."""
    if settings.signing_key_file:
        return KeySet.from_files(
            signing_kid=settings.signing_key_id or None,
            private_key_file=settings.signing_key_file,
            public_key_files=settings.verification_key_files,
            password=settings.signing_key_password.encode() or None,
        )
    return ensure_dev_keys(Path(settings.keys_dir))


class IdentityBase(Application):
    name = "identity"
    # the one stream of pending deletions gains two events per deletion: snapshots keep it cheap
    snapshotting_intervals = {PendingDeletions: 50}

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        keyset: KeySet | None = None,
        eid_provider: IdentityProvider | None = None,
        passwords: PasswordService | None = None,
        throttle: LoginThrottle | None = None,
        mail_throttle: MailThrottle | None = None,
    ) -> None:
        super().__init__(env)
        self.settings = IdentitySettings.from_env(self.env)
        self._email_digest = functools.partial(
            keyed_digest, "email-index", secret=secret_from(Settings.from_env(self.env))
        )
        self.clock = clock or utc_now
        self.personal_recorder = self.factory.aggregate_recorder(purpose="personal_data")
        self.personal_events = self.factory.event_store(mapper=self.mapper, recorder=self.personal_recorder)
        self.personal_repository: Repository[UUID] = Repository(self.personal_events)
        self.passwords = passwords or PasswordService(
            time_cost=self.settings.argon2_time_cost,
            memory_cost=self.settings.argon2_memory_cost,
            parallelism=self.settings.argon2_parallelism,
        )
        self.tokens = TokenService(
            keyset or load_keyset(self.settings),
            issuer=self.settings.token_issuer,
            audience=self.settings.token_audience,
            access_ttl=self.settings.access_token_ttl,
            clock=lambda: self.clock().timestamp(),
        )
        self.eid_provider = eid_provider or provider_from_name(self.settings.eid_provider)
        # counters in identity's own database: one budget for every identity process, kept
        # across restarts (in memory only on the in-memory POPO store)
        def wall_clock() -> float:
            return self._now().timestamp()

        secret = secret_from(Settings.from_env(self.env))
        store = store_of(self.recorder, secret, wall_clock) if throttle is None or mail_throttle is None else None
        wall = {"store": store, "clock": wall_clock} if store else {}
        self.throttle = throttle or LoginThrottle(**wall)
        self.mail_throttle = mail_throttle or MailThrottle(free_per_ip=self.settings.mail_free_per_ip, **wall)

    # ------------------------------------------------------------- helpers
    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            msg = "clock must return timezone-aware datetimes"
            raise ValueError(msg)
        return now.astimezone(UTC)

    def _seconds(self, seconds: int) -> timedelta:
        return timedelta(seconds=seconds)

    def _index_id(self, normalised_email: str) -> UUID:
        return email_index_id(normalised_email, self._email_digest)

    def _get_index(self, normalised_email: str) -> EmailIndex | None:
        try:
            return self.repository.get(self._index_id(normalised_email))
        except AggregateNotFoundError:
            return None

    def _get_account(self, account_id: UUID | str) -> Account:
        try:
            ref = account_id if isinstance(account_id, UUID) else UUID(str(account_id))
            account: Account = self.repository.get(ref)
        except (AggregateNotFoundError, ValueError):
            raise AccountNotFound(f"no account {account_id}") from None
        if not isinstance(account, Account):
            raise AccountNotFound(f"no account {account_id}")
        return account

    def _find_account(self, email: str) -> Account | None:
        """The live account holding ``email`` (None for malformed/unknown/deleted, or
        with its deletion requested)."""
        try:
            index = self._get_index(normalise_email(email))
        except InvalidEmail:
            return None
        if index is None or index.account_id is None:
            return None
        account = self._get_account(index.account_id)
        return None if account.is_closed else account

    def _get_personal(self, account: Account) -> PersonalData | None:
        """The account's personal data, caught up with its e-mail changes; None if erased."""
        try:
            personal: PersonalData = self.personal_repository.get(account.personal_data_id)
        except AggregateNotFoundError:
            return None
        if account.email_generation > personal.email_generation:
            personal.apply_pending_email(account.email_generation, self._now())
            self._save_personal(personal)
        return personal

    def _save_personal(self, personal: PersonalData) -> None:
        self.personal_events.put(personal.collect_events())

    def _purge_personal(self, personal_data_id: UUID) -> int:
        return purge_stream(self.personal_recorder, personal_data_id)

    def _unlink_email_index(self, account_id: UUID, personal_data_id: UUID) -> int:
        """Redact ``account_id`` out of the stored events of every e-mail index stream the
        account ever claimed (its addresses come from the PersonalData history: call this
        after the index was released and *before* the PersonalData is purged). The
        streams stay — versions, notification positions and other holders' claims are
        untouched, so the address can be registered again — but no stored event leads
        from an address to the erased account any more. Idempotent; returns how many
        events were rewritten."""
        addresses = {getattr(event, "email", None) for event in self.personal_events.get(personal_data_id)} - {None}
        rewritten = 0
        for address in addresses:
            for stored in self.recorder.select_events(self._index_id(address)):
                event = self.mapper.to_domain_event(stored)
                if getattr(event, "account_id", None) == account_id:
                    redacted = type(event)(**{**vars(event), "account_id": ERASED_ACCOUNT})
                    rewrite_event(self.recorder, self.mapper.to_stored_event(redacted))
                    rewritten += 1
        return rewritten

    def _account_from_token(self, token: str) -> Account:
        account_id, _secret = onetime.parse(token)
        try:
            return self._get_account(account_id)
        except AccountNotFound:
            raise OneTimeTokenInvalid("unknown token") from None

    @staticmethod
    def _secret_hash(token: str) -> str:
        return onetime.hash_secret(onetime.parse(token)[1])

    def _update(self, account_id: UUID | str, decide: Callable[[Account], T], *, attempts: int = 3) -> T:
        """load → decide → save for one Account, retrying on concurrent writes."""
        for attempt in range(attempts):
            account = self._get_account(account_id)
            result = decide(account)
            try:
                self.save(account)
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                continue
            return result
        raise AssertionError  # pragma: no cover

    def _verification_mail(self, account: Account, email: str, now: datetime) -> MailToSend:
        issued = onetime.issue(account.id)
        expires = now + self._seconds(self.settings.verification_ttl)
        account.request_email_verification(issued.token_hash, expires, now)
        params = {"token": issued.token, "expires_at": expires.isoformat()}
        return MailToSend(MAIL_VERIFY_EMAIL, email, params, account_id=str(account.id))

    def _new_account(
        self,
        *,
        email: str,
        kind: str,
        password_hash: str | None,
        display_name: str | None,
        organisation_name: str | None,
        created_by: str | None,
        now: datetime,
    ) -> tuple[Account, PersonalData, EmailIndex] | None:
        """Unsaved Account + PersonalData + claimed EmailIndex; None if the address is
        held by another account."""
        index = self._get_index(email)
        if index is not None and index.is_claimed:
            return None
        account_id = uuid4()
        personal = PersonalData.record(
            account_id=account_id,
            email=email,
            display_name=display_name,
            organisation_name=organisation_name,
            now=now,
        )
        if password_hash:
            personal.set_password_hash(password_hash, now, reason="initial")
        account = Account.register(
            kind=kind, personal_data_id=personal.id, now=now, created_by=created_by, account_id=account_id
        )
        if index is None:
            index = EmailIndex.claim_new(self._index_id(email), account.id, now)
        else:
            index.claim(account.id, now)
        return account, personal, index

    def _store_new_account(self, account: Account, personal: PersonalData, index: EmailIndex) -> bool:
        """Save a new account; False if the address was claimed concurrently (the
        event store's optimistic concurrency on the EmailIndex stream decides)."""
        self._save_personal(personal)
        try:
            self.save(account, index)
        except IntegrityError:
            self._purge_personal(personal.id)
            return False
        return True

    def lookup_account_id(self, email: str) -> str | None:
        """Account id for an address. For authorised staff/admin use and tests only —
        never expose to anonymous callers (that would enable enumeration)."""
        account = self._find_account(email)
        return str(account.id) if account else None

    @staticmethod
    def _iso(value: Any) -> Any:
        return value.isoformat() if isinstance(value, datetime) else value
