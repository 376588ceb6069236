"""``python -m services.payments.psp_simulator``: the PSP simulator process (uvicorn, no
eventlet); SIGTERM or Ctrl-C stops it after the requests in progress."""

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
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False, lifespan="on")
    log.info("psp_simulator_stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
