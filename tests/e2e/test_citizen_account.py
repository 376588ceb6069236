"""A new citizen, end to end: register, follow the e-mail link (from the development mail
sink until the notifications service exists), log in, apply, raise the trust level
with the (simulated) eID, get help at the counter, download and delete their data."""

from __future__ import annotations

import json
import signal
import uuid
from urllib.parse import urlsplit

import httpx
import psycopg
import psycopg.sql
import pytest

from services.common.partitions import schema_name
from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import LOHNE, VECHTA, client_for, eventually
from tests.examples import FORMS, form
from tests.support import Platform

PASSWORD = "Kirschbaum-am-Markt-7"


def mail_link(running: Platform, to: str, template: str) -> str:
    """The link of the newest mail of that template, from the development SMTP sink: a page
    of the web portal (WEB_PUBLIC_URL)."""
    link = running.mail(to, template)["link"]
    assert link.startswith(f"{running.web_url}/konto/"), link
    return link


@pytest.fixture
def anonymous(running: Platform):
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield http


def submit(http: httpx.Client, ags: str, service_id: str = "hundeanmeldung", **extra) -> httpx.Response:
    data = form(service_id) if service_id in FORMS else {}
    return http.post(
        f"/api/v1/tenants/{ags}/cases",
        json={"service_id": service_id, "form_data": data, **extra},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def test_new_citizen_from_registration_to_deletion(
    running: Platform, anonymous: httpx.Client, accounts: Accounts, clerk: httpx.Client, lohne_clerk: httpx.Client,
    platform_env: dict[str, str],
) -> None:
    email = f"neu-{uuid.uuid4().hex[:8]}@example.org"
    weak = anonymous.post("/api/v1/auth/register", json={"email": email, "password": "passwort123"})
    assert weak.status_code == 400 and weak.json()["code"] == "password_rejected"
    first = anonymous.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD})
    again = anonymous.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD + "x"})
    assert first.status_code == again.status_code == 202 and first.json() == again.json()  # no enumeration

    early = anonymous.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert early.status_code == 403 and early.json()["code"] == "email_not_verified"
    link = mail_link(running, email, "verify_email")  # a page; its button posts the token
    assert httpx.get(link.split("#")[0]).status_code == 200
    verified = anonymous.post("/api/v1/auth/verify-email", json={"token": link.split("#token=")[1]})
    assert verified.status_code == 200 and verified.json()["email_verified"] is True
    account_id = verified.json()["account_id"]

    login = anonymous.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    cookies = login.headers.get_list("set-cookie")
    assert any(c.startswith("vr_access=") and "HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    tokens = login.json()
    citizen = httpx.Client(base_url=running.base_url, timeout=30, headers={"Authorization": f"Bearer {tokens['access_token']}"})

    # apply in Vechta; see it under "Meine Anträge"; Vechta's clerk sees it, Lohne's does not
    case = submit(citizen, VECHTA).json()
    assert case["reference"].startswith("VEC-")
    assert eventually(lambda: [c["case_id"] for c in citizen.get("/api/v1/me/cases").json()["items"]] == [case["case_id"]])
    assert eventually(lambda: any(i["case_id"] == case["case_id"] for i in clerk.get(f"/api/v1/tenants/{VECHTA}/worklist").json()["items"]))
    assert lohne_clerk.get(f"/api/v1/cases/{case['case_id']}").json()["code"] == "case_not_found"
    assert lohne_clerk.get(f"/api/v1/tenants/{VECHTA}/worklist").status_code == 403
    assert clerk.get(f"/api/v1/cases/{case['case_id']}").status_code == 200

    # the browser way: the HTTP-only cookie alone authenticates
    with httpx.Client(base_url=running.base_url, timeout=30, cookies={"vr_access": tokens["access_token"]}) as browser:
        assert browser.get("/api/v1/me").json()["account_id"] == account_id

    # a Meldebescheinigung needs trust level "high": eID first
    refused = submit(citizen, LOHNE, "meldebescheinigung")
    assert refused.status_code == 403 and refused.json()["code"] == "trust_level_insufficient"
    assert "eID" in refused.json()["detail"]
    start = citizen.post("/api/v1/me/eid/start").json()
    state = dict(p.split("=", 1) for p in urlsplit(start["redirect_url"]).query.split("&"))["state"]
    simulator = anonymous.get(urlsplit(start["redirect_url"]).path, params={"state": state})
    assert simulator.status_code == 200 and "eID-Simulator" in simulator.text
    done = citizen.post("/api/v1/me/eid/complete", json={
        "state": state, "level": "high", "given_name": "Erika", "family_name": "Muster", "birth_date": "1980-04-12"})
    assert done.status_code == 200, done.text
    refreshed = anonymous.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).json()
    citizen.headers["Authorization"] = f"Bearer {refreshed['access_token']}"
    assert citizen.get("/api/v1/me").json()["trust_level"] == "high"
    assert submit(citizen, LOHNE, "meldebescheinigung").status_code == 201

    # at the counter: Lohne's clerk submits on the citizen's behalf
    assisted = submit(lohne_clerk, LOHNE, on_behalf_of=account_id)
    assert assisted.status_code == 201, assisted.text
    assert eventually(lambda: len(citizen.get("/api/v1/me/cases").json()["items"]) == 3)
    assert submit(clerk, LOHNE, on_behalf_of=account_id).status_code == 403  # not Vechta's business

    # the tenant admin sees who looked at and changed the case
    admin = accounts.staff([(VECHTA, "tenant_admin", ["*"])], kind="tenant_admin")
    with client_for(running, admin) as admin_http:
        trail = admin_http.get(f"/api/v1/cases/{case['case_id']}/audit").json()["items"]
        assert admin_http.get(f"/api/v1/cases/{case['case_id']}").status_code == 404  # no case contents
    assert {"Submitted", "read"} <= {entry["action"] for entry in trail}

    # download everything, change the password, log out, delete the account
    export = citizen.get("/api/v1/me/export")
    assert export.headers["Content-Disposition"].startswith("attachment")
    assert {c["form_data"]["dog_name"] for c in export.json()["cases"] if "dog_name" in c["form_data"]} == {"Bello"}
    assert anonymous.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    assert anonymous.post("/api/v1/auth/password-reset", json={"email": "niemand@example.org"}).status_code == 202
    token = mail_link(running, email, "password_reset").split("#token=")[1]
    new_password = PASSWORD + "-neu"
    assert anonymous.post("/api/v1/auth/password-reset/confirm", json={"token": token, "password": new_password}).status_code == 200
    login = anonymous.post("/api/v1/auth/login", json={"email": email, "password": new_password})
    assert login.status_code == 200
    citizen.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    assert citizen.post("/api/v1/auth/logout", json={"refresh_token": login.json()["refresh_token"]}).status_code == 204
    assert eventually(lambda: citizen.get("/api/v1/me").status_code == 401)

    relogin = anonymous.post("/api/v1/auth/login", json={"email": email, "password": new_password})
    assert relogin.status_code == 200, relogin.text
    citizen.headers["Authorization"] = "Bearer " + relogin.json()["access_token"]

    # later events with free text naming the person: a question, the answer, a rejection, a withdrawal
    work_on_cases(citizen, clerk, case["case_id"], [c["case_id"] for c in citizen.get("/api/v1/me/cases").json()["items"]])
    case_ids = [c["case_id"] for c in citizen.get("/api/v1/me/cases").json()["items"]]

    # deleting needs the current password (re-authentication)
    missing = citizen.request("DELETE", "/api/v1/me", json={})
    assert missing.status_code == 400 and missing.json()["code"] == "invalid_parameter"
    wrong = citizen.request("DELETE", "/api/v1/me", json={"password": "Falsches-Passwort-42"})
    assert wrong.status_code == 403 and wrong.json()["code"] == "wrong_password"
    assert citizen.request("DELETE", "/api/v1/me", json={"password": new_password}).status_code == 204
    gone = anonymous.post("/api/v1/auth/login", json={"email": email, "password": new_password})
    assert gone.status_code == 401 and gone.json()["code"] == "invalid_credentials"
    kept = clerk.get(f"/api/v1/cases/{case['case_id']}").json()
    assert kept["reference"] == case["reference"]  # the authority keeps its case …
    assert kept["contents"]["form_data"] == {"_erased": True} and kept["contents"]["personal_data_erased"]
    assert eventually(lambda: [e["step"] for e in clerk.get(f"/api/v1/cases/{case['case_id']}").json()["timeline"]
                               if e["step"] != "message"][-1] == "personal_data_erased")
    citizen.close()
    # … and not one byte of the person in any stored event of any of their cases
    dog, certificate = form(), form("meldebescheinigung")
    personal = [email, *PERSONAL_TEXTS, *(form_[k] for form_ in (dog, certificate) for k in PERSONAL_FIELDS if k in form_)]
    assert stored_personal_values(platform_env, case_ids, personal) == []


# the form fields that name or locate the person (dates and choices could occur by chance elsewhere)
PERSONAL_FIELDS = (
    "holder_first_name", "holder_last_name", "holder_street", "first_name", "last_name", "street", "email",
    "dog_name", "chip_number", "liability_insurer", "liability_policy_number", "purpose",
)


PERSONAL_TEXTS = (
    "Frau Erika Muster, bitte den Impfpass von Bello nachreichen.",
    "Der Impfpass von Bello ist hochgeladen. Erika Muster",
    "Abgelehnt: Frau Erika Muster hat Bello bereits in Lohne angemeldet.",
    "Umzug von Erika Muster nach Bremen",
)


def work_on_cases(citizen: httpx.Client, clerk: httpx.Client, vechta_case: str, case_ids: list[str]) -> None:
    """Vechta asks, the citizen answers, Vechta rejects; the citizen withdraws another case."""
    question, answer, rejection, withdrawal = PERSONAL_TEXTS
    def act(who: httpx.Client, case_id: str, action: str, payload: dict) -> None:
        response = who.post(f"/api/v1/cases/{case_id}/actions/{action}", json=payload)
        assert response.status_code == 200, response.text
    act(clerk, vechta_case, "start-review", {"clerk": "Frau Meyer"})
    act(clerk, vechta_case, "request-information", {"question": question})
    asked = citizen.get(f"/api/v1/cases/{vechta_case}").json()
    assert asked["contents"]["question"] == question  # the citizen reads the question with the case
    act(citizen, vechta_case, "supply-information", {"answer": answer})
    act(clerk, vechta_case, "reject", {"reason": rejection})
    other = next(c for c in case_ids if c != vechta_case)
    act(citizen, other, "withdraw", {"reason": withdrawal})


def stored_personal_values(env: dict[str, str], case_ids: list[str], values: list[str]) -> list[str]:
    """Which of ``values`` appear in the stored bytes of any event (or snapshot) of the cases,
    read straight from the submissions schemas in PostgreSQL (every case partition's,
    services/common/partitions.py): not the folded case."""
    partitions = int(env.get("CASE_PARTITIONS") or 1)
    raw = b""
    with psycopg.connect(support.conninfo(env["POSTGRES_DBNAME"])) as conn:
        for schema in (env["VR_SCHEMA_PREFIX"] + schema_name("submissions", k) for k in range(partitions)):
            tables = [row[0] for row in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = 'state' "
                "INTERSECT SELECT table_name FROM information_schema.columns WHERE table_schema = %s AND column_name = 'originator_id'",
                (schema, schema),
            )]
            assert tables, f"no event tables in {schema}"
            raw += b"".join(
                bytes(state)
                for table in tables
                for (state,) in conn.execute(
                    psycopg.sql.SQL("SELECT state FROM {}.{} WHERE originator_id = ANY(%s)").format(
                        psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)),
                    ([uuid.UUID(c) for c in case_ids],),
                )
            )
    assert raw.count(b"originator_topic") >= len(case_ids)  # the events were read
    found = []
    for value in values:
        if value.encode() in raw or json.dumps(value)[1:-1].encode() in raw:
            found.append(value)
    return found


def test_a_deletion_that_cannot_finish_now_is_completed_later(
    running: Platform, accounts: Accounts, anonymous: httpx.Client, platform_env: dict[str, str]
) -> None:
    """With the submissions service away the cases cannot be erased: the answer is 202, the
    account is unusable at once, and identity completes the deletion once the service is back."""
    person = accounts.citizen()
    with client_for(running, person) as citizen:
        case = submit(citizen, VECHTA).json()
        running.kill("submissions", signal.SIGTERM)
        try:
            pending = citizen.request("DELETE", "/api/v1/me", json={"password": person.password})
            login = anonymous.post("/api/v1/auth/login", json={"email": person.email, "password": person.password})
        finally:
            running.start("submissions")
    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "deletion_pending" and "gelöscht" in pending.json()["detail"]
    assert login.status_code == 401  # unusable while the deletion is pending
    running.wait_ready()
    eventually(lambda: accounts.app.get_account(person.account_id)["status"] == "deleted", timeout=60)
    dog = form()
    personal = [person.email, *(dog[k] for k in PERSONAL_FIELDS if k in dog)]
    assert stored_personal_values(platform_env, [case["case_id"]], personal) == []
