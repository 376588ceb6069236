"""Citizen-language search (German, or English with ``lang="en"``) wired to tenants: ranks a
portal's own online services first, then its district's, then the rest of the OZG catalog,
and says for every hit who is responsible and whether it can be applied for online."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from services.catalog.definitions import load_definitions
from services.catalog.reference import DATA_DIR
from services.catalog.search.index import QueryError, SearchIndex
from services.catalog.tenants import contact
from services.common.problems import text

if TYPE_CHECKING:  # the application builds a finder (open_catalog), so no import at run time
    from services.catalog.application import CatalogApp

MAX_QUERY = 200


class ServiceFinder:
    def __init__(self, app: CatalogApp):
        self.app = app
        self._index: SearchIndex | None = None
        self._files: list[dict[str, Any]] | None = None
        self._built_for: tuple = ()
        self._lock = threading.Lock()

    @property
    def index(self) -> SearchIndex:
        """The index, rebuilt when a definition was added or got a new version; before the
        first import it is built from the definition files."""
        definitions = self.app.view.current_definitions() or self._definition_files()
        key = tuple(sorted((d["service_id"], int(d["version"])) for d in definitions))
        with self._lock:
            if self._index is None or key != self._built_for:
                self._index = SearchIndex.load(DATA_DIR, definitions)
                self._built_for = key
            return self._index

    def _definition_files(self) -> list[dict[str, Any]]:
        if self._files is None:
            self._files = list(load_definitions().values())
        return self._files

    def offered(self, portal: dict[str, Any]) -> dict[str, str]:
        offered = {}
        district = portal.get("district_ags")
        if district:
            offered.update({o["service_id"]: "district" for o in self.app.view.offerings_of(district) if o["active"]})
        offered.update({o["service_id"]: "own" for o in self.app.view.offerings_of(portal["ags"]) if o["active"]})
        return offered

    @staticmethod
    def check_query(query: Any) -> str:
        if not isinstance(query, str) or not query.strip():
            raise QueryError(detail=text("query_empty"))
        if len(query) > MAX_QUERY:
            raise QueryError(detail=text("query_too_long", limit=MAX_QUERY))
        return query

    def search_all(self, query: Any, limit: int = 10, lang: str = "de") -> list[dict[str, Any]]:
        """Hits in the whole catalog, for no portal in particular (the platform's start page)."""
        hits = self.index.search(self.check_query(query), {}, limit=limit, lang=lang)
        return [{k: hit[k] for k in ("service_id", "ozg_id", "leika_key", "name", "name_lang", "kind", "score")}
                for hit in hits]

    def search(self, portal_ags: str, query: Any, limit: int = 10, lang: str = "de") -> list[dict[str, Any]]:
        """Hits for a citizen of ``portal_ags``; the query is checked before the tenant, so a
        bad query is ``invalid_query`` whatever the portal."""
        self.check_query(query)
        portal = self.app.tenant(portal_ags)
        hits = self.index.search(query, self.offered(portal), limit=limit, lang=lang)
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
            "name_lang": hit["name_lang"],
            "responsible": {"ags": responsible["ags"], "name": responsible["name"], "kind": responsible["kind"]},
            "online": online,
            "score": round(float(hit.get("score", 0.0)), 4),
        }
        if not online:
            result["contact"] = contact(responsible)
        return result
