"""What the web portal needs besides cases, through the real gateway: drafts and uploads are
their owner's alone (another citizen gets the 404 of nothing), an attachment reaches the
responsible clerk only through the case, and deleting the account erases drafts, uploads and
the stored bytes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import LOHNE, VECHTA, client_for, eventually
from tests.examples import form
from tests.support import Platform

PDF = b"%PDF-1.7\n% Ausweiskopie Erika Mustermann\n%%EOF\n"


@pytest.fixture
def people(running: Platform, accounts: Accounts) -> Iterator[dict[str, tuple[Account, httpx.Client]]]:
    made = {
        "a": accounts.citizen(), "b": accounts.citizen(),
        "clerk": accounts.staff([(VECHTA, "clerk", ["*"])]), "lohne": accounts.staff([(LOHNE, "clerk", ["*"])]),
        "admin": accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin"),
    }
    clients = {name: client_for(running, account) for name, account in made.items()}
    yield {name: (made[name], clients[name]) for name in made}
    for http in clients.values():
        http.close()


def upload(http: httpx.Client, content: bytes = PDF) -> dict:
    response = http.post("/api/v1/attachments", content=content,
                         headers={"Content-Type": "application/pdf", "X-Filename": "ausweis.pdf"})
    assert response.status_code == 201, response.text
    return response.json()


def assisted_case(clerk: httpx.Client, applicant: Account, attachment_id: str) -> str:
    """A Gewerbeanmeldung a Vechta clerk submits for ``applicant``, referring to her upload."""
    body = {"service_id": "gewerbeanmeldung", "on_behalf_of": applicant.account_id,
            "form_data": form("gewerbeanmeldung", ausweiskopie={"attachment_id": attachment_id})}
    response = clerk.post(f"/api/v1/tenants/{VECHTA}/cases", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    return response.json()["case_id"]


def test_a_draft_is_its_owners_alone_and_becomes_a_case(people) -> None:
    (_, a), (_, b), (_, clerk) = people["a"], people["b"], people["clerk"]
    started = a.post(f"/api/v1/tenants/{VECHTA}/drafts", json={"service_id": "hundeanmeldung", "form_data": {"dog_name": "Bello"}})
    assert started.status_code == 201, started.text
    draft = started.json()
    url = f"/api/v1/drafts/{draft['draft_id']}"
    assert started.headers["Location"] == url and draft["form_version"] >= 1 and draft["status"] == "open"
    for response in (b.get(url), b.put(url, json={"form_data": {}}), b.delete(url), b.post(f"{url}/submit"), clerk.get(url)):
        assert response.status_code == 404 and response.json()["code"] == "draft_not_found", response.text
    assert b.get("/api/v1/me/drafts").json()["items"] == []
    assert [d["draft_id"] for d in a.get("/api/v1/me/drafts").json()["items"]] == [draft["draft_id"]]
    assert a.put(url, json={"form_data": form(), "page": "check"}).json()["page"] == "check"
    submitted = a.post(f"{url}/submit")
    assert submitted.status_code == 201, submitted.text
    case = submitted.json()
    assert case["reference"].startswith("VEC-") and case["service_id"] == "hundeanmeldung"
    assert a.get(f"/api/v1/cases/{case['case_id']}").json()["contents"]["form_data"]["dog_name"] == "Bello"
    assert a.get("/api/v1/me/drafts").json()["items"] == []
    assert eventually(lambda: case["case_id"] in {c["case_id"] for c in a.get("/api/v1/me/cases").json()["items"]})


def test_an_attachment_reaches_the_responsible_clerk_only_through_the_case(people) -> None:
    (erika, a), (_, b), (_, clerk), (_, lohne) = people["a"], people["b"], people["clerk"], people["lohne"]
    attachment = upload(a)
    case_id = assisted_case(clerk, erika, attachment["attachment_id"])
    url = f"/api/v1/cases/{case_id}/attachments/{attachment['attachment_id']}"
    for reader in (a, clerk):
        got = reader.get(url)
        assert got.status_code == 200 and got.content == PDF and got.headers["Content-Type"] == "application/pdf"
    for stranger in (b, lohne):
        refused = stranger.get(url)
        assert refused.status_code == 404 and refused.json()["code"] == "case_not_found"
    # Otto cannot put Erika's upload into a case of his own
    body = {"service_id": "gewerbeanmeldung", "on_behalf_of": people["b"][0].account_id,
            "form_data": form("gewerbeanmeldung", ausweiskopie={"attachment_id": attachment["attachment_id"]})}
    stolen = clerk.post(f"/api/v1/tenants/{VECHTA}/cases", json=body)
    assert stolen.status_code == 422 and stolen.json()["errors"][0]["field"] == "/ausweiskopie"
    trail = people["admin"][1].get(f"/api/v1/cases/{case_id}/audit").json()["items"]
    assert {(entry["actor"], entry["action"]) for entry in trail} >= {(erika.account_id, "read_attachment")}


def test_deleting_the_account_erases_drafts_uploads_and_their_bytes(people, platform_env: dict[str, str]) -> None:
    (erika, a), (_, clerk) = people["a"], people["clerk"]
    attachment = upload(a, PDF + uuid.uuid4().bytes)  # bytes nobody else has
    case_id = assisted_case(clerk, erika, attachment["attachment_id"])
    draft = a.post(f"/api/v1/tenants/{VECHTA}/drafts", json={"service_id": "hundeanmeldung", "form_data": {"dog_name": "Bello"}}).json()
    blob = Path(platform_env["VR_VAR_DIR"]) / f"{platform_env['VR_SCHEMA_PREFIX']}blobs" / "submissions" / attachment["sha256"][:2] / attachment["sha256"]
    assert blob.exists()
    exported = a.get("/api/v1/me/export").json()
    assert [d["draft_id"] for d in exported["drafts"]] == [draft["draft_id"]]
    assert [f["attachment_id"] for f in exported["attachments"]] == [attachment["attachment_id"]]
    assert a.request("DELETE", "/api/v1/me", json={"password": erika.password}).status_code == 204
    assert not blob.exists()
    gone = clerk.get(f"/api/v1/cases/{case_id}/attachments/{attachment['attachment_id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "attachment_not_found"
    assert clerk.get(f"/api/v1/cases/{case_id}").json()["contents"]["personal_data_erased"] is True
    assert a.get(f"/api/v1/drafts/{draft['draft_id']}").status_code == 401  # the account and its sessions are gone
