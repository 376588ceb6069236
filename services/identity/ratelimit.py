"""In-memory login throttling with exponential backoff, per account and per client IP.

Pure Python, no I/O, injectable monotonic clock. Each key (``email:<sha256>``,
``ip:<address>``) may fail ``free_attempts`` times; every further failure doubles the
wait (``base_delay * 2**(failures - free_attempts)``, capped at ``max_delay``). A key
is forgotten ``forget_after`` seconds after its last failure, and the table is bounded
(oldest entries dropped) so a spray of random keys cannot exhaust memory.

Scope: one process. With several identity workers an attacker gets at most one budget
per worker; the durable, cross-process backstop is the Account's lockout
(``AccountLocked`` after IDENTITY_MAX_FAILED_LOGINS failures). Unknown e-mails are
throttled exactly like known ones (the key is the address, not the account).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from services.identity.domain.errors import InvalidInput
from services.identity.domain.values import normalise_email


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
    ) -> None:
        self.free_attempts = free_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None and now - entry.last_failure >= self.forget_after:
            del self._entries[key]
            return None
        return entry

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0.0 = now)."""
        with self._lock:
            now = self.clock()
            entry = self._live(key, now)
            return max(0.0, entry.blocked_until - now) if entry else 0.0

    def failures(self, key: str) -> int:
        with self._lock:
            entry = self._live(key, self.clock())
            return entry.failures if entry else 0

    def record_failure(self, key: str) -> float:
        """Count a failure; return the resulting wait in seconds."""
        with self._lock:
            now = self.clock()
            entry = self._live(key, now) or _Entry(0, now, now)
            entry.failures += 1
            entry.last_failure = now
            excess = entry.failures - self.free_attempts
            if excess >= 0:
                delay = min(self.max_delay, self.base_delay * (2 ** min(excess, 32)))
                entry.blocked_until = max(entry.blocked_until, now + delay)
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return max(0.0, entry.blocked_until - now)

    def reset(self, key: str) -> None:
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


def ip_key(client_ip: str) -> str:
    return "ip:" + client_ip


class LoginThrottle:
    """The two limiters used by login: strict per account, lenient per IP (NAT, Rathaus
    terminals and whole offices share addresses)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        per_account: RateLimiter | None = None,
        per_ip: RateLimiter | None = None,
    ) -> None:
        if per_account is None:
            per_account = RateLimiter(free_attempts=3, base_delay=1.0, max_delay=300.0, clock=clock)
        if per_ip is None:
            per_ip = RateLimiter(free_attempts=30, base_delay=1.0, max_delay=900.0, clock=clock)
        self.per_account = per_account
        self.per_ip = per_ip

    def retry_after(self, email: str, client_ip: str | None) -> float:
        wait = self.per_account.retry_after(account_key(email))
        if client_ip:
            wait = max(wait, self.per_ip.retry_after(ip_key(client_ip)))
        return wait

    def record_failure(self, email: str, client_ip: str | None) -> float:
        wait = self.per_account.record_failure(account_key(email))
        if client_ip:
            wait = max(wait, self.per_ip.record_failure(ip_key(client_ip)))
        return wait

    def record_success(self, email: str) -> None:
        # The IP budget is not reset: one valid login must not whitewash a spray.
        self.per_account.reset(account_key(email))
