"""The council's nameko service: the tenant admin's source configuration and the read
model's queries, for the gateway (RPC only).

Why thin: configuration goes through :class:`CouncilApp` (event-sourced, with actor and
correlation id); reads answer from :class:`CouncilStore`, which the sync worker fills.
Every answer carries the sync state, so a page can say "Stand: …" when the source is away.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.rpc import rpc

from services.common import logs
from services.common.db import ReadStore
from services.common.nameko_deps import Config, Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError
from services.council.application import CouncilApp, open_council
from services.council.projections import CouncilStore


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class CouncilService:
    name = "council"

    app: CouncilApp = Provided(open_council)
    store: CouncilStore = Provided(lambda: CouncilStore(ReadStore("council")))
    config = Config()
    observability = Observability("council")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "council"

    @rpc(expected_exceptions=DomainError)
    def source(self, tenant: str) -> dict[str, Any]:
        return self.app.source(tenant) | {"history": self.app.history(tenant), "sync": self.store.sync_state(tenant)}

    @rpc(expected_exceptions=DomainError)
    def configure_source(self, tenant: str, url: str | None, actor: str) -> dict[str, Any]:
        return self.app.configure_source(tenant, url, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def overview(self, tenant: str) -> dict[str, Any]:
        """The council start page: committees, next meetings, recent papers."""
        now = now_utc()
        return {
            "tenant": tenant,
            "sync": self.store.status(tenant),
            "organizations": list(self.store.organizations(tenant).values()),
            "upcoming": self.store.meetings(tenant, now, upcoming=True, limit=5),
            "recent_papers": self.store.recent_papers(tenant, 10),
        }

    @rpc(expected_exceptions=DomainError)
    def meetings(self, tenant: str, when: str, organization: str | None, limit: int, offset: int) -> dict[str, Any]:
        items = self.store.meetings(tenant, now_utc(), when == "upcoming", organization, limit, offset)
        orgs = self.store.organizations(tenant)
        if organization and organization not in orgs:
            raise DomainError("not_found", log_message=f"no committee {organization[:40]}")
        return {"tenant": tenant, "when": when, "organization": orgs.get(organization or ""), "limit": limit,
                "offset": offset, "items": items, "sync": self.store.status(tenant)}

    @rpc(expected_exceptions=DomainError)
    def meeting(self, tenant: str, meeting_id: str) -> dict[str, Any]:
        found = self.store.meeting(tenant, meeting_id)
        if found is None:
            raise DomainError("not_found", log_message=f"no meeting {meeting_id[:40]}")
        return found | {"sync": self.store.status(tenant)}

    @rpc(expected_exceptions=DomainError)
    def paper(self, tenant: str, paper_id: str) -> dict[str, Any]:
        found = self.store.paper(tenant, paper_id)
        if found is None:
            raise DomainError("not_found", log_message=f"no paper {paper_id[:40]}")
        return found | {"sync": self.store.status(tenant)}

    @rpc(expected_exceptions=DomainError)
    def search(self, tenant: str, query: str, limit: int) -> dict[str, Any]:
        return {"tenant": tenant, "query": query, "items": self.store.search(tenant, query, limit),
                "sync": self.store.status(tenant)}
