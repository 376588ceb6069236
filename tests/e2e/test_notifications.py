"""Case mails end to end: a citizen submits a Hundeanmeldung in Vechta, the clerk asks a
question and approves; each notice reaches the development SMTP sink once, addressed from
identity, with the tenant's name and a link, and without form contents or free text."""

from __future__ import annotations

import uuid

import httpx

from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, client_for
from tests.examples import form


def test_case_mails_arrive_once_each(running: support.Platform, accounts: Accounts, clerk: httpx.Client) -> None:
    account = accounts.citizen()
    with client_for(running, account) as citizen:
        response = citizen.post(
            f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        case = response.json()
        [confirmation] = running.sink_mails(account.email)
        assert confirmation["subject"] == f"Ihr Antrag {case['reference']} ist eingegangen"
        steps = [
            (clerk, "start-review", {"clerk": "Frau Meyer"}),
            (clerk, "request-information", {"question": "Bitte Impfpass nachreichen.", "due_date": "2026-12-31"}),
            (citizen, "supply-information", {"answer": "Impfpass ist hochgeladen."}),
            (clerk, "approve", {"decision": "Die Hundesteuermarke wird zugesandt."}),
        ]
        for who, action, payload in steps:
            answer = who.post(f"/api/v1/cases/{case['case_id']}/actions/{action}", json=payload)
            assert answer.status_code == 200, answer.text
    mails = running.sink_mails(account.email, count=3)
    assert sorted(m["subject"] for m in mails) == sorted([  # each once (a retried one may come later)
        f"Ihr Antrag {case['reference']} ist eingegangen",
        f"Rückfrage zu Ihrem Antrag {case['reference']}",
        f"Ihr Antrag {case['reference']} wurde entschieden",
    ])
    for mail in mails:
        assert "Vechta" in mail["text"] and f"/cases/{case['case_id']}" in mail["text"]
        for private in ("Bello", "Impfpass", "Hundesteuermarke", "Erika"):
            assert private not in mail["text"]
    assert "bewilligt" in next(m["text"] for m in mails if "entschieden" in m["subject"])
