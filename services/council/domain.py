"""A tenant's OParl source: which council information system the platform mirrors.

Why event-sourced: who pointed a municipality at which system, and when, is an
administrative decision worth keeping (the sync worker follows the latest one). One
aggregate per tenant, its id derived from the AGS, so configuring twice loads the same
aggregate. Pure: no I/O imports.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from services.common.problems import DomainError, text

URL_LIMIT = 500


def source_id(tenant: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"vr:council-source:{tenant}")


def checked_url(url: str | None) -> str | None:
    """An http(s) URL of an OParl system object, or None (no source)."""
    if url is None or not str(url).strip():
        return None
    url = str(url).strip()
    parts = urlsplit(url)
    if len(url) > URL_LIMIT or parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise DomainError("invalid_parameter", name="url", detail=text("http_url", limit=URL_LIMIT))
    return url


class CouncilSource(Aggregate):
    """The OParl system URL of one tenant (None: the tenant shows no council information)."""

    @staticmethod
    def create_id(tenant: str) -> UUID:
        return source_id(tenant)

    @event("Configured")
    def __init__(self, tenant: str, url: str | None, actor: str, correlation_id: str, at: str) -> None:
        self.tenant = tenant
        self.url = url
        self.configured_by = actor
        self.configured_at = at

    def change(self, url: str | None, actor: str, correlation_id: str, at: str) -> bool:
        """Record a new URL (or none); the same URL again records nothing."""
        if url == self.url:
            return False
        self._changed(self.tenant, url, actor, correlation_id, at)
        return True

    @event("Changed")
    def _changed(self, tenant: str, url: str | None, actor: str, correlation_id: str, at: str) -> None:
        self.url = url
        self.configured_by = actor
        self.configured_at = at
