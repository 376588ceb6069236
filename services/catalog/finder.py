"""German citizen-language search wired to tenants: ranks a portal's own online services
first, then its district's, then the rest of the OZG catalog, and says for every hit who
is responsible and whether it can be applied for online."""

from __future__ import annotations

import threading
from typing import Any

from services.catalog.application import DEFINITIONS_DIR, CatalogApp, contact
from services.catalog.reference import DATA_DIR
from services.catalog.search import SearchIndex
from services.common.problems import DomainError

MAX_QUERY = 200


class ServiceFinder:
    def __init__(self, app: CatalogApp):
        self.app = app
        self._index: SearchIndex | None = None
        self._built_for: tuple = ()
        self._lock = threading.Lock()

    @property
    def index(self) -> SearchIndex:
        """The index, rebuilt when a definition was added or got a new version."""
        definitions = self.app.view.current_definitions() or _files()
        key = tuple(sorted((d["service_id"], int(d["version"])) for d in definitions))
        with self._lock:
            if self._index is None or key != self._built_for:
                self._index = SearchIndex.load(DATA_DIR, definitions)
                self._built_for = key
            return self._index

    def offered(self, portal: dict[str, Any]) -> dict[str, str]:
        offered = {}
        district = portal.get("district_ags")
        if district:
            offered.update({o["service_id"]: "district" for o in self.app.view.offerings_of(district) if o["active"]})
        offered.update({o["service_id"]: "own" for o in self.app.view.offerings_of(portal["ags"]) if o["active"]})
        return offered

    def search(self, portal_ags: str, query: Any, limit: int = 10) -> list[dict[str, Any]]:
        if not isinstance(query, str) or not query.strip():
            raise DomainError("invalid_query", detail="leer / empty")
        if len(query) > MAX_QUERY:
            raise DomainError("invalid_query", detail=f"höchstens {MAX_QUERY} Zeichen / at most {MAX_QUERY} characters")
        portal = self.app.tenant(portal_ags)
        try:
            hits = self.index.search(query, self.offered(portal), limit=limit)
        except ValueError as exc:
            raise DomainError("invalid_query", detail=str(exc)) from None
        results = [self._describe(portal, hit) for hit in hits]
        online_bundles = {r["ozg_id"] for r in results if r["online"]}
        # a catalog entry that only repeats a service offered online here is left out
        return [r for r in results if r["online"] or r["ozg_id"] not in online_bundles]

    def _describe(self, portal: dict[str, Any], hit: dict[str, Any]) -> dict[str, Any]:
        service_id = hit.get("service_id")
        responsible, online = portal, False
        if service_id:
            responsible = self.app.responsible_authority(portal["ags"], service_id)
            offering = self.app.view.offering(responsible["ags"], service_id)
            online = bool(offering and offering["active"])
        result = {
            "service_id": service_id if online else None,
            "ozg_id": hit.get("ozg_id"),
            "leika_key": hit.get("leika_key"),
            "name": hit["name"],
            "responsible": {"ags": responsible["ags"], "name": responsible["name"], "kind": responsible["kind"]},
            "online": online,
            "score": round(float(hit.get("score", 0.0)), 4),
        }
        if not online:
            result["contact"] = contact(responsible)
        return result


def _files() -> list[dict[str, Any]]:
    import json

    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(DEFINITIONS_DIR.glob("[!_]*.json"))]
