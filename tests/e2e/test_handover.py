"""Hand-over to back-office systems over HTTP: a back-office client of Vechta that crashes
before acknowledging gets the case again (as a redelivery, never as new), never sees
Lohne's; every step is in the case's audit trail and timeline; time travel shows the case
as it was before its decision."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx

from services.handover.files import SubmissionApi, export_once
from tests.e2e.conftest import LOHNE, VECHTA, client_for, eventually
from tests.examples import form

LEASE = 3  # HANDOVER_LEASE_SECONDS of the e2e platform


CREDENTIALS: dict[int, tuple[str, str]] = {}  # id(client) → (client id, secret)


def backoffice(running: Any, issuer: httpx.Client, approver: httpx.Client, ags: str) -> httpx.Client:
    """A back-office client of ``ags``: issued by one person, approved by a second."""
    url = f"/api/v1/admin/tenants/{ags}/handover-clients"
    issued = issuer.post(url, json={"name": f"Fachverfahren {ags}", "service_keys": ["hundeanmeldung"]})
    assert issued.status_code == 202, issued.text
    client = issued.json()
    assert approver.post(f"{url}/{client['client_id']}/approve").json()["status"] == "active"
    http = httpx.Client(base_url=running.base_url, timeout=30, auth=(client["client_id"], client["client_secret"]))
    CREDENTIALS[id(http)] = (client["client_id"], client["client_secret"])
    return http


def decided(citizen: httpx.Client, clerk: httpx.Client, ags: str) -> tuple[str, str]:
    """A case approved by ``clerk``; also the instant between its review and its decision."""
    case_id = citizen.post(f"/api/v1/tenants/{ags}/cases", json={"service_id": "hundeanmeldung", "form_data": form()}).json()["case_id"]
    assert clerk.post(f"/api/v1/cases/{case_id}/actions/start-review", json={"clerk": "Frau Meyer"}).status_code == 200
    time.sleep(0.05)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    assert clerk.post(f"/api/v1/cases/{case_id}/actions/approve", json={"decision": "Bewilligt."}).status_code == 200
    return case_id, between


def fetched(backoffice_client: httpx.Client) -> dict[str, dict]:
    response = backoffice_client.post("/api/v1/handover/fetch", json={"limit": 100})
    assert response.status_code == 200, response.text
    return {s["case_id"]: s for s in response.json()["submissions"]}


def test_submission_api_redelivers_what_a_crashed_client_did_not_acknowledge(running, accounts, citizen, clerk,
                                                                             lohne_clerk, tmp_path) -> None:
    admin = client_for(running, accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin"))
    lohne_admin = client_for(running, accounts.staff([(LOHNE, "tenant_admin", ["*"])], kind="tenant_admin"))
    operator = client_for(running, accounts.staff([], kind="operator"))
    vechta_office = backoffice(running, admin, operator, VECHTA)
    lohne_office = backoffice(running, lohne_admin, operator, LOHNE)
    case_id, between = decided(citizen, clerk, VECHTA)
    lohne_case, _ = decided(citizen, lohne_clerk, LOHNE)

    seen: dict[str, dict] = {}
    first = eventually(lambda: (batch := fetched(vechta_office), seen.update(batch))[0].get(case_id), timeout=30)
    assert (first["delivery"], first["redelivered"], first["tenant"]) == (1, False, VECHTA)
    assert first["contents"]["form_data"]["dog_name"] == "Bello" and first["case"]["status"] == "approved"
    # the client crashes before acknowledging: leased, so not offered meanwhile …
    seen.update(batch := fetched(vechta_office))
    assert case_id not in batch
    time.sleep(LEASE + 0.5)
    # … and offered again once the lease ran out: as a redelivery, never as new
    again = eventually(lambda: (batch := fetched(vechta_office), seen.update(batch))[0].get(case_id), timeout=10)
    assert (again["delivery"], again["redelivered"]) == (2, True)
    ack = vechta_office.post(f"/api/v1/handover/submissions/{case_id}/ack")
    assert ack.status_code == 200 and ack.json()["acknowledged_at"]
    assert vechta_office.post(f"/api/v1/handover/submissions/{case_id}/ack").json() == ack.json()  # idempotent
    time.sleep(LEASE + 0.5)
    seen.update(batch := fetched(vechta_office))
    assert case_id not in batch and lohne_case not in seen  # never again; never Lohne's
    assert vechta_office.get(f"/api/v1/handover/submissions/{lohne_case}").json()["code"] == "submission_not_found"
    assert lohne_case in eventually(lambda: fetched(lohne_office), timeout=30)
    assert case_id not in fetched(lohne_office)

    steps = [e["action"] for e in admin.get(f"/api/v1/cases/{case_id}/audit").json()["items"] if e["action"].startswith("Handover")]
    assert steps == ["HandoverOffered", "HandoverFetched", "HandoverFetched", "HandoverAcknowledged"]
    timeline = clerk.get(f"/api/v1/cases/{case_id}").json()["timeline"]
    assert [s["text"] for s in timeline if s["step"] == "handover"][-1] == "Vom Fachverfahren bestätigt"

    # time travel: the case and the worklist as the clerk saw them before the decision
    then = clerk.get(f"/api/v1/cases/{case_id}", params={"as_of": between}).json()
    assert (then["status"], then["as_of"][:19]) == ("in_review", between[:19])
    assert not [s for s in then["timeline"] if s["step"] in ("approved", "handover")]
    worklist = clerk.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"as_of": between, "limit": 500}).json()
    assert {i["case_id"]: i["status"] for i in worklist["items"]}[case_id] == "in_review"
    assert lohne_clerk.get(f"/api/v1/cases/{case_id}", params={"as_of": between}).status_code == 404
    assert clerk.get(f"/api/v1/cases/{case_id}", params={"as_of": "gestern"}).json()["code"] == "invalid_parameter"

    # the file export: a client of the same API writing one file per submission, then acknowledging
    exported_case, _ = decided(citizen, clerk, VECHTA)
    reference = clerk.get(f"/api/v1/cases/{exported_case}").json()["reference"]
    files = SubmissionApi(running.base_url, *CREDENTIALS[id(vechta_office)])
    written = eventually(lambda: [p for p in export_once(files, tmp_path, "xml") if p.name == f"{reference}.xml"], timeout=30)
    assert b'ergebnis="approved"' in written[0].read_bytes() and b"Bello" in written[0].read_bytes()
    assert vechta_office.get(f"/api/v1/handover/submissions/{exported_case}").json()["acknowledged_at"]
    files.close()
    for http in (admin, lohne_admin, operator, vechta_office, lohne_office):
        http.close()
