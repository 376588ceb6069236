"""The submissions application on POPO, SQLite and PostgreSQL (same tests, every backend)."""

from __future__ import annotations

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
    assert erase_applicant(submissions, [case["case_id"]], "citizen:erika", "c") == 1
    assert erase_applicant(submissions, [case["case_id"]], "citizen:erika", "c") == 0  # idempotent
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
