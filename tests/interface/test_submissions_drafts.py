"""Drafts and attachments through the SubmissionsService's RPC interface (with the
CatalogService in one runner, real RabbitMQ and PostgreSQL): the form of a draft's pinned
version comes from the catalog, errors cross RPC as problem codes, the bytes of an
attachment travel base64 and come back only through a case that refers to them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from nameko.testing.utils import get_container

from services.catalog.service import CatalogService
from services.common.problems import DomainError
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import VECHTA
from tests.interface.test_submissions_service import Submissions, command

PDF = b"%PDF-1.7\n%%EOF\n"


@pytest.fixture
def submissions(start_services) -> Submissions:
    return Submissions(get_container(start_services(CatalogService, SubmissionsService), SubmissionsService))


def refused(submissions: Submissions, method: str, *args: Any) -> str:
    with pytest.raises(DomainError) as raised:
        submissions.call(method, *args)
    return raised.value.code


def test_a_draft_over_rpc_from_start_to_case(submissions: Submissions) -> None:
    draft = submissions.call("start_draft", VECHTA, "hundeanmeldung", "citizen-1", "citizen-1", {"dog_name": "Bello"}, "dog")
    assert (draft["tenant"], draft["form_version"], draft["page"]) == (VECHTA, 1, "dog")
    assert refused(submissions, "start_draft", VECHTA, "drachenanmeldung", "citizen-1", "citizen-1", {}) == "unknown_service"
    saved = submissions.call("save_draft", draft["draft_id"], "citizen-1", "citizen-1", form(), "check")
    assert saved["form_data"] == form() and saved["version"] == 2
    assert refused(submissions, "save_draft", draft["draft_id"], "citizen-1", "citizen-1", {"nope": 1}) == "form_invalid"
    assert refused(submissions, "get_draft", draft["draft_id"], "citizen-2") == "draft_not_found"
    assert [d["draft_id"] for d in submissions.call("drafts_of", "citizen-1")] == [draft["draft_id"]]
    (result,) = submissions.submit(command("ignored", draft_id=draft["draft_id"], principal="citizen-1", form_data={}))
    case = result["case"]
    assert case["service_id"] == "hundeanmeldung" and submissions.call("get_draft", draft["draft_id"], "citizen-1")["case_id"] == case["case_id"]
    assert submissions.call("drafts_of", "citizen-1") == []
    other = submissions.call("start_draft", VECHTA, "briefwahl", "citizen-1", "citizen-1", {}, None)
    submissions.call("discard_draft", other["draft_id"], "citizen-1", "citizen-1")
    assert refused(submissions, "discard_draft", other["draft_id"], "citizen-1", "citizen-1") == "draft_not_found"


def test_an_attachment_over_rpc_reaches_only_the_case_that_refers_to_it(submissions: Submissions) -> None:
    content = base64.b64encode(PDF).decode()
    attachment = submissions.call("upload_attachment", "citizen-1", "citizen-1", content, "application/pdf", "a.pdf")
    assert refused(submissions, "upload_attachment", "citizen-1", "citizen-1", content, "image/png", "a.png") == "attachment_content_invalid"
    assert refused(submissions, "upload_attachment", "citizen-1", "citizen-1", "*not base64*", "application/pdf", "a") == "invalid_request"
    data = form("gewerbeanmeldung", ausweiskopie={"attachment_id": attachment["attachment_id"]})
    (result,) = submissions.submit(command("g1", service_id="gewerbeanmeldung", form_data=data, principal="citizen-1"))
    case_id = result["case"]["case_id"]
    found = submissions.call("case_attachment", case_id, attachment["attachment_id"])
    assert base64.b64decode(found["content_b64"]) == PDF and found["sha256"] == attachment["sha256"]
    (plain,) = submissions.submit(command("h1", principal="citizen-1"))
    assert refused(submissions, "case_attachment", plain["case"]["case_id"], attachment["attachment_id"]) == "attachment_not_found"
    submissions.call("erase_applicant", "citizen-1")
    assert refused(submissions, "case_attachment", case_id, attachment["attachment_id"]) == "attachment_not_found"
