"""The pure fold behind the case read models: integration events → a case's read state
(status, due dates, assignee, the citizen's timeline in German). No I/O; the projector,
the rebuild and the read-your-writes fallback all use it."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from services.submissions.domain import FINAL, STATUS_DE, Status


def _euro(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d} €"


def _german_date(iso: str) -> str:
    return date.fromisoformat(iso[:10]).strftime("%d.%m.%Y")


def step_text(event_type: str, data: dict[str, Any], state: dict[str, Any]) -> str:
    """The citizen's timeline, in German."""
    if event_type == "submitted":
        return f"Antrag eingegangen (Aktenzeichen {data['reference']})"
    if event_type == "payment_requested":
        return f"Gebühr angefordert: {_euro(data['amount_cents'])}"
    if event_type == "payment_received":
        return f"Zahlung eingegangen: {_euro(data['amount_cents'])}"
    if event_type == "review_started":
        return "Ihr Antrag wird bearbeitet"
    if event_type == "information_requested":
        return f"Rückfrage der Verwaltung: {data['question']} – bitte bis {_german_date(data['due_date'])} beantworten"
    if event_type == "information_supplied":
        return "Ihre Antwort ist eingegangen"
    if event_type == "approved":
        return "Antrag bewilligt"
    if event_type == "rejected":
        return f"Antrag abgelehnt: {data['reason']}"
    if event_type == "withdrawn":
        return "Antrag zurückgezogen"
    if event_type == "reassigned":
        return "Ihr Antrag wurde an eine andere Sachbearbeitung übergeben"
    if event_type == "personal_data_erased":
        return "Persönliche Daten gelöscht (Konto aufgelöst)"
    return event_type


NEXT_STATUS = {
    "submitted": Status.SUBMITTED,
    "payment_requested": Status.PAYMENT_PENDING,
    "payment_received": Status.PAID,
    "review_started": Status.IN_REVIEW,
    "information_requested": Status.INFORMATION_REQUESTED,
    "information_supplied": Status.IN_REVIEW,
    "approved": Status.APPROVED,
    "rejected": Status.REJECTED,
    "withdrawn": Status.WITHDRAWN,
}


def fold(state: dict[str, Any] | None, envelope: dict[str, Any]) -> dict[str, Any] | None:
    """Apply one integration event to a case's read state; None means 'nothing to do'."""
    version = envelope["aggregate_version"]
    if state is not None and version <= state["version"]:
        return None  # already applied (redelivery or replay)
    kind = envelope["type"].split(".")[1]
    data = envelope["data"]
    if state is None:
        if kind != "submitted":
            return None  # cannot happen with an ordered log; never invent a case
        submitted = data["submitted_at"]
        processing_due = (
            datetime.fromisoformat(submitted) + timedelta(days=int(data["processing_days"]))
        ).date().isoformat()
        state = {
            "case_id": envelope["aggregate_id"],
            "tenant": envelope["tenant"],
            "portal": data["portal"],
            "service_id": envelope["service_id"],
            "reference": data["reference"],
            "applicant_ref": data["applicant_ref"],
            "form_version": data["form_version"],
            "fee_cents": data["fee_cents"],
            "submitted_at": submitted,
            "processing_due": processing_due,
            "information_due": None,
            "assignee": None,
            "timeline": [],
        }
    else:
        state = {**state, "timeline": list(state["timeline"])}
    if kind in NEXT_STATUS:
        state["status"] = NEXT_STATUS[kind].value
    if kind in ("review_started", "reassigned"):
        state["assignee"] = data["clerk"]
    if kind == "information_requested":
        state["information_due"] = data["due_date"]
    if kind == "information_supplied":
        state["information_due"] = None
    state["version"] = version
    state["updated_at"] = envelope["occurred_at"]
    state["timeline"].append({"at": envelope["occurred_at"], "step": kind, "text": step_text(kind, data, state)})
    return state


def status_view(state: dict[str, Any]) -> dict[str, Any]:
    status = Status(state["status"])
    return {
        "case_id": state["case_id"],
        "reference": state["reference"],
        "tenant": state["tenant"],
        "portal": state["portal"],
        "service_id": state["service_id"],
        "applicant_ref": state["applicant_ref"],
        "form_version": state["form_version"],
        "fee_cents": state["fee_cents"],
        "status": status.value,
        "status_text": STATUS_DE[status],
        "is_open": status not in FINAL,
        "assignee": state["assignee"],
        "submitted_at": state["submitted_at"],
        "due_date": state["information_due"] or state["processing_due"],
        "version": state["version"],
        "updated_at": state["updated_at"],
        "timeline": state["timeline"],
    }


