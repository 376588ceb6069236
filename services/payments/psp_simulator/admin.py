"""The admin API (``/admin``, ``Authorization: Bearer <admin token>``): merchants, chaos
switches, statistics, the event log, and the operator's levers on payments, webhooks and
settlement reports that tests pull."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.payments.psp_simulator import merchants, settlement, validation, webhooks
from services.payments.psp_simulator.chaos import counts
from services.payments.psp_simulator.errors import invalid
from services.payments.psp_simulator.simulator import Simulator, simulator

MAX_EVENTS = 10000


async def _admin(request: Request) -> tuple[Simulator, Any]:
    """The simulator and the JSON body (None when empty), once the admin token is checked."""
    sim = simulator(request)
    merchants.check_admin(sim.admin_token, request.headers.get("authorization"))
    raw = await request.body()
    body = validation.json_body(raw) if raw.strip() else None
    if body is not None and not isinstance(body, dict):
        raise invalid("body", "expected a JSON object")
    return sim, body


async def put_merchant(request: Request) -> Response:
    sim, body = await _admin(request)
    status, shown = merchants.upsert(sim.store, request.path_params["merchant_id"], body or {})
    return JSONResponse(shown, status)


async def chaos(request: Request) -> Response:
    sim, body = await _admin(request)
    if request.method == "PUT":
        sim.chaos.update(body or {})
    return JSONResponse(sim.chaos.as_dict())


def _grouped(sim: Simulator, table: str) -> dict[str, int]:
    return {row["status"]: row["n"] for row in sim.store.all(f"SELECT status, count(*) AS n FROM {table} GROUP BY status")}


async def stats(request: Request) -> Response:
    sim, _ = await _admin(request)
    attempts = sim.store.one("SELECT coalesce(sum(attempts), 0) AS n FROM deliveries")
    events = sim.store.one("SELECT count(*) AS n FROM events")
    return JSONResponse({
        "chaos_injected": counts(sim.store),
        "payments": _grouped(sim, "payments"),
        "refunds": _grouped(sim, "refunds"),
        "deliveries": _grouped(sim, "deliveries"),
        "delivery_attempts": attempts["n"] if attempts else 0,
        "events": events["n"] if events else 0,
    })


async def events(request: Request) -> Response:
    sim, _ = await _admin(request)
    merchant_id, payment_id = request.query_params.get("merchant_id"), request.query_params.get("payment_id")
    rows = sim.store.all(
        "SELECT id, type, merchant_id, payment_id, created FROM events WHERE (? IS NULL OR merchant_id = ?)"
        " AND (? IS NULL OR payment_id = ?) ORDER BY seq LIMIT ?",
        (merchant_id, merchant_id, payment_id, payment_id, MAX_EVENTS),
    )
    listed = []
    for row in rows:
        deliveries = sim.store.all(
            "SELECT status, attempts, last_status, chaos, due_at, delivered_at FROM deliveries WHERE event_id = ? ORDER BY id",
            (row["id"],),
        )
        listed.append({
            "id": row["id"], "type": row["type"], "merchant_id": row["merchant_id"], "payment_id": row["payment_id"],
            "created": webhooks.iso(row["created"]),
            "deliveries": [
                {"status": d["status"], "attempts": d["attempts"], "last_status": d["last_status"],
                 "chaos": [tag for tag in d["chaos"].split(",") if tag], "due_at": webhooks.iso(d["due_at"]),
                 "delivered_at": webhooks.iso(d["delivered_at"])}
                for d in deliveries
            ],
        })
    return JSONResponse({"events": listed})


async def flush(request: Request) -> Response:
    sim, body = await _admin(request)
    made_due = webhooks.flush(sim.store, (body or {}).get("merchant_id"))
    sim.dispatcher.wake()
    return JSONResponse({"made_due": made_due})


async def late_success(request: Request) -> Response:
    sim, body = await _admin(request)
    return JSONResponse(sim.provider.late_success(request.path_params["payment_id"], (body or {}).get("method")))


async def expire(request: Request) -> Response:
    sim, _ = await _admin(request)
    return JSONResponse(sim.provider.expire(request.path_params["payment_id"]))


async def adjust_settlement(request: Request) -> Response:
    sim, body = await _admin(request)
    day = settlement.parse_day(request.path_params["day"])
    return JSONResponse(settlement.add_adjustment(sim.store, request.path_params["merchant_id"], day, body), 201)


ROUTES = [
    Route("/admin/merchants/{merchant_id}", put_merchant, methods=["PUT"]),
    Route("/admin/chaos", chaos, methods=["GET", "PUT"]),
    Route("/admin/stats", stats, methods=["GET"]),
    Route("/admin/events", events, methods=["GET"]),
    Route("/admin/webhooks/flush", flush, methods=["POST"]),
    Route("/admin/payments/{payment_id}/late-success", late_success, methods=["POST"]),
    Route("/admin/payments/{payment_id}/expire", expire, methods=["POST"]),
    Route("/admin/settlements/{merchant_id}/{day}/adjustments", adjust_settlement, methods=["POST"]),
]
