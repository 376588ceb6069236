"""Throttling with exponential backoff: failed logins, registrations and verification mails.

Counters live in memory (pure Python, injectable monotonic clock) or, given a
:class:`~services.identity.throttle_store.ThrottleStore`, in identity's own database,
shared by all identity processes and kept across restarts (wall-clock seconds). Each
key (``email:<sha256>``,
``ip:<address>``, both together) may be counted ``free_attempts`` times; every further
count doubles the wait (``base_delay * 2**(count - free_attempts)``, capped at
``max_delay``). A key is forgotten ``forget_after`` seconds after it was last counted,
and the table is bounded (oldest entries dropped) so a spray of random keys cannot
exhaust memory. Unknown e-mails are throttled exactly like known ones (the key is the
address, not the account).

Throttling only ever *slows*: nothing here locks an account or ends its sessions, so a
stranger's wrong passwords cannot lock the owner out. While a key waits, every answer
is the same (``rate_limited`` with Retry-After) before any password is looked at, so
the wait reveals nothing about the password either.

Scope: with a store (what the identity application uses on SQLite and PostgreSQL) one
budget for all identity processes; in memory (the POPO store of tests) one per process.
The per-address limits see the address the gateway passes on: behind a
reverse proxy that is not in TRUSTED_PROXIES every caller has the proxy's address (the
gateway warns about that at start).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from services.identity.domain.errors import InvalidInput
from services.identity.domain.values import normalise_email
from services.identity.throttle_store import ThrottleStore


@dataclass
class _Entry:
    failures: int
    last_failure: float
    blocked_until: float


class RateLimiter:
    def __init__(
        self,
        *,
        free_attempts: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 900.0,
        forget_after: float = 3600.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        store: ThrottleStore | None = None,
        scope: str = "",
    ) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_entries = max_entries
        self.clock = clock
        self.store, self.scope = store, scope
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last_failure >= self.forget_after:
            del self._entries[key]
            return None
        return entry

    def _delay(self, failures: int) -> float:
        excess = failures - self.free_attempts
        return min(self.max_delay, self.base_delay * (2 ** min(excess, 32))) if excess >= 0 else 0.0

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0.0 = now)."""
        if self.store is not None:
            now = self.clock()
            found = self.store.get(self.scope, key, now, self.forget_after)
            return max(0.0, found[1] - now) if found else 0.0
        with self._lock:
            now = self.clock()
            entry = self._live(key, now)
            return max(0.0, entry.blocked_until - now) if entry else 0.0

    def failures(self, key: str) -> int:
        if self.store is not None:
            found = self.store.get(self.scope, key, self.clock(), self.forget_after)
            return found[0] if found else 0
        with self._lock:
            entry = self._live(key, self.clock())
            return entry.failures if entry else 0

    def record_failure(self, key: str) -> float:
        """Count a failure; return the resulting wait in seconds."""
        return self.count(key)[0]

    def count(self, key: str) -> tuple[float, int]:
        """Count an attempt; return the resulting wait in seconds and the count so far."""
        if self.store is not None:
            now = self.clock()
            failures, blocked_until = self.store.count(self.scope, key, now, self.forget_after, self._delay)
            return max(0.0, blocked_until - now), failures
        with self._lock:
            now = self.clock()
            entry = self._live(key, now) or _Entry(0, now, now)
            entry.failures += 1
            entry.last_failure = now
            if delay := self._delay(entry.failures):
                entry.blocked_until = max(entry.blocked_until, now + delay)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return max(0.0, entry.blocked_until - now), entry.failures

    def reset(self, key: str) -> None:
        if self.store is not None:
            self.store.reset(self.scope, key)
            return
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def account_key(email: str) -> str:
    """Limiter key for an (unvalidated) e-mail; hashed so no address sits in memory."""
    try:
        key = normalise_email(email)  # the same normalisation (NFC, case) the login lookup uses
    except (InvalidInput, TypeError, AttributeError):
        key = str(email).strip().lower()
    return "email:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def ip_key(client_ip: str | None) -> str:
    return "ip:" + (client_ip or "-")


def _or_default(given: RateLimiter | None, **defaults: Any) -> RateLimiter:
    # ``is None``, not ``or``: a limiter without entries has length 0 and is falsy
    return RateLimiter(**defaults) if given is None else given


# The budgets (constants on purpose: a setting would invite loosening them per deployment).
LOGIN_PER_PAIR = {"free_attempts": 3, "base_delay": 1.0, "max_delay": 900.0}
LOGIN_PER_ACCOUNT = {"free_attempts": 20, "base_delay": 1.0, "max_delay": 60.0}
LOGIN_PER_IP = {"free_attempts": 30, "base_delay": 1.0, "max_delay": 900.0}
MAIL_PER_ADDRESS = {"free_attempts": 3, "base_delay": 60.0, "max_delay": 3600.0}
MAIL_PER_IP = {"base_delay": 1.0, "max_delay": 900.0}  # free attempts: IDENTITY_MAIL_FREE_PER_IP


class Failure(NamedTuple):
    wait: float  # seconds until the next attempt of this account from this address
    notify_owner: bool  # true once per window: tell the owner that someone is guessing


class LoginThrottle:
    """Failed logins (and wrong current passwords), counted three ways:

    * per account *and* client address — strict (3 free, then 1 s doubling to 15 min):
      the guesser's own address slows down, the owner's does not;
    * per account across addresses — lenient (20 free, then 1 s doubling to 60 s): a
      guesser spread over many addresses slows down, and the owner waits a minute at
      most — never a lockout;
    * per client address across accounts — lenient (30 free, then up to 15 min), since
      NAT, Rathaus terminals and whole offices share addresses: password spraying.

    When the per-account count reaches ``notify_after`` the owner is told once; the
    count (and so the notice) starts again only after an hour without failures.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        per_pair: RateLimiter | None = None,
        per_account: RateLimiter | None = None,
        per_ip: RateLimiter | None = None,
        notify_after: int = 20,
        store: ThrottleStore | None = None,
    ) -> None:
        shared = {"clock": clock, "store": store}
        self.per_pair = _or_default(per_pair, **LOGIN_PER_PAIR, **shared, scope="login_pair")
        self.per_account = _or_default(per_account, **LOGIN_PER_ACCOUNT, **shared, scope="login_account")
        self.per_ip = _or_default(per_ip, **LOGIN_PER_IP, **shared, scope="login_ip")
        self.notify_after = notify_after

    def _keys(self, email: str, client_ip: str | None) -> tuple[str, str, str]:
        account = account_key(email)
        return f"{account}|{ip_key(client_ip)}", account, ip_key(client_ip)

    def retry_after(self, email: str, client_ip: str | None) -> float:
        pair, account, ip = self._keys(email, client_ip)
        wait = max(self.per_pair.retry_after(pair), self.per_account.retry_after(account))
        return max(wait, self.per_ip.retry_after(ip)) if client_ip else wait

    def record_failure(self, email: str, client_ip: str | None) -> Failure:
        pair, account, ip = self._keys(email, client_ip)
        wait = self.per_pair.record_failure(pair)
        account_wait, count = self.per_account.count(account)
        wait = max(wait, account_wait, self.per_ip.record_failure(ip) if client_ip else 0.0)
        return Failure(wait, count == self.notify_after)

    def record_success(self, email: str, client_ip: str | None) -> None:
        # Only the pair is forgiven: one valid login must not whitewash a spray (per
        # address) or a distributed guesser (per account).
        self.per_pair.reset(self._keys(email, client_ip)[0])


class MailThrottle:
    """Registrations and verification resends, which send mail: per address (3 free,
    then 60 s doubling to 1 h — nobody's mailbox gets flooded) and per client address
    (IDENTITY_MAIL_FREE_PER_IP, default 30, free, then 1 s doubling to 15 min). Every accepted request counts, whether or
    not the address has an account, so the answer tells nothing about it."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        per_address: RateLimiter | None = None,
        per_ip: RateLimiter | None = None,
        free_per_ip: int = 30,
        store: ThrottleStore | None = None,
    ) -> None:
        shared = {"clock": clock, "store": store}
        self.per_address = _or_default(per_address, **MAIL_PER_ADDRESS, **shared, scope="mail_address")
        self.per_ip = _or_default(per_ip, free_attempts=free_per_ip, **MAIL_PER_IP, **shared, scope="mail_ip")

    def retry_after(self, email: str, client_ip: str | None) -> float:
        wait = self.per_address.retry_after(account_key(email))
        return max(wait, self.per_ip.retry_after(ip_key(client_ip))) if client_ip else wait

    def record(self, email: str, client_ip: str | None) -> None:
        self.per_address.record_failure(account_key(email))
        if client_ip:
            self.per_ip.record_failure(ip_key(client_ip))
