"""Running a plain HTTP process (Starlette under uvicorn, no eventlet): the PSP simulator
and the web front end start the same way — JSON logs, /metrics, uvicorn without its own
logging or access log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import uvicorn

from services.common import logs, metrics


def serve(process: str, create: Callable[[], Any], host: str, port: int, **started: Any) -> int:
    """Configure logs and metrics, build the app, log ``<process>_started`` and serve until a
    signal: uvicorn finishes the requests in progress and the lifespan's end, then the process
    ends with that signal."""
    logs.configure(process)
    logging.getLogger("uvicorn").setLevel(logging.WARNING)
    metrics.serve(process)
    app = create()
    logs.get_logger(process).info(f"{process}_started", **started)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, lifespan="on")
    return 0
