"""The template's nameko service: a thin RPC interface over :class:`TemplateApp`.

Why this shape: each method is a few lines — take plain JSON arguments, call the
application with the correlation id, return plain values. DomainErrors are
``expected_exceptions``: they cross RPC as JSON with their stable ``code`` and the
gateway renders them once as problem+json. Started by ``python -m services.common.launch
<name>`` once the service is in ``SERVICES`` (and its metrics port in ``METRICS_PORTS``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from nameko.rpc import rpc

from services.common import logs
from services.common.config import Settings
from services.common.db import ReadStore
from services.common.nameko_deps import Config, Correlation, EntrypointMetrics, Observability, Provided
from services.common.problems import DomainError
from services.template.application import TemplateApp, day, open_template
from services.template.projections import ReminderBoard


class TemplateService:
    name = "template"

    app: TemplateApp = Provided(open_template)
    board: ReminderBoard = Provided(lambda: ReminderBoard(ReadStore("template")))
    config: Settings = Config()  # read once when the container starts: self.config.<field>
    observability = Observability("template")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc(expected_exceptions=DomainError)
    def schedule(self, tenant: str, subject: str, due_on: str, actor: str) -> dict[str, Any]:
        return self.app.schedule(tenant, subject, due_on, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def complete(self, reminder_id: str, actor: str) -> dict[str, Any]:
        return self.app.complete(reminder_id, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def due(self, tenant: str, until: str | None = None) -> list[dict[str, Any]]:
        """Open reminders due by ``until`` (default today); caught up first: read-your-writes."""
        self.board.catch_up(self.app)
        return self.board.due(tenant, day(until or date.today().isoformat(), "until").isoformat())
