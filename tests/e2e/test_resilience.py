"""Crashes and redeliveries: the relay and the projector are killed mid-stream and
restarted; events are delivered twice; the worklist still shows every case exactly once
with the right status."""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import httpx
import pytest

from services.common.amqp import ConfirmingPublisher
from services.submissions.application import open_submissions
from services.submissions.integration import to_envelope
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import BAKUM, LOHNE, VECHTA, client_for, eventually
from tests.examples import form
from tests.support import Platform

TENANTS = (VECHTA, LOHNE, BAKUM)


def worklist_all(client: httpx.Client, ags: str) -> list[dict]:
    items, cursor = [], None
    while True:
        params = {"state": "all", "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/api/v1/tenants/{ags}/worklist", params=params).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def submit_one(base_url: str, ags: str, headers: dict[str, str]) -> dict:
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as http:
        response = http.post(
            f"/api/v1/tenants/{ags}/cases",
            json={"service_id": "hundeanmeldung", "form_data": form()},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture(scope="module")
def applicant(accounts: Accounts) -> Account:
    return accounts.citizen()


@pytest.fixture(scope="module")
def staff(running: Platform, accounts: Accounts) -> httpx.Client:
    """A clerk (team lead) of all three towns."""
    account = accounts.staff([(ags, "team_lead", ["*"]) for ags in TENANTS])
    with client_for(running, account) as http:
        yield http


def test_relay_and_projector_killed_mid_stream(running: Platform, applicant: Account, staff: httpx.Client) -> None:
    client = staff
    submitted: list[dict] = []
    lock = threading.Lock()
    enough_before_kill = threading.Event()

    def work(i: int) -> None:
        case = submit_one(running.base_url, TENANTS[i % 3], applicant.headers)
        with lock:
            submitted.append(case)
            if len(submitted) >= 60:
                enough_before_kill.set()

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(work, i) for i in range(300)]
        assert enough_before_kill.wait(60)
        running.kill("relay")  # SIGKILL, mid-stream
        running.kill("projector")
        for future in futures:
            future.result()

    # clerks keep working while the read side is down
    decided = {}
    for case in submitted[:20]:
        client.post(f"/api/v1/cases/{case['case_id']}/actions/start-review", json={"clerk": "Frau Meyer"})
        action = "approve" if len(decided) % 2 == 0 else "reject"
        payload = {"decision": "ok"} if action == "approve" else {"reason": "unvollständig"}
        assert client.post(f"/api/v1/cases/{case['case_id']}/actions/{action}", json=payload).status_code == 200
        decided[case["case_id"]] = "approved" if action == "approve" else "rejected"

    running.start("relay")
    running.start("projector")

    expected = {case["case_id"]: decided.get(case["case_id"], "submitted") for case in submitted}

    def converged() -> bool:
        rows = [row for ags in TENANTS for row in worklist_all(client, ags)]
        ours = [row for row in rows if row["case_id"] in expected]
        return len(ours) == len(expected) and all(expected[row["case_id"]] == row["status"] for row in ours) and rows

    rows = eventually(converged, timeout=90, interval=0.5)
    ids = [row["case_id"] for row in rows]
    assert len(ids) == len(set(ids))  # exactly once
    references = [row["reference"] for row in rows]
    assert len(references) == len(set(references))


def test_a_redelivered_event_changes_nothing(running: Platform, applicant: Account, staff: httpx.Client) -> None:
    client = staff
    case = submit_one(running.base_url, VECHTA, applicant.headers)
    case_id = case["case_id"]
    client.post(f"/api/v1/cases/{case_id}/actions/start-review", json={"clerk": "Herr Schulz"})
    client.post(f"/api/v1/cases/{case_id}/actions/approve", json={"decision": "ok"})
    before = eventually(lambda: (s := client.get(f"/api/v1/cases/{case_id}").json())["status"] == "approved" and s)

    # deliver every event of the case again, in order and out of order
    with mock.patch.dict(os.environ, {k: v for k, v in running.env.items() if k.startswith(("POSTGRES", "VR_"))}):
        app = open_submissions()
        events = [to_envelope(event, None) for event in app.case_events(case_id)]
        app.close()
    publisher = ConfirmingPublisher(running.env["AMQP_URI"])
    try:
        publisher.publish_batch(events + list(reversed(events)))
    finally:
        publisher.close()

    # a later case proves the projector has consumed everything published before it
    sentinel = submit_one(running.base_url, VECHTA, applicant.headers)
    eventually(lambda: any(r["case_id"] == sentinel["case_id"] for r in worklist_all(client, VECHTA)))
    after = client.get(f"/api/v1/cases/{case_id}").json()
    assert after == before
    rows = [r for r in worklist_all(client, VECHTA) if r["case_id"] == case_id]
    assert len(rows) == 1 and rows[0]["status"] == "approved" and rows[0]["version"] == before["version"]
