"""Web security of every page: the session cookie, security headers and CSRF.

* Session cookie ``vr_web`` (the encrypted session itself, sessions.py): HttpOnly,
  SameSite=Lax, Secure when the portal is https; issued again when the session changed.
* Content-Security-Policy without inline script or style (``'self'`` only; KERN's icons
  are ``data:`` SVGs), ``frame-ancestors 'none'``; ``no-store`` on every page rendered for
  a session (personal pages included), nosniff, a strict referrer policy.
* CSRF: every form carries the session's synchronizer token in a hidden field, and a POST
  must come from the portal's own origin (``Origin``; ``Sec-Fetch-Site`` same-origin or
  none) — checked in :func:`read_form`, which every POST handler uses to read its form.
"""

from __future__ import annotations

import hmac
import time
from urllib.parse import urlsplit

from starlette.datastructures import UploadFile
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from services.common import metrics
from services.web.i18n import LANG_COOKIE, choose
from services.web.sessions import COOKIE

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
ALLOWED_SITES = frozenset({"same-origin", "none"})
MAX_FILES = 10  # file fields on one form page


class CsrfRejected(Exception):
    """A form post without the session's token or from another origin."""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def read_form(request: Request) -> dict[str, str]:
    """The posted form's fields, after the CSRF checks (raises :class:`CsrfRejected`)."""
    return (await read_form_with_files(request))[0]


async def read_form_with_files(request: Request) -> tuple[dict[str, str], dict[str, UploadFile]]:
    """The posted form's fields and its uploaded files (a multipart form), after the CSRF
    checks."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site.lower() not in ALLOWED_SITES:
        raise CsrfRejected("sec-fetch-site")
    sender = request.headers.get("origin")
    if sender is not None and sender.lower() != origin_of(request.app.state.web.settings.public_url):
        raise CsrfRejected("origin")
    form = await request.form(max_files=MAX_FILES)
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    files = {key: value for key, value in form.multi_items() if isinstance(value, UploadFile) and value.filename}
    token = fields.pop("csrf_token", "")
    if not hmac.compare_digest(token.encode(), request.state.session.csrf.encode()):
        raise CsrfRejected("token")
    return fields, files


class WebMiddleware(BaseHTTPMiddleware):
    """Loads the session and the language for a page; sets cookie and headers on its answer."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        started = time.perf_counter()
        web = request.app.state.web
        page = not request.url.path.startswith("/static/")
        if page:
            request.state.session = web.sessions.load(request.cookies.get(COOKIE))
            request.state.lang = choose(request.cookies.get(LANG_COOKIE))
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if page:
            response.headers["Cache-Control"] = "no-store"
            cookie = web.sessions.dump(request.state.session)
            if cookie is not None:
                response.set_cookie(COOKIE, cookie, httponly=True, samesite="lax", secure=web.settings.cookie_secure, path="/")
        route = request.scope.get("route")
        metrics.HTTP_REQUESTS.labels(getattr(route, "path", "static" if not page else "other"), request.method,
                                     str(response.status_code)).observe(time.perf_counter() - started)
        return response
