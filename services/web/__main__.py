"""``python -m services.web``: the web front end (uvicorn, no eventlet)."""

from __future__ import annotations

import sys

from services.common.asgi import serve
from services.common.config import WebSettings
from services.common.production import refuse_unsafe_start
from services.web.app import create_app


def main() -> int:
    refuse_unsafe_start("web")
    settings = WebSettings.from_env()
    return serve("web", lambda: create_app(settings), settings.host, settings.port,
                 url=settings.public_url, gateway=settings.gateway_url)


if __name__ == "__main__":
    sys.exit(main())
