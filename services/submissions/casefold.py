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


STEPS = {
    "submitted": "Antrag eingegangen (Aktenzeichen {reference})",
    "payment_requested": "Gebühr angefordert: {amount}",
    "payment_received": "Zahlung eingegangen: {amount} (Kassenzeichen {payment_ref})",
    "review_started": "Ihr Antrag wird bearbeitet",
    "information_requested": "Rückfrage der Verwaltung – bitte bis {due} beantworten",
    "information_supplied": "Ihre Antwort ist eingegangen",
    "approved": "Antrag bewilligt",
    "rejected": "Antrag abgelehnt",
    "withdrawn": "Antrag zurückgezogen",
    "reassigned": "Ihr Antrag wurde an eine andere Sachbearbeitung übergeben",
    "personal_data_erased": "Persönliche Daten gelöscht (Konto aufgelöst)",
    "decided_automatically": "Automatisch entschieden: {reason}",
    "automatic_decision_reversed": "Die automatische Entscheidung wurde von der Sachbearbeitung aufgehoben; Ihr Antrag wird erneut geprüft",
}


def step_text(event_type: str, data: dict[str, Any]) -> str:
    """The citizen's timeline, in German (unknown future events show their type). Free text
    (the question, the decision) is not in the events; the case's contents carry it."""
    values = dict(data)
    if "amount_cents" in data:
        values["amount"] = _euro(data["amount_cents"])
    if "due_date" in data:
        values["due"] = _german_date(data["due_date"])
    return STEPS.get(event_type, event_type).format(**values)


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
    "automatic_decision_reversed": Status.IN_REVIEW,
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
    if kind in ("review_started", "reassigned", "automatic_decision_reversed"):
        state["assignee"] = data["clerk"]
    if kind == "information_requested":
        state["information_due"] = data["due_date"]
    if kind == "information_supplied":
        state["information_due"] = None
    state["version"] = version
    state["updated_at"] = envelope["occurred_at"]
    step = {"at": envelope["occurred_at"], "step": kind, "text": step_text(kind, data)}
    if str(envelope.get("actor") or "").startswith("rule:"):
        step["automatic"] = True  # "automatisch entschieden": done by a rule, not a person
        step["rule"] = envelope["actor"]
    state["timeline"].append(step)
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


