"""Which access tokens are void before they expire — read from the event store.

The gateway verifies access tokens on its own, so it must be told which ones a logout, a
replayed refresh token, a new password, a lock, a revoked grant or a deletion voided.
Identity broadcasts each at once; a gateway that was not listening (restarted, newly
started) asks for this list, on start and periodically. It is derived from identity's
durable state, the events that voided sessions, so no restart of either service loses one.

Only events younger than an access token's lifetime plus the verifiers' leeway (the
*horizon*) matter: every token they voided has expired since. The notification log is in
commit order, which is event-time order up to the duration of a transaction, so a binary
search over notification ids finds where the window begins (O(log n) single-row reads,
with :data:`SLACK` for that disorder), and only the window's notifications of the voiding
event types are read (a topic filter). That is cheaper than keeping another aggregate or
table in step: nothing more is written on logout, and the log is already indexed by id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.utils import get_topic

from services.common.tokens import LEEWAY
from services.identity.application.base import IdentityBase
from services.identity.domain import Account, Session

#: Events that void one session's access tokens.
SESSION_EVENTS = frozenset({get_topic(Session.SessionRevoked)})
#: Events that void every access token issued to an account until then.
ACCOUNT_EVENTS = frozenset(
    get_topic(cls)
    for cls in (Account.PasswordChanged, Account.AccountLocked, Account.SessionsRevoked, Account.AccountDeleted,
                Account.RoleRevoked)
)
SLACK = timedelta(minutes=5)  # how far commit order may stray from event time
PAGE = 500


class RevocationQueries(IdentityBase):
    _window_hint = 0  # a notification id known to be older than any window asked for later

    def recent_revocations(self) -> dict[str, Any]:
        """``{"horizon": s, "sessions": {session_id: revoked_at}, "subjects": {account_id:
        revoked_at}}``, times in epoch seconds: a token of a listed session, or issued to a
        listed account at or before its time, is void; entries older than ``horizon``
        seconds are left out (their tokens have expired)."""
        horizon = self.settings.access_token_ttl + LEEWAY
        since = self._now() - timedelta(seconds=horizon)
        sessions: dict[str, float] = {}
        subjects: dict[str, float] = {}
        start = self._window_start(since - SLACK)
        while True:
            notes = self.recorder.select_notifications(start, PAGE, topics=sorted(SESSION_EVENTS | ACCOUNT_EVENTS))
            for note in notes:
                event = self.mapper.to_domain_event(note)
                if event.timestamp >= since:
                    listed = sessions if note.topic in SESSION_EVENTS else subjects
                    key = str(event.originator_id)
                    listed[key] = max(listed.get(key, 0.0), event.timestamp.timestamp())
            if len(notes) < PAGE:
                return {"horizon": horizon, "sessions": sessions, "subjects": subjects}
            start = notes[-1].id + 1

    def _window_start(self, since: datetime) -> int:
        """The first notification id whose event is not older than ``since`` (or one past
        the last); binary search from the last answer, which only moves forward."""
        low, high = self._window_hint, self.recorder.max_notification_id() or 0
        while low <= high:
            middle = (low + high) // 2
            found = self.recorder.select_notifications(middle, 1)
            if not found or self.mapper.to_domain_event(found[0]).timestamp >= since:
                high = middle - 1
            else:
                low = found[0].id + 1
        self._window_hint = low
        return low
