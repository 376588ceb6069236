"""``python -m services.payments.psp_simulator``: the PSP simulator process (uvicorn, no
eventlet)."""

from __future__ import annotations

import sys

from services.common.asgi import serve
from services.common.config import PspSimulatorSettings
from services.payments.psp_simulator.app import create_app


def main() -> int:
    settings = PspSimulatorSettings.from_env()
    return serve("psp_simulator", lambda: create_app(settings), settings.host, settings.port,
                 url=settings.public_url, state=settings.state)


if __name__ == "__main__":
    sys.exit(main())
