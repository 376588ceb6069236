"""End to end through the gateway: submit, follow, work the case, and every bad input."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.conftest import LOHNE, VECHTA, eventually
from tests.examples import form


def submit(client: httpx.Client, ags: str = VECHTA, key: str | None = None, **body) -> httpx.Response:
    payload = {"service_id": "hundeanmeldung", "form_data": form(), **body}
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return client.post(f"/api/v1/tenants/{ags}/cases", json=payload, headers=headers)


def in_worklist(client: httpx.Client, ags: str, case_id: str, **params) -> dict | None:
    items = client.get(f"/api/v1/tenants/{ags}/worklist", params={"limit": 500, **params}).json()["items"]
    return next((item for item in items if item["case_id"] == case_id), None)


def test_hundeanmeldung_from_submission_to_approval(citizen: httpx.Client, clerk: httpx.Client, lohne_clerk: httpx.Client) -> None:
    response = submit(citizen)
    assert response.status_code == 201, response.text
    case = response.json()
    assert response.headers["Location"] == f"/api/v1/cases/{case['case_id']}"
    assert case["reference"].startswith("VEC-")
    assert (case["tenant"], case["portal"], case["status"]) == (VECHTA, VECHTA, "submitted")
    assert case["form_version"] == 1 and case["fee_cents"] == 0

    status = citizen.get(f"/api/v1/cases/{case['case_id']}").json()
    assert status["status_text"] == "Eingegangen"
    assert status["timeline"][0]["text"].startswith("Antrag eingegangen")

    detail = clerk.get(f"/api/v1/cases/{case['case_id']}").json()  # the clerk sees what was entered
    assert detail["contents"]["form_data"] == form() and detail["contents"]["decision"] is None
    assert citizen.get(f"/api/v1/cases/{case['case_id']}").json()["contents"]["form_data"]["dog_name"] == "Bello"

    row = eventually(lambda: in_worklist(clerk, VECHTA, case["case_id"]))
    assert row["reference"] == case["reference"] and row["status"] == "submitted"
    assert lohne_clerk.get(f"/api/v1/tenants/{VECHTA}/worklist").status_code == 403
    assert lohne_clerk.get(f"/api/v1/cases/{case['case_id']}").status_code == 404

    actions = [
        (clerk, "start-review", {"clerk": "Frau Meyer"}, "in_review"),
        (clerk, "request-information", {"question": "Bitte Impfpass nachreichen.", "due_date": "2026-12-31"}, "information_requested"),
        (citizen, "supply-information", {"answer": "Impfpass ist hochgeladen."}, "in_review"),
        (clerk, "approve", {"decision": "Die Hundesteuermarke wird zugesandt."}, "approved"),
    ]
    for who, action, payload, expected in actions:
        response = who.post(f"/api/v1/cases/{case['case_id']}/actions/{action}", json=payload)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == expected

    final = eventually(
        lambda: (s := citizen.get(f"/api/v1/cases/{case['case_id']}").json())["status"] == "approved" and s
    )
    steps = [step for step in final["timeline"] if step["step"] != "message"]  # the mails have entries of their own
    assert [step["step"] for step in steps] == [
        "submitted", "review_started", "information_requested", "information_supplied", "approved"
    ]
    assert "31.12.2026" in steps[2]["text"]
    assert final["contents"]["decision"] == "Die Hundesteuermarke wird zugesandt."
    assert eventually(lambda: in_worklist(clerk, VECHTA, case["case_id"], state="closed"))["status"] == "approved"
    assert in_worklist(clerk, VECHTA, case["case_id"]) is None  # no longer open
    assert eventually(lambda: any(
        c["case_id"] == case["case_id"] and c["status"] == "approved" for c in citizen.get("/api/v1/me/cases").json()["items"]
    ))


def test_forbidden_transition_is_409_in_the_callers_language(citizen: httpx.Client, clerk: httpx.Client) -> None:
    case = submit(citizen).json()
    response = clerk.post(
        f"/api/v1/cases/{case['case_id']}/actions/approve", json={}, headers={"Accept-Language": "en-GB,en;q=0.9"}
    )
    assert response.status_code == 409
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "transition_not_allowed" and "not possible" in body["detail"]
    german = clerk.post(f"/api/v1/cases/{case['case_id']}/actions/approve", json={}).json()
    assert "nicht möglich" in german["detail"]


def test_withdraw_only_before_a_decision(citizen: httpx.Client, clerk: httpx.Client) -> None:
    case = submit(citizen).json()
    assert clerk.post(f"/api/v1/cases/{case['case_id']}/actions/withdraw", json={}).status_code == 403
    assert citizen.post(f"/api/v1/cases/{case['case_id']}/actions/approve", json={}).status_code == 403
    assert citizen.post(f"/api/v1/cases/{case['case_id']}/actions/withdraw", json={"reason": "Umzug"}).json()["status"] == "withdrawn"
    again = citizen.post(f"/api/v1/cases/{case['case_id']}/actions/withdraw", json={})
    assert again.status_code == 409


def test_idempotency_key_returns_the_same_case(citizen: httpx.Client) -> None:
    key = uuid.uuid4().hex
    first = submit(citizen, key=key)
    second = submit(citizen, key=key)
    assert first.status_code == second.status_code == 201
    assert second.json()["case_id"] == first.json()["case_id"]
    assert second.json()["reference"] == first.json()["reference"]
    assert second.headers.get("Idempotent-Replayed") == "true"
    changed = submit(citizen, key=key, form_data=form(dog_name="Hasso"))
    assert changed.status_code == 422 and changed.json()["code"] == "idempotency_key_reused"


def test_field_errors_come_back_per_field(citizen: httpx.Client) -> None:
    data = form(chip_number="12")
    del data["dog_name"]
    response = submit(citizen, form_data=data)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "form_invalid"
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"/dog_name", "/chip_number"}


def test_bad_input_is_a_clear_4xx(citizen: httpx.Client, clerk: httpx.Client) -> None:
    url = f"/api/v1/tenants/{VECHTA}/cases"
    json_headers = {"Content-Type": "application/json"}
    cases = [
        (citizen.post(url, content=b"{not json", headers=json_headers), 400, "malformed_json"),
        (citizen.post(url, content=b"[]", headers=json_headers), 400, "invalid_request"),
        (citizen.post(url, content=b"", headers=json_headers), 400, "malformed_json"),
        (citizen.post(url, content=b"\xff\xfe", headers=json_headers), 400, "malformed_json"),
        (citizen.post(url, content=b"x" * 1_000_001, headers=json_headers), 413, "payload_too_large"),
        (citizen.post(url, content=b"a=b", headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"),
        (submit(citizen, ags="99999999"), 404, "unknown_tenant"),
        (submit(citizen, ags="vechta"), 404, "unknown_tenant"),
        (submit(citizen, service_id="drachenanmeldung"), 404, "unknown_service"),
        (submit(citizen, form_version=99), 409, "unknown_form_version"),
        (citizen.post(url, json={"service_id": "hundeanmeldung"}), 400, "invalid_request"),
        (citizen.post(url, json={"service_id": "hundeanmeldung", "form_data": {}}, headers={"Idempotency-Key": "a b"}), 400, "invalid_idempotency_key"),
        (citizen.get("/api/v1/cases/not-a-uuid"), 404, "case_not_found"),
        (citizen.get(f"/api/v1/cases/{uuid.uuid4()}"), 404, "case_not_found"),
        (clerk.post(f"/api/v1/cases/{uuid.uuid4()}/actions/approve", json={}), 404, "case_not_found"),
        (clerk.get("/api/v1/tenants/99999999/worklist"), 404, "unknown_tenant"),
        (clerk.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"limit": "0"}), 400, "invalid_parameter"),
        (clerk.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"sort": "name"}), 400, "invalid_parameter"),
        (clerk.get(f"/api/v1/tenants/{VECHTA}/worklist", params={"cursor": "garbage"}), 400, "invalid_cursor"),
        (citizen.get("/api/v1/nothing-here"), 404, "not_found"),
        (citizen.delete(url), 405, "method_not_allowed"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (code, response.status_code, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        body = response.json()
        assert body["code"] == code and body["status"] == status and body["detail"]


def test_unknown_action_lists_the_possible_ones(citizen: httpx.Client, clerk: httpx.Client) -> None:
    case = submit(citizen).json()
    response = clerk.post(f"/api/v1/cases/{case['case_id']}/actions/fly", json={})
    assert response.status_code == 404
    assert "approve" in response.json()["detail"]


def test_worklist_keyset_pagination_visits_every_case_once(citizen: httpx.Client, lohne_clerk: httpx.Client) -> None:
    ids = {submit(citizen, ags=LOHNE).json()["case_id"] for _ in range(7)}
    eventually(lambda: all(in_worklist(lohne_clerk, LOHNE, case_id) for case_id in ids))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "sort": "reference", "service_id": "hundeanmeldung", **({"cursor": cursor} if cursor else {})}
        page = lohne_clerk.get(f"/api/v1/tenants/{LOHNE}/worklist", params=params).json()
        seen.extend(item["reference"] for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) and seen == sorted(seen) and len(seen) >= 7


def test_correlation_id_is_echoed_and_health_is_ready(client: httpx.Client) -> None:
    response = client.get("/health/ready", headers={"X-Correlation-ID": "trace-123"})
    assert response.status_code == 200
    assert response.json()["checks"] == {"catalog": "ok", "identity": "ok", "submissions": "ok"}
    assert response.headers["X-Correlation-ID"] == "trace-123"
    assert client.get("/health/live").json() == {"status": "ok"}
