"""What every page handler shares: the process's :class:`Web` context (settings, gateway
client, sessions, catalogs, templates, the tenants), rendering a template in the page's
language, redirects (Post/Redirect/Get) and the error pages."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from services.common import config
from services.common.config import WebSettings
from services.web.gateway import ApiError, Gateway, NotLoggedIn
from services.web.i18n import Texts, load_catalogs
from services.web.sessions import Session, SessionCookies, session_keys

TEMPLATES = Path(__file__).resolve().parent / "templates"
TENANTS_TTL = 300  # s: the list of tenants is reloaded this often


class Web:
    def __init__(self, settings: WebSettings, gateway: Gateway | None = None):
        self.settings = settings
        self.gateway = gateway or Gateway(settings)
        self.sessions = SessionCookies(session_keys(settings, config.settings()), settings.session_idle)
        self.catalogs = load_catalogs()
        self.templates = Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True
        )
        self._tenants: list[dict[str, Any]] = []
        self._tenants_at = 0.0

    def texts(self, lang: str) -> Texts:
        return Texts(lang, self.catalogs[lang])

    async def tenants(self) -> list[dict[str, Any]]:
        if not self._tenants or time.monotonic() - self._tenants_at > TENANTS_TTL:
            self._tenants = (await self.gateway.get("/api/v1/tenants"))["items"]
            self._tenants_at = time.monotonic()
        return self._tenants

    async def tenant_by_slug(self, slug: str) -> dict[str, Any] | None:
        return next((t for t in await self.tenants() if t["slug"] == slug), None)

    async def tenant_by_ags(self, ags: str) -> dict[str, Any] | None:
        return next((t for t in await self.tenants() if t["ags"] == ags), None)


def web_of(request: Request) -> Web:
    return request.app.state.web


def session_of(request: Request) -> Session:
    return request.state.session


def lang_of(request: Request) -> str:
    return request.state.lang


async def api(request: Request, method: str, path: str, **kwargs: Any) -> Any:
    """The gateway's answer for this page's session and language."""
    return await web_of(request).gateway.call(method, path, session=session_of(request), lang=lang_of(request), **kwargs)


async def attempt(request: Request, method: str, path: str, *, passes: tuple[int, ...] = (), **kwargs: Any
                  ) -> tuple[Any, ApiError | None]:
    """A form's call to the gateway: its answer, or the refusal (4xx) to show on the form. A
    failure of the gateway (5xx) and the ``passes`` statuses go on to the error pages."""
    try:
        return await api(request, method, path, **kwargs), None
    except ApiError as error:
        if error.status >= 500 or error.status in passes:
            raise
        return None, error


def require_login(request: Request) -> dict[str, Any]:
    """The logged-in account (citizen or staff: what each may do, the gateway decides)."""
    account = session_of(request).account
    if account is None:
        raise NotLoggedIn()
    return account


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    web = web_of(request)
    texts = web.texts(lang_of(request))
    session = session_of(request)
    html = web.templates.get_template(template).render(
        request=request, _=texts.gettext, t=texts, lang=texts.lang, csrf=session.csrf, account=session.account,
        flash=session.pop_flash(), path=request.url.path, query=request.url.query, **context,
    )
    return HTMLResponse(html, status)


def redirect(url: str) -> RedirectResponse:
    """After a POST: 303 to the page that shows the result (Post/Redirect/Get)."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request, staff: bool = False) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    base = "/verwaltung/anmelden" if staff or request.url.path.startswith("/verwaltung/") else "/konto/anmelden"
    return RedirectResponse(f"{base}?next={quote(target)}", status_code=303)


def safe_next(value: str | None, default: str = "/mein-rathaus/") -> str:
    """Only a path of this portal (no open redirect)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def not_found(request: Request) -> HTMLResponse:
    return render(request, "error.html", 404, title_key="not_found")


def error_page(request: Request, error: ApiError) -> HTMLResponse:
    status = error.status if error.status in (403, 404, 409, 429) else 502 if error.status >= 500 else 400
    return render(request, "error.html", status, title_key="problem", detail=error.detail)
