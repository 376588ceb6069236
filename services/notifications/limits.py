"""The per-recipient rate limit: at most ``limit`` mails to one recipient per ``window``.

Why: a loop (a misconfigured clerk tool, a flapping payment) must not flood an inbox, nor
make our SMTP relay look like a spammer. A message over the limit is not dropped: it is
deferred (status ``deferred``) to when the oldest mail of the window leaves it, and counted
(``vr_notifications_deferred_total``). Counted from the outbox when a recipient is first
seen in a send round, then in memory for the rest of the round.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta


class RecipientLimit:
    def __init__(self, limit: int, window: timedelta, sent_since: Callable[[str, str], list[str]]):
        self.limit = limit
        self.window = window
        self.sent_since = sent_since  # (recipient, since ISO) -> first-attempt times in the window
        self._times: dict[str, list[datetime]] = {}

    def check(self, recipient: str, now: datetime) -> datetime | None:
        """None (and counted) if a mail to ``recipient`` may leave now; else when it may."""
        start = now - self.window
        times = self._times.get(recipient)
        if times is None:
            times = [datetime.fromisoformat(t) for t in self.sent_since(recipient, start.isoformat())]
        times = [t for t in times if t > start]
        self._times[recipient] = times
        if len(times) >= self.limit:
            return min(times) + self.window
        times.append(now)
        return None
