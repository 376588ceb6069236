"""Who is calling: access tokens (bearer header or HTTP-only cookie) verified locally with
the identity service's public keys, checked against the revocations identity broadcasts and
lists from its event store.

Token verification and the authorisation rules are the shared library's
(``services.common.tokens``, ``services.common.authz``): the gateway applies them to
every request without loading any of the identity service's code.
"""

from __future__ import annotations

import time
from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from werkzeug.wrappers import Request

from services.common.authz import ANONYMOUS, Principal, principal_from_claims
from services.common.config import Settings
from services.common.problems import DomainError
from services.common.tokens import AccessTokenVerifier, TokenError, keys_from_jwks

ACCESS_COOKIE = "vr_access"
REFRESH_COOKIE = "vr_refresh"


class RefreshTimer(Timer):
    """nameko's timer, eager, with its interval from GATEWAY_REFRESH_INTERVAL (read when the
    container starts, not at import)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(interval=None, eager=True, **kwargs)

    def setup(self) -> None:
        self.interval = Settings.from_env().gateway_refresh_interval


every_refresh_interval = RefreshTimer.decorator


class Authenticator(DependencyProvider):
    """Verifies access tokens with identity's public keys and refuses revoked ones.

    Keys and revocations come from identity: loaded before the first token is checked, then
    every GATEWAY_REFRESH_INTERVAL seconds (:meth:`refresh`, from the service's timer), and
    the keys also when an unknown key id shows up (at most every 10 s). A key identity no
    longer publishes stops verifying at the next refresh, remembered verifications included.
    Revocations also arrive at once as broadcast events; the list identity derives from its
    event store covers those a restarted or new gateway did not hear.
    """

    def setup(self) -> None:
        self.settings = Settings.from_env()
        self.tokens: AccessTokenVerifier | None = None
        self.jwks: dict[str, Any] | None = None
        self.keys_loaded_at = 0.0
        self.revocations_loaded = False
        self.revoked_sessions: dict[str, float] = {}  # sid -> until (when its tokens have expired)
        self.revoked_subjects: dict[str, tuple[float, float]] = {}  # sub -> (tokens issued up to this are void, until)
        self.verified: dict[str, dict[str, Any]] = {}  # token -> claims (signature checks are costly)

    def get_dependency(self, worker_ctx: Any) -> Authenticator:
        return self

    def refresh(self, identity: Any) -> None:
        """Reload the keys and the revocations from identity."""
        self._load_keys(identity)
        self._load_revocations(identity)

    # -- revocation ------------------------------------------------------------------------
    def revoke_session(self, sid: str, until: float) -> None:
        self.revoked_sessions[sid] = max(until, self.revoked_sessions.get(sid, 0.0))

    def revoke_subject(self, subject: str, at: float, until: float) -> None:
        known_at, known_until = self.revoked_subjects.get(subject, (0.0, 0.0))
        self.revoked_subjects[subject] = (max(at, known_at), max(until, known_until))

    def _load_revocations(self, identity: Any) -> None:
        listed = identity.recent_revocations()
        horizon = float(listed["horizon"])
        for sid, at in listed["sessions"].items():
            self.revoke_session(sid, float(at) + horizon)
        for subject, at in listed["subjects"].items():
            self.revoke_subject(subject, float(at), float(at) + horizon)
        self.revocations_loaded = True
        now = time.time()
        self.revoked_sessions = {s: until for s, until in self.revoked_sessions.items() if until >= now}
        self.revoked_subjects = {s: entry for s, entry in self.revoked_subjects.items() if entry[1] >= now}

    def _revoked(self, claims: dict[str, Any]) -> bool:
        return claims.get("sid") in self.revoked_sessions or claims["iat"] <= self.revoked_subjects.get(claims["sub"], (-1,))[0]

    # -- verification ----------------------------------------------------------------------
    def _load_keys(self, identity: Any) -> None:
        jwks = identity.jwks()
        if jwks != self.jwks:
            self.tokens = AccessTokenVerifier(
                keys_from_jwks(jwks), issuer=self.settings.token_issuer, audience=self.settings.token_audience
            )
            self.jwks = jwks
            self.verified = {}  # checked with keys that may be gone
        self.keys_loaded_at = time.monotonic()

    def _verifier(self, identity: Any, force: bool = False) -> AccessTokenVerifier:
        stale = time.monotonic() - self.keys_loaded_at > 10
        if self.tokens is None or (force and stale):
            self._load_keys(identity)
        return self.tokens

    def claims(self, request: Request, identity: Any) -> dict[str, Any] | None:
        """Verified claims, None for no token. A bad bearer token is a 401; a bad cookie
        counts as no login (a stale cookie must not stop anyone from logging in again)."""
        token, from_cookie = bearer_token(request)
        if token is None:
            return None
        try:
            return self._verified(token, identity)
        except DomainError:
            if from_cookie:
                return None
            raise

    def _verified(self, token: str, identity: Any) -> dict[str, Any]:
        if not self.revocations_loaded:
            self._load_revocations(identity)  # before the first answer, not only at the first tick
        claims = self.verified.get(token)
        if claims is None or claims["exp"] <= time.time():
            claims = self._verify_signature(token, identity)
            if len(self.verified) >= 10_000:
                self.verified.clear()
            self.verified[token] = claims
        if self._revoked(claims):
            raise DomainError("invalid_token", reason="revoked")
        return claims

    def _verify_signature(self, token: str, identity: Any) -> dict[str, Any]:
        try:
            return self._verifier(identity).verify(token)
        except TokenError as exc:
            if exc.reason != "unknown_key":
                raise
        return self._verifier(identity, force=True).verify(token)

    def principal(self, request: Request, identity: Any) -> Principal:
        claims = self.claims(request, identity)
        return ANONYMOUS if claims is None else principal_from_claims(claims)


def bearer_token(request: Request) -> tuple[str | None, bool]:
    """The access token and whether it came from the cookie (rather than the header)."""
    header = request.headers.get("Authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            return None, False  # a back-office client's credentials (handover_routes), no token
        if scheme.lower() != "bearer" or not value.strip():
            raise DomainError("invalid_token", reason="malformed")
        return value.strip(), False
    return request.cookies.get(ACCESS_COOKIE) or None, True


def require_login(principal: Principal) -> Principal:
    if principal.kind == "anonymous":
        raise DomainError("unauthenticated")
    return principal
