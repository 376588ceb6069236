"""The names of the case lifecycle that more than one service speaks: statuses, the
actions a case accepts over the API, and the worklist's sort keys.

The submissions service owns the behaviour behind each name; the gateway and the
authorisation rules only need the names. Keeping them here lets both agree without the
gateway importing the submissions service (a unit test pins that the two agree).
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    SUBMITTED = "submitted"
    PAYMENT_PENDING = "payment_pending"
    PAID = "paid"
    IN_REVIEW = "in_review"
    INFORMATION_REQUESTED = "information_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


FINAL = frozenset({Status.APPROVED, Status.REJECTED, Status.WITHDRAWN})
OPEN = frozenset(Status) - FINAL

#: Actions on a case (``POST /api/v1/cases/{id}/actions/{action}``).
ACTIONS = (
    "request-payment",
    "record-payment",
    "start-review",
    "request-information",
    "supply-information",
    "approve",
    "reject",
    "withdraw",
    "reassign",
    "reverse-automatic-decision",  # a rule's decision back into review, within RULES_REVERSAL_WINDOW
)

#: Sort keys of the worklist (``?sort=``); the first is the default.
WORKLIST_SORTS = ("submitted_at", "due_date", "reference")
