"""The web front end's Starlette application: routes of the portals, the account pages,
the application forms and the clerk workspace; static files (KERN UX, vendored unchanged);
security middleware; error pages."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.common import logs
from services.common.config import WebSettings
from services.web import account, apply, clerk, council, identity_pages, kpis, mail_links, portal, postbox, rules
from services.web.gateway import ApiError, Gateway, NotLoggedIn
from services.web.pages import Web, error_page, login_redirect, not_found, render
from services.web.security import CsrfRejected, WebMiddleware

STATIC = Path(__file__).resolve().parent / "static"
log = logs.get_logger(__name__)


async def health(request: Request) -> Response:
    return Response('{"status": "ok"}', media_type="application/json")


async def on_not_logged_in(request: Request, exc: Exception) -> Response:
    return login_redirect(request)


async def on_csrf(request: Request, exc: Exception) -> Response:
    log.warning("web_csrf_rejected", reason=str(exc), path=request.url.path)
    return render(request, "error.html", 403, title_key="csrf")


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        return login_redirect(request)
    if exc.status == 404:
        return not_found(request)
    return error_page(request, exc)


async def on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404 and hasattr(request.state, "session"):
        return not_found(request)
    return HTMLResponse(str(exc.detail), exc.status_code)


def create_app(settings: WebSettings, gateway: Gateway | None = None) -> Starlette:
    web = Web(settings, gateway)

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        await web.gateway.close()

    app = Starlette(
        routes=[
            Route("/health", health),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            *account.routes, *mail_links.routes, *identity_pages.routes, *postbox.routes, *kpis.routes, *rules.routes, *clerk.routes,
            *council.routes, *portal.routes, *apply.routes,
        ],
        middleware=[Middleware(GZipMiddleware, minimum_size=500), Middleware(WebMiddleware)],
        exception_handlers={
            NotLoggedIn: on_not_logged_in, CsrfRejected: on_csrf, ApiError: on_api_error, HTTPException: on_http,
        },
        lifespan=lifespan,
    )
    app.state.web = web
    return app
