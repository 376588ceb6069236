"""Time travel: a case and a tenant's worklist as they were at a past instant, folded from
the events (the case changed after the instant)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from services.common.db import ReadStore
from services.common.problems import DomainError
from services.submissions.integration import to_envelope
from services.submissions.projections import CaseReadModels
from services.submissions.timetravel import case_as_of, instant, worklist_as_of
from tests.integration.conftest import command


def test_a_case_and_the_worklist_as_they_were_before_a_change(submissions, resolve) -> None:
    (result,) = submissions.submit_batch([command(key="tt")], resolve)
    case_id = result["case"]["case_id"]
    time.sleep(0.01)
    before = datetime.now(UTC)
    time.sleep(0.01)
    submissions.act(case_id, "start-review", {"clerk": "Frau Meyer"}, "clerk-1", "c")
    submissions.act(case_id, "approve", {"decision": "Bewilligt."}, "clerk-1", "c")
    models = CaseReadModels(ReadStore("submissions"))
    models.apply([to_envelope(e, i) for i, e in enumerate(submissions.case_events(case_id), start=1)])

    then = case_as_of(submissions, case_id, before, contents=True)
    assert (then["status"], then["assignee"], len(then["timeline"]), then["version"]) == ("submitted", None, 1, 1)
    assert then["contents"]["decision"] is None and then["contents"]["form_data"]["dog_name"] == "Bello"
    assert case_as_of(submissions, case_id, datetime.now(UTC), contents=False)["status"] == "approved"
    with pytest.raises(DomainError, match="case_not_found"):
        case_as_of(submissions, case_id, instant("2020-01-01"), contents=False)  # not submitted yet

    past = worklist_as_of(submissions, models.store, "03460009", before)
    assert [(i["case_id"], i["status"]) for i in past["items"]] == [(case_id, "submitted")]
    assert worklist_as_of(submissions, models.store, "03460009", datetime.now(UTC))["items"] == []  # decided now
    closed = worklist_as_of(submissions, models.store, "03460009", datetime.now(UTC), state="closed")
    assert [i["status"] for i in closed["items"]] == ["approved"]
    with pytest.raises(DomainError, match="invalid_parameter"):
        instant("last tuesday")
