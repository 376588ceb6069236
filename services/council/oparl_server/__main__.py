"""``python -m services.council.oparl_server``: the development OParl server (uvicorn, no eventlet)."""

from __future__ import annotations

import sys

from services.common.asgi import serve
from services.common.config import OparlServerSettings
from services.council.oparl_server.app import create_app


def main() -> int:
    settings = OparlServerSettings.from_env()
    return serve("oparl_server", lambda: create_app(settings), settings.host, settings.port,
                 url=f"{settings.public_url}/oparl/v1/system")


if __name__ == "__main__":
    sys.exit(main())
