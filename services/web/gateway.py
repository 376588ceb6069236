"""The web's client of the gateway's public JSON API: one pooled httpx client per process.

A logged-in session's access token is refreshed shortly before it expires (and once more
on a 401); a refresh that fails ends the web session. Problems (``application/problem+json``)
become :class:`ApiError` with the gateway's stable ``code``, in the page's language.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import httpx

from services.common.config import WebSettings
from services.web.sessions import Session

REFRESH_MARGIN = 30  # s before the access token expires
SUCCESSOR_TTL = 30  # s the tokens after a refresh are handed to requests with the old refresh token


class ApiError(Exception):
    def __init__(self, status: int, problem: dict[str, Any]):
        super().__init__(f"{status} {problem.get('code')}")
        self.status = status
        self.problem = problem

    @property
    def code(self) -> str:
        return str(self.problem.get("code") or "")

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")


class NotLoggedIn(Exception):
    """The page needs a login (none, or the gateway no longer accepts the session)."""


def tokens(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "access_token": body["access_token"],
        "refresh_token": body["refresh_token"],
        "expires_at": time.time() + int(body.get("expires_in") or 600),
    }


class Gateway:
    def __init__(self, settings: WebSettings, transport: httpx.AsyncBaseTransport | None = None):
        limits = httpx.Limits(max_connections=settings.gateway_connections, max_keepalive_connections=settings.gateway_connections)
        self.client = httpx.AsyncClient(
            base_url=settings.gateway_url, timeout=settings.gateway_timeout, limits=limits, transport=transport
        )
        self._rotating: dict[str, asyncio.Future] = {}  # sha256(refresh token) -> its refresh under way
        self._successors: dict[str, tuple[float, dict[str, Any]]] = {}  # -> (when, the tokens after it)

    async def close(self) -> None:
        await self.client.aclose()

    async def _send(self, method: str, path: str, lang: str, token: str | None, **kwargs: Any) -> httpx.Response:
        headers = {"Accept": "application/json", "Accept-Language": lang, **kwargs.pop("headers", {})}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def refresh(self, session: Session, lang: str) -> None:
        """New tokens now (e.g. after the trust level was raised: they carry it)."""
        await self._refresh(session, lang)

    async def _refresh(self, session: Session, lang: str) -> None:
        auth = session.auth or {}
        renewed = await self._rotate(str(auth.get("refresh_token", "")), lang)
        if renewed is None:
            session.auth = None
            raise NotLoggedIn()
        session.auth = {**auth, **renewed}

    async def _rotate(self, refresh_token: str, lang: str) -> dict[str, Any] | None:
        """The tokens that follow this refresh token, asked for once: identity rotates refresh
        tokens and ends the session when an old one comes back, and a page's requests in
        flight (the session cookie they carry was issued before the first refresh) would
        present it again. So the answer is shared with them for :data:`SUCCESSOR_TTL`."""
        now = time.monotonic()
        for key in [k for k, (at, _) in self._successors.items() if now - at > SUCCESSOR_TTL]:
            del self._successors[key]
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        if key in self._successors:
            return self._successors[key][1]
        if key not in self._rotating:
            self._rotating[key] = asyncio.ensure_future(self._post_refresh(refresh_token, lang))
            self._rotating[key].add_done_callback(lambda done: self._rotated(key, done))
        return await asyncio.shield(self._rotating[key])

    async def _post_refresh(self, refresh_token: str, lang: str) -> dict[str, Any] | None:
        response = await self._send("POST", "/api/v1/auth/refresh", lang, None, json={"refresh_token": refresh_token})
        return tokens(response.json()) if response.status_code == 200 else None

    def _rotated(self, key: str, done: asyncio.Future) -> None:
        self._rotating.pop(key, None)
        if not done.cancelled() and done.exception() is None and done.result() is not None:
            self._successors[key] = (time.monotonic(), done.result())

    async def call(
        self, method: str, path: str, *, session: Session | None = None, lang: str = "de", auth: bool = True,
        as_bytes: bool = False, **kwargs: Any
    ) -> Any:
        """The JSON answer (None for 204); ApiError for a problem; NotLoggedIn when the
        session's login is gone."""
        logged_in = bool(auth and session is not None and session.auth)
        if logged_in and session.auth["expires_at"] - REFRESH_MARGIN < time.time():
            await self._refresh(session, lang)
        token = session.auth["access_token"] if logged_in else None
        response = await self._send(method, path, lang, token, **kwargs)
        if response.status_code == 401 and logged_in:
            await self._refresh(session, lang)
            response = await self._send(method, path, lang, session.auth["access_token"], **kwargs)
            if response.status_code == 401:
                session.auth = None
                raise NotLoggedIn()
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": "unavailable", "title": response.reason_phrase}
            raise ApiError(response.status_code, problem if isinstance(problem, dict) else {})
        if as_bytes:
            return response.content
        return response.json() if response.content else None

    async def get(self, path: str, **kwargs: Any) -> Any:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.call("POST", path, **kwargs)

    async def raw(self, path: str, **kwargs: Any) -> bytes:
        """A file's bytes (a PDF), GET."""
        return await self.call("GET", path, as_bytes=True, **kwargs)
