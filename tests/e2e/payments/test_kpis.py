"""Usage and acceptance KPIs end to end (issue #15), on the payments package's platform:
submissions (one from a draft), a draft left unfinished, a failed and a succeeded payment
and one decision, counted by hand against ``GET /api/v1/tenants/{ags}/kpis`` and its CSV;
then ``python -m services.ops rebuild-kpis`` refolds the same numbers from the event stores.

Counted as differences from before the test, for the tenant and service the test uses
(other modules of the package work on the same tenant, but not at the same time)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import date, timedelta
from typing import Any

import httpx

from tests.e2e.conftest import eventually
from tests.e2e.payments.conftest import CLOPPENBURG, FORM, case_of, new_case, pay, returned, start

SERVICE = "fuehrungszeugnis"
KPIS = f"/api/v1/tenants/{CLOPPENBURG}/kpis"
COUNTED = ("drafts_started", "drafts_submitted", "submissions", "decisions", "approved", "payments_succeeded",
           "payments_failed", "decided_without_information_request", "backlog")


def period() -> dict[str, str]:
    today = date.today()  # a day either side: Berlin's date may differ from the machine's
    return {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat(), "service": SERVICE}


def kpis(admin: httpx.Client) -> dict[str, Any]:
    response = admin.get(KPIS, params=period())
    assert response.status_code == 200, response.text
    return response.json()


def service_row(body: dict[str, Any]) -> dict[str, Any]:
    rows = [row for row in body["services"] if row["service_id"] == SERVICE]
    return rows[0] if rows else dict.fromkeys(COUNTED, 0)


def test_kpis_count_what_happened_and_a_rebuild_gives_the_same(payer, clerk, tenant_admin, running) -> None:
    before = service_row(kpis(tenant_admin))

    left = payer.post(f"/api/v1/tenants/{CLOPPENBURG}/drafts", json={"service_id": SERVICE, "page": "person"})
    assert left.status_code == 201, left.text  # started, never submitted
    finished = payer.post(f"/api/v1/tenants/{CLOPPENBURG}/drafts", json={"service_id": SERVICE, "form_data": FORM})
    assert finished.status_code == 201, finished.text
    from_draft = payer.post(f"/api/v1/drafts/{finished.json()['draft_id']}/submit", json={})
    assert from_draft.status_code == 201, from_draft.text
    paid, failed = new_case(payer), new_case(payer)

    assert pay(start(payer, failed)["payment"]["pay_url"], "failure").status_code == 303
    assert returned(payer, failed)["status"] == "FAILED"
    assert pay(start(payer, paid)["payment"]["pay_url"], "success").status_code == 303
    assert returned(payer, paid)["status"] == "PAYED"
    eventually(lambda: case_of(payer, paid)["status"] == "paid", timeout=30)
    assert clerk.post(f"/api/v1/cases/{paid}/actions/start-review", json={}).status_code == 200
    approved = clerk.post(f"/api/v1/cases/{paid}/actions/approve", json={"decision": "Das Führungszeugnis wird beantragt."})
    assert approved.status_code == 200, approved.text

    # by hand: 2 drafts started, 1 submitted; 3 cases; 1 payment failed, 1 succeeded; 1 approved
    # without an information request; 3 new open cases, 1 of them decided
    expected = {"drafts_started": 2, "drafts_submitted": 1, "submissions": 3, "decisions": 1, "approved": 1,
                "payments_succeeded": 1, "payments_failed": 1, "decided_without_information_request": 1, "backlog": 2}

    def counted() -> dict[str, Any] | None:
        body = kpis(tenant_admin)
        row = service_row(body)
        return body if {k: row[k] - before[k] for k in COUNTED} == expected else None

    body = eventually(counted, timeout=60, interval=0.5)
    row = service_row(body)
    assert row["tenant"] == CLOPPENBURG and row["processing_days"]
    assert row["decision_days_median"] is not None and row["decision_days_median"] < 1  # decided within minutes
    assert row["drop_off_pages"].get("person", 0) >= 1
    assert body["total"]["submissions"] == row["submissions"]  # one service asked for
    assert set(body["messages_undelivered"]) == {"pending", "failed"}

    csv_response = tenant_admin.get(f"{KPIS}.csv", params=period())
    assert csv_response.status_code == 200 and csv_response.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert sum(int(line["submissions"]) for line in lines) == row["submissions"]
    assert {line["tenant"] for line in lines} == {CLOPPENBURG}
    negotiated = tenant_admin.get(KPIS, params=period(), headers={"Accept": "text/csv"})
    assert negotiated.text == csv_response.text

    rebuilt = subprocess.run([sys.executable, "-m", "services.ops", "rebuild-kpis"], env=running.env,
                             capture_output=True, text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    after = kpis(tenant_admin)
    assert after["services"] == body["services"] and after["days"] == body["days"]
