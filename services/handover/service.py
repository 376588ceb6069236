"""Hand-over service (nameko): the submission API's RPCs and the clients' credentials.

Thin: every call authenticates the back-office client (client id + secret, from the
gateway's Basic header) and calls :class:`HandoverApp`. The case data a client downloads
come from the submissions service by RPC, at fetch time (this service stores no contents).
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import RemoteError
from nameko.rpc import RpcProxy, rpc

from services.common import logs
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided, domain_error
from services.common.problems import DomainError
from services.handover.application import HandoverApp, open_handover

log = logs.get_logger("handover")


def remote(call: Any, *args: Any) -> Any:
    """An RPC to another service whose DomainError (e.g. ``attachment_not_found``) is passed
    on as this service's own, so the gateway renders it rather than a 500."""
    try:
        return call(*args)
    except RemoteError as exc:
        error = domain_error(exc)
        if error is None:
            raise
        raise error from None


def attachment_ids(form_data: Any) -> list[str]:
    """The attachments a case's form refers to (values ``{"attachment_id": …}``)."""
    if not isinstance(form_data, dict):
        return []
    return [v["attachment_id"] for v in form_data.values()
            if isinstance(v, dict) and set(v) == {"attachment_id"} and isinstance(v["attachment_id"], str)]


class HandoverService:
    name = "handover"

    app: HandoverApp = Provided(open_handover)
    submissions = RpcProxy("submissions")
    observability = Observability("handover")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "handover"

    # -- credentials (tenant admins, through the gateway) ------------------------------------
    @rpc(expected_exceptions=DomainError)
    def register_client(self, tenant: str, name: str, service_keys: list[str], actor: str) -> dict[str, Any]:
        client = self.app.register_client(tenant, name, service_keys, actor, logs.correlation_id())
        log.info("handover_client_registered", client_id=client["client_id"], tenant=tenant)
        return client

    @rpc(expected_exceptions=DomainError)
    def approve_client(self, tenant: str, client_id: str, actor: str) -> dict[str, Any]:
        return self.app.approve_client(client_id, tenant, actor, logs.correlation_id())

    @rpc(expected_exceptions=DomainError)
    def revoke_client(self, tenant: str, client_id: str, actor: str) -> dict[str, Any]:
        return self.app.revoke_client(client_id, tenant, actor, logs.correlation_id())

    @rpc
    def clients(self, tenant: str) -> list[dict[str, Any]]:
        return self.app.clients(tenant)

    @rpc
    def status(self, tenant: str) -> dict[str, int]:
        return self.app.status(tenant)

    # -- the submission API (back-office clients) --------------------------------------------
    def _with_case(self, submission: dict[str, Any]) -> dict[str, Any]:
        case = remote(self.submissions.case_status, submission["case_id"], True)
        contents = case.pop("contents", {})
        return {**submission, "case": case, "contents": contents,
                "attachments": attachment_ids(contents.get("form_data"))}

    @rpc(expected_exceptions=DomainError)
    def fetch(self, client_id: str, secret: str, limit: int) -> list[dict[str, Any]]:
        client = self.app.authenticate(client_id, secret)
        leased = self.app.fetch(client, limit, logs.correlation_id())
        log.info("handover_fetched", client_id=client_id, tenant=client.tenant, count=len(leased))
        return [self._with_case(s) for s in leased]

    @rpc(expected_exceptions=DomainError)
    def submission(self, client_id: str, secret: str, case_id: str) -> dict[str, Any]:
        client = self.app.authenticate(client_id, secret)
        return self._with_case(self.app.submission(client, case_id))

    @rpc(expected_exceptions=DomainError)
    def attachment(self, client_id: str, secret: str, case_id: str, attachment_id: str) -> dict[str, Any]:
        client = self.app.authenticate(client_id, secret)
        self.app.submission(client, case_id)  # in the client's scope, or submission_not_found
        return remote(self.submissions.case_attachment, case_id, attachment_id)

    @rpc(expected_exceptions=DomainError)
    def acknowledge(self, client_id: str, secret: str, case_id: str) -> dict[str, Any]:
        client = self.app.authenticate(client_id, secret)
        return self.app.acknowledge(client, case_id, logs.correlation_id())

    @rpc
    def case_log(self, case_id: str) -> list[dict[str, Any]]:
        return self.app.case_log(case_id)
