"""Cross-site request forgery: the state-changing requests the gateway refuses.

Browsers attach our HTTP-only login cookies (``vr_access``, ``vr_refresh``) to requests
that pages of other sites trigger. ``SameSite=Lax`` keeps them off most of those, but not
off requests from a sibling subdomain (same site) nor in every browser, so the gateway
decides itself, for every POST, PUT, PATCH and DELETE before anything else:

* a request a browser marks as made by another site (``Sec-Fetch-Site`` other than
  ``same-origin``, ``same-site`` or ``none``) or by a page of a foreign origin (``Origin``
  other than PUBLIC_BASE_URL's or one of ALLOWED_ORIGINS) is ``403 cross_site_request`` —
  with or without cookies, so login CSRF (logging the victim into the attacker's account)
  is refused too;
* a request carrying one of our cookies, and every login, must declare a JSON body
  (``415 unsupported_media_type`` otherwise, bodiless actions included): a form or a
  ``no-cors`` fetch cannot send that type, and a page that sets it must pass a CORS
  preflight, which the gateway never grants. An attachment upload declares its file's
  type instead (PDF, JPEG, PNG: :data:`RAW_UPLOADS`) — none of them is one a form or a
  ``no-cors`` fetch may send either (only ``text/plain``, ``multipart/form-data`` and
  ``application/x-www-form-urlencoded`` are).

API clients (a bearer token, no cookies, no ``Origin``) are not affected; browsers of
every kind send ``Origin`` with state-changing requests.
"""

from __future__ import annotations

import functools
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

from services.common.config import Settings
from services.common.problems import DomainError
from services.gateway.auth import ACCESS_COOKIE, REFRESH_COOKIE

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SAME_SITE = frozenset({"same-origin", "same-site", "none"})
#: Routes that must be JSON even without cookies (a cross-site login sends none).
ALWAYS_JSON = frozenset({"/api/v1/auth/login"})
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Routes that take a raw file body, and the types they take (never a CORS-safelisted one).
RAW_UPLOADS = {"/api/v1/attachments": frozenset({"application/pdf", "image/jpeg", "image/png"})}


def is_json(mimetype: str) -> bool:
    return mimetype == "application/json" or mimetype.endswith("+json")


def origin(url: str) -> str:
    """``scheme://host[:port]`` as browsers send it in ``Origin`` (default port left out)."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return ""
    host = (parts.hostname or "").lower()
    if port is not None and port != DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    return f"{parts.scheme.lower()}://{host}" if host else ""


@functools.lru_cache(maxsize=8)
def allowed_origins(public_base_url: str, extra: frozenset[str]) -> frozenset[str]:
    return frozenset(filter(None, (origin(public_base_url), *(origin(o) for o in extra))))


def check_request_site(request: Request, settings: Settings) -> None:
    """Raise ``cross_site_request`` or ``unsupported_media_type`` for a forgeable request."""
    if request.method not in STATE_CHANGING:
        return
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in SAME_SITE:
        raise DomainError("cross_site_request")
    sender = request.headers.get("Origin")
    if sender is not None and origin(sender) not in allowed_origins(settings.public_base_url, settings.allowed_origins):
        raise DomainError("cross_site_request")  # "null" (sandboxed frames, data: URLs) included
    cookies = any(name in request.cookies for name in (ACCESS_COOKIE, REFRESH_COOKIE))
    if request.mimetype in RAW_UPLOADS.get(request.path, ()):
        return
    if (cookies or request.path in ALWAYS_JSON) and not is_json(request.mimetype):
        raise DomainError("unsupported_media_type")
