"""Mails end to end: a citizen submits a Hundeanmeldung in Vechta, the clerk asks a question
and approves; each notice reaches the development SMTP sink once, addressed from identity,
with the authority's details and a link, and without form contents or free text; the
citizen's timeline and the clerk's message list show each delivery. A citizen who chose
English gets English mails; an address that refuses mail (550) is a permanent failure the
clerk sees; with the SMTP server away the mail is retried and arrives once it is back."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, client_for, eventually
from tests.examples import form


def submit(citizen: httpx.Client) -> dict[str, Any]:
    response = citizen.post(
        f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return response.json()


def messages(clerk: httpx.Client, case_id: str, count: int = 1, status: str | None = None) -> list[dict[str, Any]]:
    """The case's messages as its clerk sees them, once there are ``count`` (in ``status``)."""
    def found() -> list[dict[str, Any]] | None:
        items = clerk.get(f"/api/v1/cases/{case_id}/messages").json()["items"]
        wanted = [i for i in items if status in (None, i["status"])]
        return items if len(wanted) >= count else None

    return eventually(found, timeout=60)


def test_case_mails_arrive_once_each(running: support.Platform, accounts: Accounts, clerk: httpx.Client) -> None:
    account = accounts.citizen()
    with client_for(running, account) as citizen:
        case = submit(citizen)
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
        delivered = messages(clerk, case["case_id"], count=3, status="delivered")
        timeline = citizen.get(f"/api/v1/cases/{case['case_id']}").json()["timeline"]
    assert sorted(m["subject"] for m in mails) == sorted([  # each once (a retried one may come later)
        f"Ihr Antrag {case['reference']} ist eingegangen",
        f"Rückfrage zu Ihrem Antrag {case['reference']}",
        f"Ihr Antrag {case['reference']} wurde entschieden",
    ])
    for mail in mails:
        assert "Vechta" in mail["text"] and f"/cases/{case['case_id']}" in mail["text"]
        assert "Öffnungszeiten:" in mail["text"] and "/postbox" in mail["text"]  # the authority's details, the postbox
        for private in ("Bello", "Impfpass", "Hundesteuermarke", "Erika"):
            assert private not in mail["text"]
    assert "bewilligt" in next(m["text"] for m in mails if "entschieden" in m["subject"])
    assert sorted(m["kind"] for m in delivered) == ["case_approved", "case_information_requested", "case_submitted"]
    assert {(m["channel"], m["status_text"], m["template_version"]) for m in delivered} == {("email", "zugestellt", 2)}
    told = [entry["text"] for entry in timeline if entry["step"] == "message"]
    assert "Eingangsbestätigung per E-Mail: zugestellt" in told


def test_english_mails_for_a_citizen_who_chose_english(running: support.Platform, accounts: Accounts) -> None:
    account = accounts.citizen()
    with client_for(running, account) as citizen:
        chosen = citizen.put("/api/v1/me/preferences", json={"language": "en", "email": {"case_reassigned": False}})
        assert chosen.status_code == 200, chosen.text
        assert citizen.get("/api/v1/me/preferences").json()["language"] == "en"
        case = submit(citizen)
    [mail] = running.sink_mails(account.email)
    assert mail["subject"] == f"Your application {case['reference']} has been received"
    assert "Opening hours:" in mail["text"]


def test_a_refused_address_is_a_permanent_failure_the_clerk_sees(
    running: support.Platform, accounts: Accounts, clerk: httpx.Client
) -> None:
    account = accounts.citizen(domain="nowhere.invalid")  # the sink answers 550 for .invalid
    with client_for(running, account) as citizen:
        case = submit(citizen)
        [failed] = messages(clerk, case["case_id"], status="permanent-failure")
        timeline = citizen.get(f"/api/v1/cases/{case['case_id']}").json()["timeline"]
    assert (failed["kind"], failed["status_text"]) == ("case_submitted", "nicht zustellbar")
    assert "Eingangsbestätigung per E-Mail: nicht zustellbar" in [e["text"] for e in timeline if e["step"] == "message"]
    assert running.sink_mails(account.email, timeout=1) == []


def test_with_the_smtp_server_away_the_mail_waits_and_arrives_once(
    running: support.Platform, accounts: Accounts, clerk: httpx.Client
) -> None:
    account = accounts.citizen()
    running.kill("mail-sink")
    try:
        with client_for(running, account) as citizen:
            case = submit(citizen)
        [waiting] = messages(clerk, case["case_id"], status="temporary-failure")
        assert waiting["status_text"] == "vorübergehend nicht zustellbar, neuer Versuch folgt"
    finally:
        running.start("mail-sink")
    messages(clerk, case["case_id"], status="delivered")
    [mail] = running.sink_mails(account.email)
    assert mail["subject"] == f"Ihr Antrag {case['reference']} ist eingegangen"
    assert len(running.sink_mails(account.email, timeout=3)) == 1  # nothing twice
