"""``python -m services.payments.psp_simulator``: the PSP simulator process (uvicorn, no
eventlet)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from services.common import logs, metrics
from services.common.config import PspSimulatorSettings
from services.payments.psp_simulator.app import create_app

log = logs.get_logger(__name__)


def main() -> int:
    logs.configure("psp_simulator")
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    settings = PspSimulatorSettings.from_env()
    metrics.serve("psp_simulator")
    app = create_app(settings)
    log.info("psp_simulator_started", url=settings.public_url, state=settings.state)
    # on SIGTERM/SIGINT uvicorn finishes the requests in progress, runs the lifespan's end,
    # then ends the process with that signal again
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
