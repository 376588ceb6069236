"""Postbox test helpers: a case's integration events, and what submissions, catalog and
payments answer over RPC in the running platform — here a fixed table built from the same
domain objects, so the tests are about the postbox and the letter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count
from typing import Any
from uuid import uuid4

from services.catalog.tenants import letterhead
from services.submissions.domain import Case
from services.submissions.integration import to_envelope

META = {"actor": "clerk:1", "correlation_id": "c-1"}
VECHTA = {
    "ags": "03460009", "name": "Vechta", "kind": "gemeinde", "email": "buergerbuero@vechta.example",
    "phone": "+49 4441 0000-0", "address": "Rathaus, Rathausplatz 1, 49377 Vechta",
    "opening_hours": "Mo–Fr 8:00–12:30 Uhr, Di 14:00–16:00 Uhr, Do 14:00–18:00 Uhr",
}
DECISION = "Die Hundesteuermarke Nr. 4711 wird Ihnen zugesandt. <script>alert(1)</script>"
positions = count(1)


class CaseSources:
    def __init__(self) -> None:
        self.cases: dict[str, Case] = {}
        self.payments: dict[str, dict[str, Any]] = {}
        self.calls = 0

    def case(self, case_id: str) -> dict[str, Any] | None:
        self.calls += 1
        case = self.cases.get(case_id)
        if case is None:
            return None
        return {
            "case_id": case_id, "service_id": case.service_id, "submitted_at": case.submitted_at,
            "due_date": None, "contents": {"decision": case.decision, "question": case.question, "applicant": case.applicant},
        }

    def letterhead(self, ags: str) -> dict[str, Any]:
        return letterhead({"03460009": VECHTA}[ags])

    def service_name(self, service_id: str) -> str:
        return {"hundeanmeldung": "Anmeldung eines Hundes"}[service_id]

    def payment(self, case_id: str) -> dict[str, Any] | None:
        return self.payments.get(case_id)


def decided_case(sources: CaseSources, applicant: str, decide: str = "approve", text: str = DECISION) -> list[dict]:
    """A Hundeanmeldung in Vechta from submission to decision, as integration events."""
    case = Case.submit(
        uuid4(), tenant="03460009", portal="03460009", service_id="hundeanmeldung", ozg_id="1", leika_key="2",
        form_version=1, fee_cents=2500, processing_days=14, reference=f"VEC-2026-{next(positions):06d}",
        applicant_ref=applicant, applicant={"name": "Erika Mustermann"}, form_data={"hund": "Bello"},
        submitted_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC).isoformat(), request_hash="h", **META,
    )
    case.start_review("clerk:1", **META)
    case.request_information("Bitte Impfpass nachreichen.", date(2026, 12, 1), **META)
    case.supply_information("anbei", **META)
    getattr(case, decide)(text, **META)
    sources.cases[str(case.id)] = case
    sources.payments[str(case.id)] = {"kassenzeichen": "5.0001.000042.7", "amount_cents": 2500, "paid": True}
    found = [to_envelope(event, next(positions)) for event in case.collect_events()]
    return [e for e in found if e is not None]
