"""Drafts and attachments in the submissions application on POPO, SQLite and PostgreSQL:
started, saved, submitted through the ordinary path, discarded; owner only; erased with
the account."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.common.problems import DomainError
from services.submissions.application import SubmissionsApp
from services.submissions.privacy import erase_applicant
from tests.examples import form
from tests.integration.conftest import command

ERIKA, OTTO = "citizen:erika", "citizen:otto"
PDF = b"%PDF-1.7\n" + b"Erika Mustermann Ausweis " * 40 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


def offering(resolve, service_id: str = "hundeanmeldung", portal: str = "03460009"):
    return resolve(portal, service_id)


def start(submissions: SubmissionsApp, resolve, owner: str = ERIKA, service_id: str = "hundeanmeldung", **data) -> dict:
    return submissions.start_draft(offering(resolve, service_id), "03460009", owner, data, "holder", owner, "c-start")


def schema(resolve, service_id: str = "hundeanmeldung") -> dict:
    return offering(resolve, service_id).form_schema


def test_a_draft_is_started_saved_and_resumed(submissions, resolve, store_env, clock) -> None:
    draft = start(submissions, resolve, holder_first_name="Erika")
    assert (draft["tenant"], draft["service_id"], draft["form_version"], draft["page"]) == ("03460009", "hundeanmeldung", 1, "holder")
    clock.advance(60)
    saved = submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), {"holder_first_name": "Erika", "dog_name": "Bello"}, 2, ERIKA, "c2")
    assert saved["form_data"] == {"holder_first_name": "Erika", "dog_name": "Bello"} and saved["page"] == "2"
    assert saved["updated_at"] > saved["started_at"]
    clock.advance(60)
    other = start(submissions, resolve, service_id="meldebescheinigung")
    assert [d["draft_id"] for d in submissions.drafts_of(ERIKA)] == [other["draft_id"], draft["draft_id"]]
    assert submissions.drafts_of(OTTO) == []
    if store_env.backend != "popo":
        reopened = SubmissionsApp(store_env("submissions"), clock=clock)
        assert reopened.get_draft(draft["draft_id"], ERIKA).form_data["dog_name"] == "Bello"


def test_only_the_owner_sees_a_draft(submissions, resolve) -> None:
    draft = start(submissions, resolve)
    for action in (
        lambda: submissions.get_draft(draft["draft_id"], OTTO),
        lambda: submissions.save_draft(draft["draft_id"], OTTO, schema(resolve), {}, None, OTTO, "c"),
        lambda: submissions.discard_draft(draft["draft_id"], OTTO, OTTO, "c"),
        lambda: submissions.get_draft("not-a-uuid", ERIKA),
        lambda: submissions.get_draft("5d1c8a0e-0000-4000-8000-000000000000", ERIKA),
    ):
        with pytest.raises(DomainError) as refused:
            action()
        assert refused.value.code == "draft_not_found"


def test_partial_data_are_kept_but_unknown_nested_or_oversized_data_refused(submissions, resolve) -> None:
    draft = start(submissions, resolve, chip_number="12")  # invalid until submitted: fine in a draft
    assert draft["form_data"] == {"chip_number": "12"}
    for data, code in [
        ({"favourite_colour": "blue"}, "form_invalid"),
        ({"dog_name": {"nested": 1}}, "form_invalid"),
        ({"dog_name": "x" * 300_000}, "draft_too_large"),
        (["not", "an", "object"], "invalid_request"),
    ]:
        with pytest.raises(DomainError) as refused:
            submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), data, None, ERIKA, "c")
        assert refused.value.code == code
    with pytest.raises(DomainError) as bad_page:
        submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), {}, "../etc", ERIKA, "c")
    assert bad_page.value.code == "invalid_parameter"


def test_submitting_a_draft_makes_one_case_the_ordinary_way(submissions, resolve) -> None:
    draft = start(submissions, resolve)
    via_draft = command(key="ignored", draft_id=draft["draft_id"], portal="", service_id="", form_data={})
    (incomplete,) = submissions.submit_batch([via_draft], resolve)
    assert incomplete["error"]["code"] == "form_invalid"  # the whole form is checked now
    submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), form(), "check", ERIKA, "c")
    (first,) = submissions.submit_batch([command(key="x", draft_id=draft["draft_id"], form_data={})], resolve)
    case = first["case"]
    assert case["reference"] == "VEC-2026-000001" and case["service_id"] == "hundeanmeldung"
    assert submissions.get_case(case["case_id"]).form_data == form()
    (again,) = submissions.submit_batch([command(key="y", draft_id=draft["draft_id"])], resolve)
    assert again == {"case": case, "replayed": True}
    view = submissions.get_draft(draft["draft_id"], ERIKA)
    assert (view.status, view.case_id) == ("submitted", case["case_id"])
    assert submissions.drafts_of(ERIKA) == []
    with pytest.raises(DomainError):
        submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), {}, None, ERIKA, "c")
    (other,) = submissions.submit_batch([command(key="z", draft_id=draft["draft_id"], principal=OTTO)], resolve)
    assert other["error"]["code"] == "draft_not_found"


def test_a_draft_with_a_fee_opens_its_case_waiting_for_payment(submissions, resolve) -> None:
    draft = submissions.start_draft(
        offering(resolve, "meldebescheinigung", "03460006"), "03460006", ERIKA, form("meldebescheinigung"), None, ERIKA, "c"
    )
    (result,) = submissions.submit_batch([command(key="m", draft_id=draft["draft_id"])], resolve)
    assert (result["case"]["status"], result["case"]["fee_cents"], result["case"]["tenant"]) == ("payment_pending", 700, "03460006")


def test_a_discarded_draft_is_gone(submissions, resolve) -> None:
    draft = start(submissions, resolve)
    submissions.discard_draft(draft["draft_id"], ERIKA, ERIKA, "c")
    assert submissions.drafts_of(ERIKA) == []
    with pytest.raises(DomainError) as refused:
        submissions.get_draft(draft["draft_id"], ERIKA)
    assert refused.value.code == "draft_not_found"
    (result,) = submissions.submit_batch([command(key="d", draft_id=draft["draft_id"])], resolve)
    assert result["error"]["code"] == "draft_not_found"


def test_attachments_are_checked_by_content_and_shared_blobs_counted(submissions) -> None:
    uploaded = submissions.upload_attachment(ERIKA, PDF, "application/pdf", "C:\\Users\\erika\\ausweis.pdf", ERIKA, "c")
    assert (uploaded["media_type"], uploaded["size"], uploaded["filename"]) == ("application/pdf", len(PDF), "ausweis.pdf")
    assert submissions.blobs.get(uploaded["sha256"]) == PDF
    for content, declared in [(PDF, "image/png"), (b"MZ\x90\x00 not a pdf", "application/pdf"), (PNG, "application/pdf")]:
        with pytest.raises(DomainError) as refused:
            submissions.upload_attachment(ERIKA, content, declared, "x.pdf", ERIKA, "c")
        assert refused.value.code == "attachment_content_invalid"
    same = submissions.upload_attachment(OTTO, PDF, "application/pdf", "kopie.pdf", OTTO, "c")
    assert same["sha256"] == uploaded["sha256"] and same["attachment_id"] != uploaded["attachment_id"]
    with pytest.raises(DomainError):
        submissions.attachment(uploaded["attachment_id"], owner=OTTO)


def test_a_submission_refers_only_to_the_applicants_own_attachments(submissions, resolve) -> None:
    valid = form("gewerbeanmeldung")
    assert not submissions.attachment_errors(schema(resolve, "gewerbeanmeldung"), valid, {ERIKA})
    mine = submissions.upload_attachment(ERIKA, PDF, "application/pdf", "ausweis.pdf", ERIKA, "c")
    ottos = submissions.upload_attachment(OTTO, PNG, "image/png", "otto.png", OTTO, "c")
    refused = submissions.submit_batch([
        command(key="g1", service_id="gewerbeanmeldung", form_data=form("gewerbeanmeldung", ausweiskopie={"attachment_id": ottos["attachment_id"]})),
        command(key="g2", service_id="gewerbeanmeldung", form_data=form("gewerbeanmeldung", ausweiskopie={"attachment_id": "nope"})),
    ], resolve)
    for result in refused:
        assert result["error"]["code"] == "form_invalid", result
        assert result["error"]["params"]["errors"][0]["field"] == "/ausweiskopie"
    (ok,) = submissions.submit_batch([
        command(key="g3", service_id="gewerbeanmeldung", form_data=form("gewerbeanmeldung", ausweiskopie={"attachment_id": mine["attachment_id"]})),
    ], resolve)
    assert ok["case"]["status"] == "payment_pending"


def test_erasure_covers_drafts_and_attachments(submissions, resolve, store_env) -> None:
    draft = start(submissions, resolve, holder_last_name="Mustermann", dog_name="Bello")
    submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), {"holder_last_name": "Mustermann"}, None, ERIKA, "c")
    mine = submissions.upload_attachment(ERIKA, PDF, "application/pdf", "Ausweis_Mustermann.pdf", ERIKA, "c")
    shared = submissions.upload_attachment(ERIKA, PNG, "image/png", "foto_mustermann.png", ERIKA, "c")
    submissions.upload_attachment(OTTO, PNG, "image/png", "otto.png", OTTO, "c")
    exported = submissions.export_files(ERIKA)
    assert [d["draft_id"] for d in exported["drafts"]] == [draft["draft_id"]]
    assert {a["attachment_id"] for a in exported["attachments"]} == {mine["attachment_id"], shared["attachment_id"]}
    erase_applicant(submissions, ERIKA, ERIKA, "c-erase")
    erase_applicant(submissions, ERIKA, ERIKA, "c-erase")  # idempotent
    assert submissions.export_files(ERIKA) == {"drafts": [], "attachments": []}
    stored = b"".join(
        s.state for i in (draft["draft_id"], mine["attachment_id"], shared["attachment_id"])
        for s in submissions.recorder.select_events(UUID(i))
    )
    assert b"Mustermann" not in stored and b"Bello" not in stored
    assert submissions.drafts_of(ERIKA) == []
    with pytest.raises(KeyError):
        submissions.blobs.get(mine["sha256"])  # nobody else had it: the bytes are gone
    assert submissions.blobs.get(shared["sha256"]) == PNG  # Otto's copy stays
    for refused in (
        lambda: start(submissions, resolve),
        lambda: submissions.upload_attachment(ERIKA, PDF, "application/pdf", "a.pdf", ERIKA, "c"),
    ):
        with pytest.raises(DomainError) as closed:
            refused()
        assert closed.value.code == "account_deleted"


def test_a_draft_pinned_to_a_form_version_no_longer_in_force_is_refused(submissions, resolve, catalog) -> None:
    from tests.integration.conftest import publish_new_version

    draft = start(submissions, resolve)
    submissions.save_draft(draft["draft_id"], ERIKA, schema(resolve), form(), None, ERIKA, "c")
    current = publish_new_version(catalog, "hundeanmeldung", adopt=True)
    (refused,) = submissions.submit_batch([command(key="v", draft_id=draft["draft_id"])], resolve)
    assert refused["error"] == {"code": "unknown_form_version",
                                "params": {"service_id": "hundeanmeldung", "version": 1, "current": current}}
    assert submissions.get_draft(draft["draft_id"], ERIKA).status == "open"  # kept: the citizen starts anew
