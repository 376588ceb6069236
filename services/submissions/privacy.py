"""Data subject rights on cases: export everything about an applicant, and erase their
personal data when they delete their account (the case itself is kept)."""

from __future__ import annotations

import dataclasses
from typing import Any

from services.common.erasure import rewrite_event
from services.submissions.application import SubmissionsApp, case_view
from services.submissions.domain import ERASED_MARK, Case


def export_applicant(app: SubmissionsApp, case_ids: list[str]) -> list[dict[str, Any]]:
    """Every case of the applicant with its full contents and history."""
    cases = []
    for case_id in case_ids:
        case = app.get_case(case_id)
        history = [
            {"at": e.timestamp.isoformat(), "event": type(e).__name__, "actor": getattr(e, "actor", None)}
            for e in app.events.get(case.id)
        ]
        cases.append({**case_view(case), "applicant": case.applicant, "form_data": case.form_data, "history": history})
    return cases


def erase_applicant(app: SubmissionsApp, case_ids: list[str], actor: str, correlation_id: str) -> int:
    """Record PersonalDataErased on each case and redact the stored Submitted event, so
    the form contents are gone from the event store too. Returns how many were erased."""
    erased = 0
    for case_id in case_ids:
        case = app.get_case(case_id)
        if case.personal_data_erased:
            continue
        case.erase_personal_data(actor, correlation_id)
        app.save(case)
        submitted = next(iter(app.events.get(case.id, lte=1)))
        assert isinstance(submitted, Case.Submitted)
        redacted = dataclasses.replace(submitted, applicant={}, form_data={ERASED_MARK: True})
        rewrite_event(app.recorder, app.mapper.to_stored_event(redacted))
        erased += 1
    return erased
