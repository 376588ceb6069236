"""The OParl server's Starlette app: the system, its body, external lists with pagination
(``elementsPerPage``, ``page``, ``links.next``) and the filters ``modified_since`` /
``modified_until`` / ``created_since`` / ``created_until``, every object under its id, tiny
PDF files, and two development switches:

- ``POST /_chaos`` ``{"delay": s, "fail_rate": 0..1, "malformed_rate": 0..1, "bad_objects": bool}``
  (each optional) — answers wait, fail with HTTP 500, list pages come as broken JSON, lists
  carry invalid objects;
- ``POST /_touch`` ``{"kind": "paper"|"meeting"|"organization", "number": n, "name": "…"}`` —
  renames an object and sets its ``modified`` to now (for incremental syncs).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.common.config import OparlServerSettings
from services.council.oparl_server.fixture import bad_objects, build

LISTS = {"organizations": "organizations", "meetings": "meetings", "papers": "papers", "people": "people"}
EMPTY_LISTS = ("agendaitems", "consultations", "files", "locations", "legislativeterms", "memberships")
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
MAX_PAGE = 100


@dataclass
class Chaos:
    delay: float = 0.0
    fail_rate: float = 0.0
    malformed_rate: float = 0.0
    bad_objects: bool = False


def _instant(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def create_app(settings: OparlServerSettings, today: date | None = None) -> Starlette:
    base = settings.public_url
    api = f"{base}/oparl/v1"
    data = build(base, today)
    chaos = Chaos(settings.delay, settings.fail_rate, settings.malformed_rate, settings.bad_objects)
    dice = random.Random()

    async def disturbed() -> Response | None:
        if chaos.delay:
            await asyncio.sleep(chaos.delay)
        if chaos.fail_rate and dice.random() < chaos.fail_rate:
            return JSONResponse({"error": "simulated failure"}, 500)
        return None

    def oparl(body: Any) -> Response:
        return Response(json.dumps(body, ensure_ascii=False), media_type="application/json")

    async def system(request: Request) -> Response:
        return await disturbed() or oparl(data["system"])

    def page_of(request: Request, items: list[dict[str, Any]], url: str) -> Response:
        params = request.query_params
        for key, keep in (("modified_since", lambda o, t: _instant(o["modified"]) >= t),
                          ("modified_until", lambda o, t: _instant(o["modified"]) <= t),
                          ("created_since", lambda o, t: _instant(o.get("created", o["modified"])) >= t),
                          ("created_until", lambda o, t: _instant(o.get("created", o["modified"])) <= t)):
            if key in params:
                bound = _instant(params[key])
                if bound is None:
                    return JSONResponse({"error": f"{key} is no date-time"}, 400)
                items = [o for o in items if "modified" in o and keep(o, bound)]
        try:
            per_page = max(1, min(int(params.get("elementsPerPage", "20")), MAX_PAGE))
            page = max(1, int(params.get("page", "1")))
        except ValueError:
            return JSONResponse({"error": "elementsPerPage and page are integers"}, 400)
        total_pages = max(1, -(-len(items) // per_page))
        kept = {k: v for k, v in params.items() if k in ("modified_since", "modified_until", "created_since", "created_until")}

        def link(n: int) -> str:
            return f"{url}?{urlencode({**kept, 'elementsPerPage': per_page, 'page': n})}"

        links = {"first": link(1), "self": link(page), "last": link(total_pages)}
        if page > 1:
            links["prev"] = link(page - 1)
        if page < total_pages:
            links["next"] = link(page + 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        body = {"data": chunk, "pagination": {"totalElements": len(items), "elementsPerPage": per_page,
                                              "currentPage": page, "totalPages": total_pages}, "links": links}
        if chaos.malformed_rate and dice.random() < chaos.malformed_rate:
            return Response(json.dumps(body, ensure_ascii=False)[:-40] + ',"data": [', media_type="application/json")
        return oparl(body)

    async def bodies(request: Request) -> Response:
        return await disturbed() or page_of(request, data["bodies"], f"{api}/bodies")

    async def body_list(request: Request) -> Response:
        failed = await disturbed()
        if failed:
            return failed
        name = request.path_params["name"]
        if name in EMPTY_LISTS:
            return page_of(request, [], f"{api}/body/1/{name}")
        if name not in LISTS:
            return JSONResponse({"error": "no such list"}, 404)
        items = list(data[LISTS[name]])
        if chaos.bad_objects:
            items += bad_objects(api).get(name, [])
        return page_of(request, items, f"{api}/body/1/{name}")

    async def single(request: Request) -> Response:
        failed = await disturbed()
        if failed:
            return failed
        found = data["objects"].get(f"{api}/{request.path_params['kind']}/{request.path_params['number']}")
        return oparl(found) if found else JSONResponse({"error": "not found"}, 404)

    async def file_bytes(request: Request) -> Response:
        return Response(PDF, media_type="application/pdf")

    async def set_chaos(request: Request) -> Response:
        changes = await request.json()
        for key, value in (changes if isinstance(changes, dict) else {}).items():
            if hasattr(chaos, key):
                setattr(chaos, key, type(getattr(chaos, key))(value))
        return JSONResponse(asdict(chaos))

    async def touch(request: Request) -> Response:
        change = await request.json()
        found = data["objects"].get(f"{api}/{change['kind']}/{int(change['number'])}")
        if found is None:
            return JSONResponse({"error": "not found"}, 404)
        found["name"] = str(change.get("name") or found["name"])
        found["modified"] = datetime.now(UTC).isoformat(timespec="seconds")
        return JSONResponse(found)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/health", health),
        Route("/_chaos", set_chaos, methods=["POST"]),
        Route("/_touch", touch, methods=["POST"]),
        Route("/oparl/v1/system", system),
        Route("/oparl/v1/bodies", bodies),
        Route("/oparl/v1/body/1/{name}", body_list),
        Route("/oparl/v1/{kind}/{number:int}", single),
        Route("/oparl/v1/files/{number:int}.pdf", file_bytes),
    ])
