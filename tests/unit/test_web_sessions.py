"""The web's encrypted session cookie (services.web.sessions): another instance with the
same key reads it (a restart, a second replica), the browser can neither read nor change
it, it expires when idle, a key can be rotated, and it stays under the browser's limit; and
the gateway client refreshes a session's tokens once for a page's parallel requests."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from services.common.config import Settings, WebSettings
from services.web.gateway import Gateway
from services.web.sessions import MAX_COOKIE, REISSUE, Session, SessionCookies, SessionKeyError, session_keys

KEY = b"k" * 40
OTHER = b"o" * 40


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def access_token(**claims: object) -> str:
    def part(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")
    return f"{part({'alg': 'EdDSA'})}.{part(claims)}.signature"


def logged_in(cookies: SessionCookies) -> tuple[str, str]:
    session = cookies.new()
    session.log_in({"access_token": access_token(kind="clerk", trust_level="basic", grants=[{"tenant": "03460009"}]),
                    "refresh_token": "refresh-secret", "expires_at": 1.0})
    session.remember_account({"account_id": "a1", "email": "erika@example.org", "display_name": "Erika", "status": "active"})
    session.data["drafts"] = {"03460009:hundeanmeldung": "d1"}
    cookie = cookies.dump(session)
    assert cookie is not None
    return cookie, session.csrf


def test_another_instance_with_the_same_key_continues_the_session() -> None:
    cookie, csrf = logged_in(SessionCookies([KEY], idle=3600))
    session = SessionCookies([KEY], idle=3600).load(cookie)  # the web restarted, or another replica
    assert session.csrf == csrf
    assert session.account == {"account_id": "a1", "email": "erika@example.org", "display_name": "Erika", "kind": "clerk",
                               "trust_level": "basic", "grants": [{"tenant": "03460009"}]}
    assert session.data["drafts"] == {"03460009:hundeanmeldung": "d1"}


def test_the_browser_sees_no_token_and_a_changed_cookie_is_a_new_session() -> None:
    cookies = SessionCookies([KEY], idle=3600)
    cookie, csrf = logged_in(cookies)
    assert "refresh-secret" not in cookie and "erika" not in cookie
    assert b"refresh-secret" not in base64.urlsafe_b64decode(cookie)
    for tampered in (cookie[:-4] + ("AAAA" if not cookie.endswith("AAAA") else "BBBB"), cookie[:40], "x", "ä" * 10, ""):
        session = cookies.load(tampered)
        assert session.account is None and session.csrf != csrf
    assert SessionCookies([OTHER], idle=3600).load(cookie).account is None  # another deployment's key


def test_an_idle_session_expires_and_a_used_one_is_issued_again() -> None:
    clock = Clock()
    cookies = SessionCookies([KEY], idle=3600, clock=clock)
    cookie, _ = logged_in(cookies)
    clock.now += REISSUE - 1
    session = cookies.load(cookie)
    assert session.account is not None
    assert cookies.dump(session) is None  # unchanged and young: the browser's cookie is still good
    session.flash("Gespeichert.")
    assert cookies.dump(session) is not None  # changed
    clock.now += REISSUE
    renewed = cookies.dump(cookies.load(cookie))  # unchanged but old: the idle clock starts again
    assert renewed is not None
    clock.now += 3100
    assert cookies.load(renewed).account is not None
    assert cookies.load(cookie).account is None  # idle for longer than 3600 s


def test_a_rotated_key_still_reads_the_old_cookies() -> None:
    cookie, csrf = logged_in(SessionCookies([OTHER], idle=3600))
    assert SessionCookies([KEY, OTHER], idle=3600).load(cookie).csrf == csrf


def test_the_cookie_stays_under_the_browsers_limit() -> None:
    cookies = SessionCookies([KEY], idle=3600)
    session = cookies.new()
    session.flash("Angemeldet.")
    session.data["uploads"] = {f"attachment-{n:04d}-{n * 7919 % 10007}": f"Scan {n * 31337 % 99991}.pdf" for n in range(400)}
    cookie = cookies.dump(session)
    assert cookie is not None and len(cookie) <= MAX_COOKIE
    kept = cookies.load(cookie)
    assert "uploads" not in kept.data and kept.pop_flash() == ["Angemeldet."]


def test_session_keys_are_long_or_refused_and_generated_for_development(tmp_path) -> None:
    platform = Settings.from_env({"VR_VAR_DIR": str(tmp_path)})
    assert session_keys(WebSettings.from_env({"WEB_SESSION_SECRET": "a" * 32 + ", " + "b" * 32}), platform) == [b"a" * 32, b"b" * 32]
    with pytest.raises(SessionKeyError):
        session_keys(WebSettings.from_env({"WEB_SESSION_SECRET": "zu-kurz"}), platform)
    generated = session_keys(WebSettings.from_env({}), platform)
    assert generated == session_keys(WebSettings.from_env({}), platform) and len(generated[0]) >= 32
    assert (tmp_path / "web-session.key").stat().st_mode & 0o077 == 0


def test_parallel_requests_of_a_page_refresh_the_tokens_once() -> None:
    """Identity ends a session whose old refresh token comes back; requests in flight carry
    the cookie from before the refresh, so the web asks once and shares the answer."""
    refreshed: list[str] = []

    async def gateway(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/refresh":
            refreshed.append(json.loads(request.content)["refresh_token"])
            await asyncio.sleep(0.01)  # the others arrive while it is under way
            return httpx.Response(200, json={"access_token": "new-access", "refresh_token": "new-refresh", "expires_in": 600})
        assert request.headers["authorization"] == "Bearer new-access"
        return httpx.Response(200, json={"ok": True})

    async def page() -> list[Session]:
        client = Gateway(WebSettings.from_env({}), transport=httpx.MockTransport(gateway))
        sessions = [SessionCookies([KEY], idle=3600).new() for _ in range(4)]
        for session in sessions:  # the same cookie, expired access token
            session.log_in({"access_token": "old-access", "refresh_token": "old-refresh", "expires_at": 0.0})
        await asyncio.gather(*(client.get("/api/v1/me", session=s) for s in sessions[:3]))
        await client.get("/api/v1/me", session=sessions[3])  # a moment later, with the old cookie
        await client.close()
        return sessions

    sessions = asyncio.run(page())
    assert refreshed == ["old-refresh"]
    assert {s.auth["refresh_token"] for s in sessions if s.auth} == {"new-refresh"}
