"""Submissions service (nameko): the only writer of the case event store.

``submit_batch`` is the hot path: one RPC carries many submissions (collected by the
gateway) and they are saved in one group commit. Lifecycle actions are one RPC each.
Reads come from the projections, falling back to the event store for a case the
projector has not reached yet (read-your-writes for the citizen who just submitted).
Erasure and export find an applicant's cases in the event store (``ApplicantCases``).
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import Any
from uuid import UUID, uuid5

from eventlet.semaphore import Semaphore
from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.rpc import RpcProxy, rpc

from services.common import logs, metrics
from services.common.cases import WORKLIST_SORTS
from services.common.db import ReadStore
from services.common.nameko_deps import Correlation, EntrypointMetrics, Observability, Provided, domain_error
from services.common.problems import DomainError, text
from services.submissions.audit import AuditLog
from services.submissions.casefold import fold, status_view
from services.submissions.commands import Offering, SubmitCommand
from services.submissions.drafting import attachment_ref, draft_view, file_fields
from services.submissions.integration import to_envelope
from services.submissions.partitioning import CaseStore, open_case_store
from services.submissions.privacy import erase_applicant, export_applicant
from services.submissions.projections import CaseReadModels
from services.submissions.timetravel import case_as_of, instant, worklist_as_of

log = logs.get_logger("submissions")


class OfferingCache(DependencyProvider):
    """Catalog answers (offering or error) per (portal, service), kept a few seconds so the
    hot path rarely needs an RPC. Form versions are immutable, so a cached one is never wrong;
    a newly published version is seen within ``ttl`` seconds."""

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self.entries: dict[tuple[str, str], tuple[float, Offering | DomainError]] = {}

    def get_dependency(self, worker_ctx: Any) -> OfferingCache:
        return self

    def resolver(self, catalog: Any) -> Any:
        def resolve(portal: str, service_id: str) -> Offering:
            key = (portal, service_id)
            hit = self.entries.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl:
                try:
                    value: Offering | DomainError = Offering.from_catalog(catalog.resolve(portal, service_id))
                except RemoteError as exc:
                    error = domain_error(exc)
                    if error is None:
                        raise
                    value = error
                if len(self.entries) > 10_000:
                    self.entries.clear()
                hit = self.entries[key] = (time.monotonic(), value)
            if isinstance(hit[1], DomainError):
                raise hit[1]
            return hit[1]

        return resolve


class FormSchemas(DependencyProvider):
    """The form of a service at one version, from the catalog; versions never change, so
    they are kept (a draft is saved against the form version it pinned)."""

    def setup(self) -> None:
        self.forms: dict[tuple[str, int], dict[str, Any]] = {}

    def get_dependency(self, worker_ctx: Any) -> FormSchemas:
        return self

    def form(self, catalog: Any, service_id: str, version: int) -> dict[str, Any]:
        key = (service_id, version)
        if key not in self.forms:
            if len(self.forms) > 1000:
                self.forms.clear()
            self.forms[key] = catalog.get_definition(service_id, version)["form"]
        return self.forms[key]


class WriteLock(DependencyProvider):
    """One group commit at a time per process (the store serialises writers anyway)."""

    def setup(self) -> None:
        self.lock = Semaphore(1)

    def get_dependency(self, worker_ctx: Any) -> Semaphore:
        return self.lock


class SubmissionsService:
    name = "submissions"

    app: CaseStore = Provided(open_case_store)  # one application per case partition
    read: CaseReadModels = Provided(lambda: CaseReadModels(ReadStore("submissions")))
    audit: AuditLog = Provided(lambda: AuditLog(ReadStore("submissions")))
    offerings: OfferingCache = OfferingCache()
    forms: FormSchemas = FormSchemas()
    write_lock = WriteLock()
    catalog = RpcProxy("catalog")
    observability = Observability("submissions")
    correlation = Correlation()
    entrypoint_metrics = EntrypointMetrics()

    @rpc
    def ping(self) -> str:
        return "submissions"

    @rpc
    def submit_batch(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Many submissions in, one result per submission out (a case or an error)."""
        metrics.BATCH_SIZE.labels("submit").observe(len(commands))
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        parsed = [SubmitCommand.from_dict({**c, "correlation_id": c.get("correlation_id") or cid}) for c in commands]
        resolve = self.offerings.resolver(self.catalog)
        with self.write_lock:
            results = self.app.submit_batch(parsed, resolve)
        log.info(
            "submissions_saved", commands=len(parsed), cases=sum("case" in r for r in results),
            correlation_ids=[c.correlation_id for c in parsed[:50]],
        )
        return results

    @rpc(expected_exceptions=DomainError)
    def act(self, case_id: str, action: str, payload: dict[str, Any], actor: str) -> dict[str, Any]:
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            result = self.app.act(case_id, action, payload, actor, cid)
        log.info("case_action", case_id=str(case_id), action=action, status=result["status"])
        return result

    @rpc(expected_exceptions=DomainError)
    def case_status(self, case_id: str, contents: bool = False, as_of: str | None = None) -> dict[str, Any]:
        if as_of is not None:  # time travel: folded from the events up to the instant
            return case_as_of(self.app.of_case(case_id), case_id, instant(as_of), contents)
        state = self.read.case_state(str(case_id)[:64])
        if state is None or state["version"] < self.app.case_version(case_id):
            # the projector has not caught up yet: fold the case's own events (read-your-writes)
            state = None
            for event in self.app.case_events(case_id):
                state = fold(state, to_envelope(event)) or state
        view = status_view(state)
        if contents:
            view["contents"] = self.app.case_contents(case_id)
        return view

    @rpc(expected_exceptions=DomainError)
    def worklist(self, tenant: str, query: dict[str, Any]) -> dict[str, Any]:
        if query.get("sort", WORKLIST_SORTS[0]) not in WORKLIST_SORTS:
            raise DomainError("invalid_parameter", name="sort", detail=text("one_of", choices=", ".join(WORKLIST_SORTS)))
        if query.get("as_of"):  # time travel: each case folded from its events up to the instant
            return worklist_as_of(self.app, self.read.store, tenant, instant(query.pop("as_of")), **query)
        query.pop("as_of", None)
        return self.read.worklist(tenant, **query)

    @rpc
    def cases_of_applicant(self, applicant_ref: str) -> list[dict[str, Any]]:
        return self.read.cases_of_applicant(applicant_ref)

    # -- drafts (Meine Anträge) and attachments: owner only ---------------------------------
    @rpc(expected_exceptions=DomainError)
    def start_draft(self, portal: str, service_id: str, owner: str, actor: str, form_data: Any, page: Any = None) -> dict[str, Any]:
        offering = self.offerings.resolver(self.catalog)(portal, service_id)
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            draft = self.app.files.start_draft(offering, portal, owner, form_data, page, actor, cid)
        log.info("draft_started", draft_id=draft["draft_id"], tenant=draft["tenant"], service_id=service_id)
        return draft

    @rpc(expected_exceptions=DomainError)
    def get_draft(self, draft_id: str, owner: str) -> dict[str, Any]:
        return draft_view(self.app.files.get_draft(draft_id, owner))

    @rpc(expected_exceptions=DomainError)
    def save_draft(self, draft_id: str, owner: str, actor: str, form_data: Any, page: Any = None) -> dict[str, Any]:
        draft = self.app.files.get_draft(draft_id, owner, open_only=True)
        schema = self.forms.form(self.catalog, draft.service_id, draft.form_version)
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            return self.app.files.save_draft(draft_id, owner, schema, form_data, page, actor, cid)

    @rpc(expected_exceptions=DomainError)
    def discard_draft(self, draft_id: str, owner: str, actor: str) -> None:
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            self.app.files.discard_draft(draft_id, owner, actor, cid)

    @rpc
    def drafts_of(self, owner: str) -> list[dict[str, Any]]:
        return self.app.files.drafts_of(owner)

    @rpc(expected_exceptions=DomainError)
    def upload_attachment(self, owner: str, actor: str, content_b64: str, media_type: str, filename: str) -> dict[str, Any]:
        """A file of the owner's (base64: RPC carries JSON); checked by its content."""
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise DomainError("invalid_request", detail="content_b64") from None
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            attachment = self.app.files.upload_attachment(owner, content, media_type, filename, actor, cid)
        log.info("attachment_uploaded", attachment_id=attachment["attachment_id"], size=attachment["size"])
        return attachment

    @rpc(expected_exceptions=DomainError)
    def case_attachment(self, case_id: str, attachment_id: str) -> dict[str, Any]:
        """An attachment the case's form refers to, with its bytes (the gateway has checked
        that the caller may read the case); any other is ``attachment_not_found``."""
        case = self.app.get_case(case_id)
        schema = self.forms.form(self.catalog, case.service_id, case.form_version)
        referred = {attachment_ref(case.form_data.get(name)) for name in file_fields(schema)}
        if str(attachment_id) not in referred:
            raise DomainError("attachment_not_found", attachment_id=str(attachment_id)[:64])
        return self.app.files.attachment_content(self.app.files.attachment(attachment_id))

    # -- rules (issue #16): facts, past cases, automatic decisions (services/submissions/automatic.py) --
    @rpc(expected_exceptions=DomainError)
    def rule_facts(self, case_id: str) -> dict[str, Any]:
        return self.app.rule_facts(case_id)

    @rpc(expected_exceptions=DomainError)
    def past_cases(self, tenant: str, service_id: str, since: str, until: str, after: str = "", limit: int = 1000) -> dict[str, Any]:
        return self.app.past_cases(self.read.store, tenant, service_id, since, until, after, limit)

    @rpc(expected_exceptions=DomainError)
    def decide_automatically(self, case_id: str, outcome: str, reason: str, rule: str) -> str:
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        with self.write_lock:
            result = self.app.decide_automatically(case_id, outcome, reason, rule, cid)
        log.info("case_decided_automatically", case_id=str(case_id), rule=rule, result=result)
        return result

    # -- audit and data subject rights ---------------------------------------------------------
    @rpc
    def record_access(self, case_id: str, tenant: str, actor: str, action: str) -> str:
        return self.audit.record(case_id, tenant, actor, action)

    @rpc(expected_exceptions=DomainError)
    def audit_trail(self, case_id: str) -> list[dict[str, Any]]:
        changes = [
            {"at": e.timestamp.isoformat(), "actor": e.actor, "action": type(e).__name__, "tenant": e.tenant}
            for e in self.app.case_events(case_id)
        ]
        return sorted(changes + self.audit.reads(str(case_id)), key=lambda entry: entry["at"])

    def _legacy_case_ids(self, applicant_ref: str) -> list[str]:
        """Cases the read model knows for the applicant: those stored before the case index
        existed. Not waited for — the index, saved with every case, is what is complete."""
        return [c["case_id"] for c in self.read.cases_of_applicant(applicant_ref, limit=10_000)]

    @rpc(expected_exceptions=DomainError)
    def export_applicant(self, applicant_ref: str) -> list[dict[str, Any]]:
        ids = dict.fromkeys([*self.app.applicant_case_ids(applicant_ref), *self._legacy_case_ids(applicant_ref)])
        return export_applicant(self.app, list(ids))

    @rpc
    def export_files(self, applicant_ref: str) -> dict[str, list[dict[str, Any]]]:
        """The applicant's drafts and uploaded attachments (metadata), for the data export."""
        return self.app.files.export_files(applicant_ref)

    @rpc(expected_exceptions=DomainError)
    def erase_applicant(self, applicant_ref: str) -> dict[str, int]:
        """Erase the applicant's personal data in every case of theirs (account deletion).
        Idempotent and resumable: identity calls it until it succeeds and only then
        completes the deletion. Each erased case gets one audit entry."""
        cid = logs.current_correlation_id() or logs.new_correlation_id()
        erased = erase_applicant(self.app, applicant_ref, applicant_ref, cid, also=self._legacy_case_ids(applicant_ref))
        for case in erased:
            entry = str(uuid5(UUID(case.case_id), "personal_data_redacted"))
            self.audit.record(case.case_id, case.tenant, applicant_ref, "personal_data_redacted", entry_id=entry)
        redacted = sum(case.events_redacted for case in erased)
        log.info("applicant_erased", cases=len(erased), events_redacted=redacted)
        return {"cases": len(erased), "events_redacted": redacted}
