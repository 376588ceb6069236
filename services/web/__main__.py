"""``python -m services.web``: the web front end (uvicorn, no eventlet)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.common import logs, metrics
from services.common.config import WebSettings
from services.common.production import refuse_unsafe_start
from services.web.app import create_app

log = logs.get_logger(__name__)


def main() -> int:
    refuse_unsafe_start("web")
    logs.configure("web")
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    settings = WebSettings.from_env()
    metrics.serve("web")
    app = create_app(settings)
    log.info("web_started", url=settings.public_url, gateway=settings.gateway_url)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
