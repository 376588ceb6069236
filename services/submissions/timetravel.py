"""Time travel: a case, and a tenant's worklist, as they were at a past instant (``as_of``),
for audits and complaints ("what did the clerk see on 3 March?").

Computed from the events, never from the read models' current rows: a case is its events
up to the instant folded with the same :func:`~services.submissions.casefold.fold` the
projector uses, its contents the aggregate loaded at the version it had then. Erased
personal data stay erased (the stored events were rewritten). The worklist takes the
tenant's cases submitted by then (the read model only finds them) and folds each.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.common.cases import FINAL, Status
from services.common.problems import DomainError, text
from services.submissions.application import SubmissionsApp
from services.submissions.casefold import fold, status_view
from services.submissions.domain import STATUS_DE
from services.submissions.integration import to_envelope

#: An instant's worklist folds at most this many cases (each from its own events).
MAX_CASES = 5000


def instant(value: str) -> datetime:
    """An ISO 8601 instant from the outside (a date or naive time counts as UTC)."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("invalid_parameter", name="as_of", detail=text("iso_instant")) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def state_as_of(app: SubmissionsApp, case_id: str, as_of: datetime) -> tuple[dict[str, Any] | None, int]:
    """The case's read state at ``as_of`` and its version then (None, 0: it did not exist yet)."""
    state, version = None, 0
    for event in app.case_events(case_id):
        if event.timestamp > as_of:
            break
        envelope = to_envelope(event)
        if envelope is not None:
            state = fold(state, envelope) or state
        version = event.originator_version
    return state, version


def case_as_of(app: SubmissionsApp, case_id: str, as_of: datetime, contents: bool) -> dict[str, Any]:
    state, version = state_as_of(app, case_id, as_of)
    if state is None:
        raise DomainError("case_not_found", case_id=str(case_id)[:64])  # not submitted yet then
    view = {**status_view(state), "as_of": as_of.isoformat()}
    if contents:
        case = app.repository.get(app.get_case(case_id).id, version=version)
        view["contents"] = {
            "applicant": case.applicant, "form_data": case.form_data, "question": case.question,
            "decision": case.decision, "personal_data_erased": case.personal_data_erased,
        }
    return view


def worklist_as_of(app: SubmissionsApp, store: Any, tenant: str, as_of: datetime, *, state: str = "open",
                   status: str | None = None, service_ids: list[str] | None = None, assignee: str | None = None,
                   sort: str = "submitted_at", order: str = "asc", limit: int = 50, **_: Any) -> dict[str, Any]:
    """The tenant's worklist as it was at ``as_of`` (one page, no cursor)."""
    if service_ids is not None and not service_ids:
        return {"items": [], "next_cursor": None, "as_of": as_of.isoformat()}
    where, params = ["tenant = ?", "submitted_at <= ?"], [tenant, as_of.isoformat()]
    if service_ids is not None:
        where.append(f"service_id IN ({','.join('?' * len(service_ids))})")
        params.extend(service_ids)
    rows = store.query(f"SELECT case_id FROM worklist WHERE {' AND '.join(where)} ORDER BY submitted_at LIMIT ?",
                       (*params, MAX_CASES))
    items = []
    for (case_id,) in rows:
        folded, _version = state_as_of(app, case_id, as_of)
        if folded is None:
            continue
        view = status_view(folded)
        current = Status(view["status"])
        if (state == "open" and current in FINAL) or (state == "closed" and current not in FINAL):
            continue
        if (status and view["status"] != status) or (assignee == "none" and view["assignee"]) or (
                assignee and assignee != "none" and view["assignee"] != assignee):
            continue
        items.append({
            "case_id": view["case_id"], "reference": view["reference"], "service_id": view["service_id"],
            "status": view["status"], "status_text": STATUS_DE[current], "submitted_at": view["submitted_at"],
            "age_days": (as_of - datetime.fromisoformat(view["submitted_at"])).days, "due_date": view["due_date"],
            "overdue": view["due_date"] < as_of.date().isoformat(), "assignee": view["assignee"],
            "version": view["version"], "updated_at": view["updated_at"],
        })
    items.sort(key=lambda item: (str(item.get(sort) or ""), item["case_id"]), reverse=order == "desc")
    return {"items": items[:limit], "next_cursor": None, "as_of": as_of.isoformat()}
