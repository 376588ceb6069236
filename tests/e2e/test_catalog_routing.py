"""Finding a service and reaching the responsible authority, through the gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from services.catalog.definitions import DEFINITIONS_DIR
from tests.e2e.conftest import BAKUM, LK_VECHTA, VECHTA, eventually
from tests.examples import ELTERNGELD, form
from tests.support import ROOT, Platform


def search(http: httpx.Client, ags: str, query: str) -> list[dict]:
    response = http.get(f"/api/v1/tenants/{ags}/services", params={"q": query})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_search_finds_services_in_citizen_words(client: httpx.Client) -> None:
    first = search(client, VECHTA, "Hund anmelden")[0]
    assert (first["service_id"], first["online"], first["responsible"]["ags"]) == ("hundeanmeldung", True, VECHTA)
    assert search(client, VECHTA, "Fürungszeugnis")[0]["service_id"] == "fuehrungszeugnis"
    assert search(client, VECHTA, "Ausweis verloren")[0]["service_id"] == "personalausweis-verlust"
    offline = next(hit for hit in search(client, VECHTA, "Fischereischein") if not hit["online"])
    assert offline["service_id"] is None and offline["contact"]["email"]
    for params, code in [({"q": ""}, "invalid_query"), ({"q": "x" * 500}, "invalid_query")]:
        response = client.get(f"/api/v1/tenants/{VECHTA}/services", params=params)
        assert response.status_code == 400 and response.json()["code"] == code
    assert client.get("/api/v1/tenants/99999999/services", params={"q": "Hund"}).status_code == 404


def test_browse_the_ozg_catalog(client: httpx.Client) -> None:
    themenfelder = client.get("/api/v1/themenfelder").json()["items"]
    assert len(themenfelder) == 14
    familie = next(t for t in themenfelder if t["name"].startswith("Familie"))
    lagen = client.get(f"/api/v1/themenfelder/{familie['id']}/lebenslagen").json()["items"]
    geburt = next(lage for lage in lagen if lage["name"] == "Geburt")
    leistungen = client.get(f"/api/v1/lebenslagen/{geburt['id']}/leistungen").json()["items"]
    elterngeld = next(leistung for leistung in leistungen if leistung["name"] == "Elterngeld")
    detail = client.get(f"/api/v1/leistungen/{elterngeld['ozg_id']}").json()
    assert detail["leika"] and all("leika_key" in entry for entry in detail["leika"])
    assert client.get("/api/v1/themenfelder/999/lebenslagen").status_code == 404


def test_elterngeld_from_bakum_reaches_the_district(citizen: httpx.Client, district_clerk: httpx.Client) -> None:
    hit = search(citizen, BAKUM, "Elterngeld")[0]
    assert (hit["service_id"], hit["responsible"]["ags"], hit["online"]) == ("elterngeld", LK_VECHTA, True)
    response = citizen.post(
        f"/api/v1/tenants/{BAKUM}/cases", json={"service_id": "elterngeld", "form_data": ELTERNGELD},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    # Elterngeld needs identity proof: a basic account is told what to do
    assert response.status_code == 403 and response.json()["code"] == "trust_level_insufficient"


def test_elterngeld_case_lands_in_the_district_worklist(running: Platform, accounts, district_clerk: httpx.Client, clerk: httpx.Client) -> None:
    account = accounts.citizen()
    accounts.app.complete_eid_verification(
        account.account_id,
        _simulated_eid(accounts, account.account_id),
    )
    accounts.login(account)
    with httpx.Client(base_url=running.base_url, timeout=30, headers=account.headers) as citizen:
        response = citizen.post(
            f"/api/v1/tenants/{BAKUM}/cases", json={"service_id": "elterngeld", "form_data": ELTERNGELD},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert response.status_code == 201, response.text
        case = response.json()
    assert (case["tenant"], case["portal"]) == (LK_VECHTA, BAKUM) and case["reference"].startswith("LKV-")
    assert eventually(lambda: any(
        i["case_id"] == case["case_id"] for i in district_clerk.get(f"/api/v1/tenants/{LK_VECHTA}/worklist").json()["items"]
    ))
    assert clerk.get(f"/api/v1/cases/{case['case_id']}").status_code == 404  # not Vechta's case


def test_an_old_form_version_is_refused_after_a_new_one_is_published(
    running: Platform, citizen: httpx.Client, tmp_path: Path
) -> None:
    definitions = tmp_path / "definitions"
    shutil.copytree(DEFINITIONS_DIR, definitions)
    path = definitions / "hundeabmeldung.json"
    definition = json.loads(path.read_text(encoding="utf-8"))
    definition["version"] = 2
    path.write_text(json.dumps(definition, ensure_ascii=False), encoding="utf-8")
    env = {**running.env, "CATALOG_DEFINITIONS_DIR": str(definitions)}
    imported = subprocess.run([sys.executable, "-m", "services.catalog", "import"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert imported.returncode == 0, imported.stderr

    form_v1 = client_form(citizen)

    def refused() -> dict | None:
        response = citizen.post(
            f"/api/v1/tenants/{VECHTA}/cases",
            json={"service_id": "hundeabmeldung", "form_version": 1, "form_data": form_v1},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        return response.json() if response.status_code == 409 else None

    problem = eventually(refused, timeout=20, interval=0.5)  # the submissions cache lives 5 s
    assert problem["code"] == "unknown_form_version" and "Version 2" in problem["detail"]
    assert citizen.get("/api/v1/services/hundeabmeldung").json()["version"] == 2
    assert citizen.get("/api/v1/services/hundeabmeldung", params={"version": 1}).json()["version"] == 1


def client_form(http: httpx.Client) -> dict:
    """A valid Hundeabmeldung, built from the published form's required fields."""
    schema = http.get("/api/v1/services/hundeabmeldung", params={"version": 1}).json()["form"]
    sample = {**form()}
    data = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if name in sample:
            data[name] = sample[name]
        elif "enum" in prop:
            data[name] = prop["enum"][0]
        elif prop.get("type") == "boolean":
            data[name] = False
        elif prop.get("type") == "integer":
            data[name] = max(prop.get("minimum", 1), 1)
        elif prop.get("format") == "date":
            data[name] = "2026-11-20"
        else:
            data[name] = "Bello"
    return data


def _simulated_eid(accounts, account_id: str) -> dict[str, str]:
    started = accounts.app.start_eid_verification(account_id, "/api/v1/me/eid/complete")
    state = started["redirect_url"].split("state=")[1].split("&")[0]
    return {"state": state, "level": "substantial", "given_name": "Anna", "family_name": "Schmidt",
            "birth_date": "1990-05-05"}


