"""The submissions application on POPO, SQLite and PostgreSQL (same tests, every backend)."""

from __future__ import annotations

from uuid import UUID

import pytest

from services.common.problems import DomainError
from services.submissions.application import SubmissionsApp
from tests.examples import form
from tests.integration.conftest import command, publish_new_version


def cases(results: list[dict]) -> list[dict]:
    assert all("case" in r for r in results), results
    return [r["case"] for r in results]


def test_batch_saves_cases_with_references_per_tenant(submissions, resolve) -> None:
    results = submissions.submit_batch(
        [command(key="a"), command(key="b"), command(portal="03460006", key="c", service_id="meldebescheinigung")],
        resolve,
    )
    a, b, c = cases(results)
    assert [a["reference"], b["reference"], c["reference"]] == ["VEC-2026-000001", "VEC-2026-000002", "LOH-2026-000001"]
    assert (a["tenant"], c["tenant"], c["fee_cents"]) == ("03460009", "03460006", 700)
    stored = submissions.get_case(a["case_id"])
    assert stored.form_data == form() and stored.applicant_ref == "citizen:erika"
    more = cases(submissions.submit_batch([command(key="d")], resolve))
    assert more[0]["reference"] == "VEC-2026-000003"


def test_retry_with_the_same_key_returns_the_same_case(submissions, resolve) -> None:
    (first,) = cases(submissions.submit_batch([command(key="same")], resolve))
    results = submissions.submit_batch([command(key="same"), command(key="other")], resolve)
    assert results[0] == {"case": first, "replayed": True}
    assert results[1]["case"]["reference"] == "VEC-2026-000002"
    changed = submissions.submit_batch([command(key="same", form_data=form(dog_name="Hasso"))], resolve)
    assert changed == [{"error": {"code": "idempotency_key_reused", "params": {}}}]


def test_the_same_key_twice_in_one_batch(submissions, resolve) -> None:
    results = submissions.submit_batch(
        [command(key="twice"), command(key="twice"), command(key="twice", form_data=form(dog_name="Rex"))], resolve
    )
    assert results[1]["case"]["case_id"] == results[0]["case"]["case_id"] and results[1]["replayed"]
    assert results[2]["error"]["code"] == "idempotency_key_reused"


def test_errors_are_per_command_and_do_not_stop_the_batch(submissions, resolve) -> None:
    bad_form = form(chip_number="123")
    del bad_form["email"]
    results = submissions.submit_batch(
        [
            command(key="1", form_data=bad_form),
            command(key="2", service_id="drachenanmeldung"),
            command(key="3", portal="99999999"),
            command(key="4"),
        ],
        resolve,
    )
    assert results[0]["error"]["code"] == "form_invalid"
    assert {e["field"] for e in results[0]["error"]["params"]["errors"]} == {"/chip_number", "/email"}
    assert results[1]["error"] == {"code": "unknown_service", "params": {"service_id": "drachenanmeldung"}}
    assert results[2]["error"]["code"] == "unknown_tenant"
    assert results[3]["case"]["reference"] == "VEC-2026-000001"


def test_district_services_go_to_the_district(submissions, resolve) -> None:
    (case,) = cases(submissions.submit_batch([command(portal="03460001", key="e", service_id="elterngeld", form_data=form("elterngeld"))], resolve))
    assert (case["tenant"], case["portal"]) == ("03460000", "03460001")
    assert case["reference"].startswith("LKV-")


def test_form_version_and_fee_are_pinned(submissions, resolve, catalog) -> None:
    (old,) = cases(submissions.submit_batch([command(portal="03460006", key="v1", service_id="meldebescheinigung")], resolve))
    version = publish_new_version(catalog, "meldebescheinigung", adopt=True)
    catalog.change_fee("03460006", "meldebescheinigung", 900, "Gebührensatzung")
    refused = submissions.submit_batch(
        [command(portal="03460006", key="v1-late", service_id="meldebescheinigung", form_version=1)], resolve
    )
    assert refused[0]["error"]["code"] == "unknown_form_version"
    assert refused[0]["error"]["params"]["current"] == version
    (new,) = cases(submissions.submit_batch([command(portal="03460006", key="v2", service_id="meldebescheinigung", form_version=version)], resolve))
    assert (new["form_version"], new["fee_cents"]) == (version, 900)
    kept = submissions.get_case(old["case_id"])
    assert (kept.form_version, kept.fee_cents) == (1, 700)


def test_lifecycle_is_saved_and_survives_a_restart(submissions, resolve, store_env, clock) -> None:
    (case,) = cases(submissions.submit_batch([command(key="life")], resolve))
    case_id = case["case_id"]
    submissions.act(case_id, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c1")
    submissions.act(case_id, "request-information", {"question": "Impfpass?"}, "clerk:meyer", "c2")
    with pytest.raises(DomainError) as refused:
        submissions.act(case_id, "approve", {}, "clerk:meyer", "c3")
    assert refused.value.code == "transition_not_allowed"
    view = submissions.act(case_id, "supply-information", {"answer": "anbei"}, "citizen:erika", "c4")
    assert view["status"] == "in_review" and view["version"] == 4
    if store_env.backend == "popo":
        return
    reopened = SubmissionsApp(store_env("submissions"), clock=clock)
    assert reopened.get_case(case_id).status.value == "in_review"
    (next_case,) = cases(reopened.submit_batch([command(key="after-restart")], resolve))
    assert next_case["reference"] == "VEC-2026-000002"


def test_bad_action_input(submissions, resolve) -> None:
    (case,) = cases(submissions.submit_batch([command(key="bad")], resolve))
    case_id = case["case_id"]
    for action, payload, code in [
        ("fly", {}, "unknown_action"),
        ("reassign", {}, "invalid_parameter"),
        ("reassign", {"clerk": 7}, "invalid_parameter"),
        ("request-payment", {"amount_cents": -1}, "invalid_parameter"),
    ]:
        with pytest.raises(DomainError) as refused:
            submissions.act(case_id, action, payload, "clerk", "c")
        assert refused.value.code == code
    submissions.act(case_id, "start-review", {}, "clerk", "c")
    with pytest.raises(DomainError) as bad_date:
        submissions.act(case_id, "request-information", {"question": "?", "due_date": "31.12.2026"}, "clerk", "c")
    assert bad_date.value.code == "invalid_parameter"


def test_trust_level_of_the_service_is_enforced(submissions, resolve) -> None:
    basic = command(portal="03460006", key="t1", service_id="meldebescheinigung", trust_level="basic")
    (refused,) = submissions.submit_batch([basic], resolve)
    assert refused["error"] == {"code": "trust_level_insufficient", "params": {"required": "high", "current": "basic"}}
    assisted = command(portal="03460006", key="t2", service_id="meldebescheinigung", trust_level="basic",
                       assisted=True, actor="clerk:lohne")
    (case,) = cases(submissions.submit_batch([assisted], resolve))
    submitted = next(iter(submissions.events.get(submissions.get_case(case["case_id"]).id)))
    assert (submitted.actor, submitted.applicant_ref) == ("clerk:lohne", "citizen:erika")


def test_erasure_keeps_the_case_and_removes_personal_data(submissions, resolve, store_env) -> None:
    from services.submissions.privacy import erase_applicant, export_applicant

    (case,) = cases(submissions.submit_batch([command(key="gdpr")], resolve))
    exported = export_applicant(submissions, [case["case_id"]])
    assert exported[0]["form_data"]["dog_name"] == "Bello" and exported[0]["history"][0]["event"] == "Submitted"
    assert [e.events_redacted for e in erase_applicant(submissions, "citizen:erika", "citizen:erika", "c")] == [1]
    assert [e.events_redacted for e in erase_applicant(submissions, "citizen:erika", "citizen:erika", "c")] == [0]
    kept = submissions.get_case(case["case_id"])
    assert kept.reference == case["reference"] and kept.form_data == {"_erased": True} and kept.applicant == {}
    stored = submissions.recorder.select_events(kept.id)
    assert b"Bello" not in b"".join(s.state for s in stored)  # gone from the event store too
    assert b"Mustermann" not in b"".join(s.state for s in stored)
    if store_env.backend != "popo":
        reopened = SubmissionsApp(store_env("submissions"))
        assert reopened.get_case(case["case_id"]).form_data == {"_erased": True}


def test_reference_sequences_are_snapshotted(submissions, resolve, store_env, clock) -> None:
    from services.submissions.domain import ReferenceSequence

    for n in range(105):  # one batch each: the worst case for the sequence's stream
        cases(submissions.submit_batch([command(key=f"s{n}")], resolve))
    sequence_id = ReferenceSequence.create_id("03460009", 2026)
    assert list(submissions.snapshots.get(sequence_id))
    if store_env.backend != "popo":
        reopened = SubmissionsApp(store_env("submissions"), clock=clock)
        (case,) = cases(reopened.submit_batch([command(key="after")], resolve))
        assert case["reference"] == "VEC-2026-000106"


# -- erasure: every event, every case, resumable ---------------------------------------------
NAMED = "Frau Erika Mustermann"
QUESTION = f"{NAMED}, bitte reichen Sie den Impfpass von Bello nach."
ANSWER = "Impfpass von Bello liegt bei, Erika Mustermann"
REJECTION = f"Abgelehnt: {NAMED} hat bereits einen Hund angemeldet."
WITHDRAWAL = "Ich ziehe um, Erika Mustermann"
PERSONAL = ("Erika", "Mustermann", "Bello", "Impfpass", "Umzug", "ziehe um")


def stored_bytes(app: SubmissionsApp, case_id: str) -> bytes:
    """Every stored event of the case as the store holds it (no folding, no mapping)."""
    return b"".join(s.state for s in app.recorder.select_events(UUID(case_id)))


def worked_cases(submissions, resolve) -> list[str]:
    """Two cases of the applicant with later events carrying free text: one asked, answered
    and rejected, one withdrawn with a reason."""
    rejected, withdrawn = cases(submissions.submit_batch([command(key="worked"), command(key="withdrawn")], resolve))
    case_id = rejected["case_id"]
    submissions.act(case_id, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c1")
    submissions.act(case_id, "request-information", {"question": QUESTION}, "clerk:meyer", "c2")
    submissions.act(case_id, "supply-information", {"answer": ANSWER}, "citizen:erika", "c3")
    submissions.act(case_id, "reject", {"reason": REJECTION}, "clerk:meyer", "c4")
    submissions.act(withdrawn["case_id"], "withdraw", {"reason": WITHDRAWAL}, "citizen:erika", "c5")
    return [case_id, withdrawn["case_id"]]


def assert_erased(submissions: SubmissionsApp, case_ids: list[str]) -> None:
    for case_id in case_ids:
        raw = stored_bytes(submissions, case_id)
        assert any(s.topic.endswith(".PersonalDataErased") for s in submissions.recorder.select_events(UUID(case_id)))
        for value in PERSONAL:
            assert value.encode() not in raw, (case_id, value)
        request_hash = submissions.get_case(case_id).request_hash
        assert not request_hash  # nothing left to test a guessed form against


def test_erasure_redacts_every_event_carrying_personal_data(submissions, resolve) -> None:
    from services.submissions.privacy import erase_applicant

    ids = worked_cases(submissions, resolve)
    fingerprint = submissions.get_case(ids[0]).request_hash
    assert fingerprint and fingerprint.encode() in stored_bytes(submissions, ids[0])
    erased = erase_applicant(submissions, "citizen:erika", "citizen:erika", "erase-1")
    assert sorted(e.case_id for e in erased) == sorted(ids)
    assert_erased(submissions, ids)
    assert fingerprint.encode() not in stored_bytes(submissions, ids[0])
    kept = submissions.get_case(ids[0])
    assert (kept.status.value, kept.reference) == ("rejected", "VEC-2026-000001")  # the authority keeps its case


def test_an_interrupted_erasure_is_resumed(submissions, resolve) -> None:
    """A crash after PersonalDataErased was saved but before the events were redacted: the
    next run decides by what the stored events still hold, not by the flag."""
    from services.submissions.privacy import erase_applicant

    ids = worked_cases(submissions, resolve)
    for case_id in ids:  # what the first run managed before it died
        case = submissions.get_case(case_id)
        case.erase_personal_data("citizen:erika", "erase-1")
        submissions.save(case)
    erase_applicant(submissions, "citizen:erika", "citizen:erika", "erase-2")
    assert_erased(submissions, ids)


def test_a_case_waiting_for_the_erased_applicants_answer_is_closed(submissions, resolve) -> None:
    """The applicant deletes the account while the authority waits for an answer that can
    never come now: the erasure withdraws the case (the authority keeps it, no text left).
    A case erased before that rule (still waiting) is decided by the clerk, or closed when
    the erasure runs again."""
    from services.submissions.privacy import erase_applicant

    waiting, legacy = (c["case_id"] for c in cases(submissions.submit_batch(
        [command(key="waiting"), command(key="legacy", principal="citizen:old")], resolve)))
    for case_id in (waiting, legacy):
        submissions.act(case_id, "start-review", {"clerk": "Frau Meyer"}, "clerk:meyer", "c1")
        submissions.act(case_id, "request-information", {"question": QUESTION}, "clerk:meyer", "c2")
    erase_applicant(submissions, "citizen:erika", "citizen:erika", "erase-1")
    closed = submissions.get_case(waiting)
    assert (closed.status.value, closed.personal_data_erased) == ("withdrawn", True)
    assert [type(e).__name__ for e in submissions.case_events(waiting)][-2:] == ["PersonalDataErased", "Withdrawn"]
    assert_erased(submissions, [waiting])
    erase_applicant(submissions, "citizen:erika", "citizen:erika", "erase-2")  # again: nothing more happens
    assert submissions.get_case(waiting).version == closed.version

    # erased the old way (only PersonalDataErased), still waiting: the clerk decides on the record
    case = submissions.get_case(legacy)
    case.erase_personal_data("citizen:old", "old-erasure")
    submissions.save(case)
    decided = submissions.act(legacy, "reject", {"reason": "Unterlagen fehlen"}, "clerk:meyer", "c4")
    assert decided["status"] == "rejected"


def test_the_cases_of_an_applicant_come_from_the_event_store(submissions, resolve) -> None:
    """Saved in the same transaction as the cases, so nothing waits for a read model."""
    first = cases(submissions.submit_batch([command(key="a"), command(key="b", principal="citizen:other")], resolve))
    later = cases(submissions.submit_batch([command(key="c"), command(key="a")], resolve))  # "a" again: a replay
    assert submissions.applicant_case_ids("citizen:erika") == [first[0]["case_id"], later[0]["case_id"]]
    assert submissions.applicant_case_ids("citizen:other") == [first[1]["case_id"]]
    assert submissions.applicant_case_ids("citizen:nobody") == []


def test_no_case_is_saved_for_an_erased_applicant(submissions, resolve) -> None:
    """A submission racing the deletion is either erased with the others or refused."""
    from services.submissions.privacy import erase_applicant

    cases(submissions.submit_batch([command(key="before")], resolve))  # loads the index into the batch cache
    assert len(erase_applicant(submissions, "citizen:erika", "citizen:erika", "erase-1")) == 1
    results = submissions.submit_batch([command(key="after"), command(key="other", principal="citizen:other")], resolve)
    assert results[0] == {"error": {"code": "account_deleted", "params": {}}}
    assert "case" in results[1]
    assert len(submissions.applicant_case_ids("citizen:erika")) == 1


def test_a_one_tenant_rebuild_reads_only_that_tenants_events(submissions, resolve, monkeypatch) -> None:
    """The rebuild's look at the stored bytes (tenant_prefilter) keeps exactly the tenant's
    case events; where the bytes are not plain JSON it keeps everything (and decodes)."""
    from services.submissions import reading
    from services.submissions.reading import envelopes_from_store, tenant_prefilter

    submissions.submit_batch([command(key="v1"), command(key="v2"),
                              command(portal="03460006", key="l1", service_id="meldebescheinigung")], resolve)
    head = submissions.recorder.max_notification_id()
    everything = list(envelopes_from_store(submissions, head, progress=False))
    lohne = list(envelopes_from_store(submissions, head, progress=False, tenant="03460006"))
    assert lohne == [e for e in everything if e["tenant"] == "03460006"] and len(lohne) == 2  # submitted, fee
    # a large log is decoded by worker processes, span by span (here spans of 2 ids), in log order
    monkeypatch.setattr(reading, "SPAN", 2)
    assert list(envelopes_from_store(submissions, head, progress=False, workers=2, parallel_from=0)) == everything
    assert list(envelopes_from_store(submissions, head, progress=False, tenant="03460006", workers=2,
                                     parallel_from=0)) == lohne
    submissions.mapper.compressor = object()  # as if compressed: no look at the bytes
    try:
        keep = tenant_prefilter(submissions, "03460006")
        assert all(keep(note) for note in submissions.recorder.select_notifications(start=1, limit=100))
    finally:
        submissions.mapper.compressor = None
