"""The postbox end to end: a citizen's Hundeanmeldung in Vechta is approved by the Vechta
clerk; every notice lands in the citizen's postbox with its full text, the decision with
the Bescheid as PDF (parsed back: reference, decision, tenant, remedy, page numbers), the
same letter is the case's document for the clerk — and nobody else gets either (404); deleting
the account erases the postbox and the PDF (410), the clerk keeps the decision."""

from __future__ import annotations

import io
import uuid

import httpx
from pypdf import PdfReader

from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import VECHTA, client_for, eventually
from tests.examples import form

DECISION = "Die Hundesteuermarke Nr. 4711 wird Ihnen zugesandt."


def test_the_decision_reaches_the_postbox_as_letter_for_its_owner_only(
    running: support.Platform, accounts: Accounts, clerk: httpx.Client, citizen: httpx.Client,
    lohne_clerk: httpx.Client,
) -> None:
    person = accounts.citizen()
    with client_for(running, person) as owner:
        response = owner.post(
            f"/api/v1/tenants/{VECHTA}/cases", json={"service_id": "hundeanmeldung", "form_data": form()},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        case = response.json()
        for who, action, payload in [
            (clerk, "start-review", {"clerk": "Frau Meyer"}),
            (clerk, "request-information", {"question": "Bitte Impfpass nachreichen.", "due_date": "2027-12-31"}),
            (owner, "supply-information", {"answer": "Impfpass ist hochgeladen."}),
            (clerk, "approve", {"decision": DECISION}),
        ]:
            answer = who.post(f"/api/v1/cases/{case['case_id']}/actions/{action}", json=payload)
            assert answer.status_code == 200, answer.text

        def three() -> list[dict] | None:
            items = [i for i in owner.get("/api/v1/me/postbox").json()["items"] if i["case_id"] == case["case_id"]]
            return items if len(items) == 3 else None

        items = eventually(three, timeout=60)
        assert {i["kind"] for i in items} == {"case_submitted", "case_information_requested", "case_approved"}
        assert not any(i["read"] for i in items)
        decision = next(i for i in items if i["kind"] == "case_approved")
        [attachment] = decision["attachments"]
        item_url = f"/api/v1/me/postbox/{decision['item_id']}"
        full = owner.get(item_url).json()
        assert DECISION in full["body_text"] and case["reference"] in full["subject"]
        asked = next(i for i in items if i["kind"] == "case_information_requested")["item_id"]
        question = owner.get(f"/api/v1/me/postbox/{asked}").json()["body_text"]
        assert "Bitte Impfpass nachreichen." in question or "inzwischen beantwortet" in question  # composed after the answer

        pdf = owner.get(f"{item_url}/attachments/{attachment['attachment_id']}")
        assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
        reader = PdfReader(io.BytesIO(pdf.content))
        text = "\n".join(page.extract_text() for page in reader.pages)
        for expected in (case["reference"], DECISION, "Vechta", "Rathausplatz 1", "Rechtsbehelfsbelehrung",
                         "Verwaltungsgericht Oldenburg", f"Seite 1 von {len(reader.pages)}", "Hund anmelden (Hundesteuer)"):
            assert expected in text, expected

        assert owner.post(f"{item_url}/read", json={"read": True}).json()["read"] is True
        assert eventually(lambda: next(i for i in owner.get("/api/v1/me/postbox").json()["items"]
                                       if i["item_id"] == decision["item_id"])["read"])

        # another citizen: nothing of it, the same 404 as for a message that does not exist
        assert decision["item_id"] not in {i["item_id"] for i in citizen.get("/api/v1/me/postbox").json()["items"]}
        unknown = citizen.get(f"/api/v1/me/postbox/{uuid.uuid4()}")
        for answer in (citizen.get(item_url), citizen.get(f"{item_url}/attachments/{attachment['attachment_id']}"),
                       citizen.post(f"{item_url}/read", json={"read": False})):
            assert answer.status_code == 404 and answer.json()["code"] == unknown.json()["code"] == "postbox_item_not_found"
        assert owner.get(f"/api/v1/cases/{case['case_id']}/documents").status_code == 404  # the clerk's view

        # the responsible clerk has the same letter on the case; the clerk of another town has nothing
        documents = clerk.get(f"/api/v1/cases/{case['case_id']}/documents")
        assert documents.status_code == 200, documents.text
        [document] = documents.json()["items"]
        assert (document["document_id"], document["sha256"], document["decision"]) == (
            attachment["attachment_id"], attachment["sha256"], "approved")
        download = clerk.get(f"/api/v1/cases/{case['case_id']}/documents/{document['document_id']}")
        assert download.content == pdf.content
        for url in (f"/api/v1/cases/{case['case_id']}/documents", f"/api/v1/cases/{case['case_id']}/documents/{document['document_id']}"):
            refused = lohne_clerk.get(url)
            assert refused.status_code == 404 and refused.json()["code"] == "case_not_found"

        # the account is deleted: the postbox and the letter's PDF go, the authority keeps the record
        assert owner.request("DELETE", "/api/v1/me", json={"password": person.password}).status_code in (202, 204)

        def erased() -> dict | None:
            listed = clerk.get(f"/api/v1/cases/{case['case_id']}/documents").json()["items"]
            return listed[0] if listed and listed[0]["erased"] else None

        kept = eventually(erased, timeout=60)
        assert (kept["document_id"], kept["decision"]) == (document["document_id"], "approved")
        gone = clerk.get(f"/api/v1/cases/{case['case_id']}/documents/{document['document_id']}")
        assert (gone.status_code, gone.json()["code"]) == (410, "document_erased")
