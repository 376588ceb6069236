"""Council information: the development OParl server's fixture is valid OParl 1.1 (against
contracts/oparl/), the object checks skip what a broken source sends, and the source
configuration is event-sourced with who and when."""

from __future__ import annotations

import json
import warnings
from datetime import date
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from services.common.config import OparlServerSettings
from services.common.problems import DomainError
from services.council.application import CouncilApp
from services.council.domain import CouncilSource, checked_url
from services.council.oparl import BadObject, local_id, meeting_row, organization_row, paper_row
from services.council.oparl_server.app import create_app
from services.council.oparl_server.fixture import bad_objects, build

with warnings.catch_warnings():  # starlette asks for httpx2 in its test client; httpx is what is pinned
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SCHEMAS = Path(__file__).resolve().parents[2] / "contracts" / "oparl"
BASE = "http://oparl.test"
CLOPPENBURG = "03453004"


def validators() -> dict[str, Draft202012Validator]:
    loaded = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in loaded.values())
    return {name: Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
            for name, schema in loaded.items()}


def test_the_fixture_is_valid_oparl_1_1_and_as_large_as_promised() -> None:
    data = build(BASE, date(2026, 6, 1))
    check = validators()
    for oid, obj in data["objects"].items():
        kind = obj["type"].rsplit("/", 1)[1]
        errors = [e.message for e in check[kind].iter_errors(obj)]
        assert not errors, f"{oid}: {errors[:3]}"
    assert (len(data["bodies"]), len(data["organizations"]), len(data["meetings"]), len(data["papers"])) == (1, 3, 20, 40)
    assert all(m["agendaItem"] for m in data["meetings"])
    assert sum(1 for o in data["objects"].values() if o["type"].endswith("/File")) >= 60
    starts = [m["start"][:10] for m in data["meetings"]]
    assert min(starts) < "2026-06-01" < max(starts)  # past and upcoming meetings around "today"


def test_the_servers_list_pages_are_valid_paginate_and_filter_by_modified() -> None:
    check = validators()
    app = create_app(OparlServerSettings(public_url=BASE), date(2026, 6, 1))
    with TestClient(app, base_url=BASE) as client:
        system = client.get("/oparl/v1/system").json()
        assert not list(check["System"].iter_errors(system))
        body = client.get("/oparl/v1/bodies").json()["data"][0]
        url, seen = body["meeting"] + "?elementsPerPage=7", []
        while url:
            page = client.get(url).json()
            assert not list(check["ListPage"].iter_errors(page)), page["links"]
            seen += [m["id"] for m in page["data"]]
            url = page["links"].get("next")
        assert len(seen) == len(set(seen)) == 20
        touched = client.post("/_touch", json={"kind": "paper", "number": 3, "name": "Neuer Titel"}).json()
        since = client.get(body["paper"], params={"modified_since": "2026-03-01T00:00:00+01:00"}).json()
        assert [p["id"] for p in since["data"]] == [touched["id"]]
        client.post("/_chaos", json={"fail_rate": 1})
        assert client.get("/oparl/v1/system").status_code == 500
        client.post("/_chaos", json={"fail_rate": 0, "malformed_rate": 1})
        with pytest.raises(ValueError):
            json.loads(client.get(body["paper"]).text)


def test_invalid_objects_raise_bad_object_with_their_id() -> None:
    api = f"{BASE}/oparl/v1"
    bad = bad_objects(api)
    reasons = []
    for obj in bad["meetings"]:
        with pytest.raises(BadObject) as caught:
            meeting_row(obj)
        reasons.append(caught.value.reason)
    for obj in bad["papers"]:
        with pytest.raises(BadObject) as caught:
            paper_row(obj)
        reasons.append((caught.value.object_id, caught.value.reason))
    assert reasons == ["id is no http(s) URL", "start missing", (f"{api}/paper/998", "name is not a string"),
                       (f"{api}/paper/999", "type is not Paper")]
    with pytest.raises(BadObject):
        organization_row({"id": "javascript:alert(1)", "type": "https://schema.oparl.org/1.1/Organization", "name": "x"})


def test_a_bad_embedded_object_is_left_out_of_its_parent_and_reported() -> None:
    data = build(BASE, date(2026, 6, 1))
    meeting = json.loads(json.dumps(data["meetings"][0]))
    meeting["agendaItem"][1]["id"] = 42
    meeting["invitation"].pop("accessUrl")
    row, skipped = meeting_row(meeting)
    assert len(row["agenda"]) == len(data["meetings"][0]["agendaItem"]) - 1
    assert [b.kind for b in skipped] == ["AgendaItem", "File"]
    assert row["id"] == local_id(meeting["id"]) and len(row["id"]) == 20


def test_html_in_titles_stays_text() -> None:
    paper = build(BASE, date(2026, 6, 1))["papers"][6]
    row, _ = paper_row(paper)
    assert row["name"] == "Straßenausbau Eschstraße <b>(2. Bauabschnitt)</b>"  # the pages escape it


# -- the source configuration ------------------------------------------------------------------
@pytest.mark.parametrize("url", ["ftp://ratsinfo.example.org/system", "ratsinfo.example.org", "https://", "https://a b.de/x",
                                 "https://x.de/" + "a" * 500])
def test_only_http_urls_are_sources(url: str) -> None:
    with pytest.raises(DomainError) as caught:
        checked_url(url)
    assert (caught.value.code, caught.value.params["name"]) == ("invalid_parameter", "url")


def test_configuring_records_who_and_when_and_the_worker_sees_the_current_sources() -> None:
    app = CouncilApp(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    assert app.source(CLOPPENBURG)["version"] == 0
    first = app.configure_source(CLOPPENBURG, "https://ratsinfo.example.org/oparl/system", "admin-1", "c-1")
    again = app.configure_source(CLOPPENBURG, "https://ratsinfo.example.org/oparl/system", "admin-2", "c-2")
    assert first["version"] == again["version"] == 1 and again["configured_by"] == "admin-1"  # nothing new recorded
    app.configure_source("03460009", "https://vechta.example.org/system", "admin-3", "c-3")
    assert app.sources() == {CLOPPENBURG: "https://ratsinfo.example.org/oparl/system", "03460009": "https://vechta.example.org/system"}
    app.configure_source(CLOPPENBURG, None, "admin-2", "c-4")
    assert set(app.sources()) == {"03460009"}
    history = app.history(CLOPPENBURG)
    assert [(h["url"], h["actor"]) for h in history] == [("https://ratsinfo.example.org/oparl/system", "admin-1"), (None, "admin-2")]
    assert all(h["at"] for h in history)
    events = app.repository.get(CouncilSource.create_id(CLOPPENBURG)).collect_events()
    assert events == []  # loaded from its events, nothing pending
    assert app.seed({CLOPPENBURG: "https://other.example.org/system", "03453002": "https://x.example.org/s"}) == ["03453002"]
