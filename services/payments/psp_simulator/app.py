"""The Starlette application: merchant API, admin API, pay page and /health, with the
webhook dispatcher running beside the requests for as long as the app lives."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.config import PspSimulatorSettings
from services.common.logs import get_logger
from services.payments.psp_simulator import admin, api, paypage
from services.payments.psp_simulator.errors import ApiError
from services.payments.psp_simulator.simulator import build

log = get_logger(__name__)
HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def health(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse({"error": {"code": code, "message": exc.detail}}, exc.status_code)


def create_app(settings: PspSimulatorSettings) -> Starlette:
    sim = build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(sim.dispatcher.run())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            sim.store.close()
            log.info("psp_simulator_stopped")

    app = Starlette(
        routes=[*api.ROUTES, *admin.ROUTES, *paypage.ROUTES, Route("/health", health)],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.simulator = sim
    return app
