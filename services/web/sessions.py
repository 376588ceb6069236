"""The web session lives in the browser's ``vr_web`` cookie, encrypted and signed (Fernet:
AES-128-CBC + HMAC-SHA256) under ``WEB_SESSION_SECRET``, so that a restart logs nobody out
and any web replica with the same key serves any session, without a store of the web's own.
The browser cannot read the gateway's tokens in it (encrypted) nor change them (signed);
the cookie is HttpOnly, SameSite=Lax, Secure when the portal is https.

A session carries its CSRF synchronizer token, while someone is logged in their tokens and
the account's name and address (kind, grants and trust level are read from the access
token, which carries them anyway), and small page state (flash messages, which draft is
being filled in). It expires ``WEB_SESSION_IDLE`` seconds after the cookie was last issued;
the cookie is issued again when the session changed or is older than :data:`REISSUE`.
Logging out ends the session at the gateway (its tokens are revoked there), so a copy of
the old cookie no longer gets anything from the API. What does not fit under
:data:`MAX_COOKIE` is dropped, least needed first (see :data:`EXPENDABLE`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import time
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from services.common import logs
from services.common.config import Settings, WebSettings
from services.common.secrets import development_secret

COOKIE = "vr_web"
KEY_FILE = "web-session.key"
MIN_KEY_BYTES = 32
#: Largest cookie value (bytes); browsers keep 4096 for name, value and attributes together.
MAX_COOKIE = 3800
#: Seconds after which an unchanged session's cookie is issued again (its idle clock restarts).
REISSUE = 300
#: Page state dropped, in this order, when a session would not fit into the cookie.
EXPENDABLE = ("uploads", "draft_state", "pay_url", "drafts", "registered", "eid")
#: Account fields kept in the cookie; the rest of the account comes from the access token.
ACCOUNT_FIELDS = ("account_id", "kind", "email", "display_name", "organisation_name")
log = logs.get_logger(__name__)


class SessionKeyError(ValueError):
    """WEB_SESSION_SECRET holds a key that is too short."""


@lru_cache(maxsize=256)
def token_claims(access_token: str) -> dict[str, Any]:
    """The access token's claims, unverified: the gateway verifies every use of the token;
    the web only shows what the token says (kind, grants, trust level)."""
    try:
        payload = access_token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}


@dataclass
class Session:
    csrf: str
    auth: dict[str, Any] | None = None  # access/refresh token, expiry, account (name, address)
    data: dict[str, Any] = field(default_factory=dict)  # page state, flash messages
    issued: float = 0.0  # when its cookie was issued; 0: never
    loaded: str = ""  # the state as it came in, to tell whether it changed

    @property
    def account(self) -> dict[str, Any] | None:
        if not self.auth:
            return None
        claims = token_claims(self.auth["access_token"])
        return {**self.auth.get("account", {}), "grants": claims.get("grants", []),
                "trust_level": claims.get("trust_level"), "kind": claims.get("kind", self.auth.get("account", {}).get("kind"))}

    def log_in(self, tokens: dict[str, Any]) -> None:
        self.auth = {**tokens, "account": {}}

    def remember_account(self, me: dict[str, Any]) -> None:
        """The account from ``/api/v1/me``, as far as the pages show it."""
        if self.auth is not None:
            self.auth["account"] = {key: me.get(key) for key in ACCOUNT_FIELDS if me.get(key) is not None}

    def flash(self, message: str) -> None:
        self.data.setdefault("flash", []).append(message)

    def pop_flash(self) -> list[str]:
        return self.data.pop("flash", [])

    def state(self) -> str:
        return json.dumps({"c": self.csrf, "a": self.auth, "d": self.data}, separators=(",", ":"), sort_keys=True)


def session_keys(web: WebSettings, platform: Settings) -> list[bytes]:
    """The configured keys (the first encrypts), else the development key under the var dir."""
    configured = [key.strip().encode("utf-8") for key in web.session_secret.split(",") if key.strip()]
    if any(len(key) < MIN_KEY_BYTES for key in configured):
        msg = f"every WEB_SESSION_SECRET key must be at least {MIN_KEY_BYTES} bytes"
        raise SessionKeyError(msg)
    return configured or [development_secret(Path(platform.var_dir) / KEY_FILE)]


def fernet_of(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"vr-web-session\0" + key).digest()))


class SessionCookies:
    """Turns a ``vr_web`` cookie into a :class:`Session` and back."""

    def __init__(self, keys: list[bytes], idle: int, clock=time.time):
        self.fernet = MultiFernet([fernet_of(key) for key in keys])
        self.idle = idle
        self.clock = clock

    def new(self) -> Session:
        return Session(secrets.token_urlsafe(32))

    def load(self, cookie: str | None) -> Session:
        """The session of that cookie, or a new one (none, expired, tampered with, or under a
        key no longer configured)."""
        if not cookie:
            return self.new()
        now = int(self.clock())
        try:
            token = cookie.encode("ascii")
            state = json.loads(zlib.decompress(self.fernet.decrypt_at_time(token, self.idle, now)))
            session = Session(str(state["c"]), state["a"], dict(state["d"]), issued=float(self.fernet.extract_timestamp(token)))
        except (InvalidToken, UnicodeEncodeError, ValueError, KeyError, TypeError, zlib.error):
            log.info("web_session_refused")  # expired or not ours: a new, empty session
            return self.new()
        session.loaded = session.state()
        return session

    def rotate(self, session: Session) -> Session:
        """A new CSRF token on login and logout (what a page of the old session holds is void);
        the page state moves along."""
        return Session(secrets.token_urlsafe(32), session.auth, session.data)

    def dump(self, session: Session) -> str | None:
        """The cookie to send, or None where the browser's cookie is still good."""
        now = self.clock()
        if session.issued and session.state() == session.loaded and now - session.issued < REISSUE:
            return None
        value = self._seal(session, int(now))
        for key in EXPENDABLE:
            if len(value) <= MAX_COOKIE:
                break
            if session.data.pop(key, None) is not None:
                log.warning("web_session_trimmed", dropped=key)
                value = self._seal(session, int(now))
        if len(value) > MAX_COOKIE:
            log.warning("web_session_too_large", size=len(value))  # the browser would drop it: start afresh
            value = self._seal(self.new(), int(now))
        session.issued, session.loaded = now, session.state()
        return value

    def _seal(self, session: Session, now: int) -> str:
        return self.fernet.encrypt_at_time(zlib.compress(session.state().encode("utf-8"), 9), now).decode("ascii")
