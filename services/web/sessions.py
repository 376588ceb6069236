"""The web's own session store: the gateway's tokens live here, server-side, never in the
browser. The browser holds only an opaque random id in an HttpOnly, SameSite=Lax cookie
(Secure when the portal is served over https). Each session carries its CSRF synchronizer
token and, while someone is logged in, their tokens and the account from ``/api/v1/me``.

In memory, per process: a restart logs everyone out (they log in again); idle sessions
expire after ``WEB_SESSION_IDLE`` seconds and the store never grows past ``MAX_SESSIONS``.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

COOKIE = "vr_web"
MAX_SESSIONS = 100_000


@dataclass
class Session:
    sid: str
    csrf: str
    seen: float
    auth: dict[str, Any] | None = None  # access/refresh token, expiry, account
    data: dict[str, Any] = field(default_factory=dict)  # form answers in progress, flash messages
    fresh: bool = False  # the cookie must be (re)sent

    @property
    def account(self) -> dict[str, Any] | None:
        return self.auth["account"] if self.auth else None

    def flash(self, message: str) -> None:
        self.data.setdefault("flash", []).append(message)

    def pop_flash(self) -> list[str]:
        return self.data.pop("flash", [])


class SessionStore:
    def __init__(self, idle: int, clock=time.monotonic):
        self.idle = idle
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def _new(self) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), self.clock(), fresh=True)
        self._sessions[session.sid] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    def load(self, sid: str | None) -> Session:
        """The session of that cookie, or a new one (an unknown or expired id is not reused)."""
        now = self.clock()
        session = self._sessions.get(sid or "")
        if session is None or now - session.seen > self.idle:
            if session is not None:
                del self._sessions[session.sid]
            return self._new()
        session.seen = now
        self._sessions.move_to_end(session.sid)
        return session

    def rotate(self, session: Session) -> Session:
        """A new id and CSRF token on login and logout (no session fixation); the data moves."""
        self._sessions.pop(session.sid, None)
        renewed = self._new()
        renewed.auth, renewed.data = session.auth, session.data
        return renewed
