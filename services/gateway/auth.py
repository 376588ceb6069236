"""Who is calling: access tokens (bearer header or HTTP-only cookie) verified locally with
the identity service's public keys, checked against revocations broadcast by identity.

Token verification and the authorisation rules are the shared library's
(``services.common.tokens``, ``services.common.authz``): the gateway applies them to
every request without loading any of the identity service's code.
"""

from __future__ import annotations

import time
from typing import Any

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from services.common.authz import ANONYMOUS, Principal, principal_from_claims
from services.common.config import Settings
from services.common.problems import DomainError
from services.common.tokens import AccessTokenVerifier, TokenError, keys_from_jwks

ACCESS_COOKIE = "vr_access"
REFRESH_COOKIE = "vr_refresh"


class Authenticator(DependencyProvider):
    """Verifies access tokens. Keys come from identity (refreshed when an unknown key id
    shows up, at most every 10 s); revocations arrive as broadcast events."""

    def setup(self) -> None:
        self.settings = Settings.from_env()
        self.tokens: AccessTokenVerifier | None = None
        self.keys_loaded_at = 0.0
        self.revoked_sessions: dict[str, float] = {}  # sid -> token expiry
        self.revoked_subjects: dict[str, float] = {}  # sub -> tokens issued up to this time are void
        self.verified: dict[str, dict[str, Any]] = {}  # token -> claims (signature checks are costly)

    def get_dependency(self, worker_ctx: Any) -> Authenticator:
        return self

    # -- revocation ------------------------------------------------------------------------
    def revoke_session(self, sid: str, until: float) -> None:
        self.revoked_sessions[sid] = until
        self._expire()

    def revoke_subject(self, subject: str, at: float) -> None:
        self.revoked_subjects[subject] = max(at, self.revoked_subjects.get(subject, 0.0))

    def _expire(self) -> None:
        now = time.time()
        for sid in [s for s, until in self.revoked_sessions.items() if until < now]:
            del self.revoked_sessions[sid]

    # -- verification ----------------------------------------------------------------------
    def _verifier(self, identity: Any, force: bool = False) -> AccessTokenVerifier:
        stale = time.monotonic() - self.keys_loaded_at > 10
        if self.tokens is None or (force and stale):
            self.tokens = AccessTokenVerifier(
                keys_from_jwks(identity.jwks()),
                issuer=self.settings.token_issuer,
                audience=self.settings.token_audience,
            )
            self.keys_loaded_at = time.monotonic()
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
        claims = self.verified.get(token)
        if claims is None or claims["exp"] <= time.time():
            claims = self._verify_signature(token, identity)
            if len(self.verified) >= 10_000:
                self.verified.clear()
            self.verified[token] = claims
        if claims.get("sid") in self.revoked_sessions or claims["iat"] <= self.revoked_subjects.get(claims["sub"], -1):
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
        if scheme.lower() != "bearer" or not value.strip():
            raise DomainError("invalid_token", reason="malformed")
        return value.strip(), False
    return request.cookies.get(ACCESS_COOKIE) or None, True


def require_login(principal: Principal) -> Principal:
    if principal.kind == "anonymous":
        raise DomainError("unauthenticated")
    return principal
