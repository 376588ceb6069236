"""The merchant API (``/v1``): ``Authorization: Bearer <API key>``, JSON in and out, errors
as ``{"error": {"code", "message"}}``. The platform's payments service is the client."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.payments.psp_simulator import settlement, validation
from services.payments.psp_simulator.chaos import count
from services.payments.psp_simulator.errors import ApiError
from services.payments.psp_simulator.merchants import Merchant, authenticate
from services.payments.psp_simulator.simulator import Simulator, simulator


def _merchant(request: Request, *, status_api: bool = False) -> tuple[Simulator, Merchant]:
    """The simulator and the calling merchant; a call of the status API fails for a share
    of the calls (chaos), as real providers' APIs do at times."""
    sim = simulator(request)
    merchant = authenticate(sim.store, request.headers.get("authorization"))
    if status_api and sim.chaos.roll(sim.chaos.status_error_rate):
        with sim.store.transaction() as conn:
            count(conn, "status_error")
        raise ApiError(500, "internal_error", "internal error, please retry")
    return sim, merchant


def _created(status: int, body: dict, replayed: bool) -> JSONResponse:
    return JSONResponse(body, status, headers={"Idempotent-Replayed": "true"} if replayed else None)


async def create_payment(request: Request) -> Response:
    sim, merchant = _merchant(request)
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    return _created(*sim.provider.create_payment(merchant, key, validation.json_body(await request.body())))


async def get_payment(request: Request) -> Response:
    sim, merchant = _merchant(request, status_api=True)
    return JSONResponse(sim.provider.payment(merchant, request.path_params["payment_id"]))


async def list_payments(request: Request) -> Response:
    reference = request.query_params.get("merchant_reference")
    sim, merchant = _merchant(request, status_api=True)
    if not reference:
        raise ApiError(422, "invalid_request", "merchant_reference is required", field="merchant_reference")
    return JSONResponse({"payments": sim.provider.payments_by_reference(merchant, reference)})


async def create_refund(request: Request) -> Response:
    sim, merchant = _merchant(request)
    key = validation.idempotency_key(request.headers.get("idempotency-key"))
    body = validation.json_body(await request.body() or b"{}")
    return _created(*sim.provider.create_refund(merchant, request.path_params["payment_id"], key, body))


async def get_refund(request: Request) -> Response:
    sim, merchant = _merchant(request, status_api=True)
    return JSONResponse(sim.provider.refund(merchant, request.path_params["refund_id"]))


async def settlement_report(request: Request) -> Response:
    sim, merchant = _merchant(request)
    day = settlement.parse_day(request.path_params["day"])
    return Response(
        settlement.report_csv(sim.store, merchant.merchant_id, day),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="settlement-{merchant.merchant_id}-{day}.csv"'},
    )


ROUTES = [
    Route("/v1/payments", create_payment, methods=["POST"]),
    Route("/v1/payments", list_payments, methods=["GET"]),
    Route("/v1/payments/{payment_id}", get_payment, methods=["GET"]),
    Route("/v1/payments/{payment_id}/refunds", create_refund, methods=["POST"]),
    Route("/v1/refunds/{refund_id}", get_refund, methods=["GET"]),
    Route("/v1/settlements/{day}", settlement_report, methods=["GET"]),
]
