"""SubmissionsService with the CatalogService in one runner on RabbitMQ and PostgreSQL:
the batched hot path, the case lifecycle, read-your-writes and correlation ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook
from nameko.testing.utils import get_container, get_extension

from services.catalog.service import CatalogService
from services.common.nameko_deps import Provided, domain_error
from services.common.problems import DomainError, render
from services.submissions.application import SubmissionsApp
from services.submissions.projections import CaseReadModels
from services.submissions.reading import envelopes_from_store
from services.submissions.service import SubmissionsService
from tests.examples import form
from tests.interface.conftest import BAKUM, LK_VECHTA, LOHNE, VECHTA

YEAR = datetime.now(UTC).year


class Submissions:
    """The running submissions container: entrypoints through ``entrypoint_hook`` and
    its own dependencies (event store, read models) for checking what was stored."""

    def __init__(self, container: Any):
        self.container = container
        self.app: SubmissionsApp = get_extension(container, Provided, attr_name="app").instance.primary  # one partition: the whole store
        self.read: CaseReadModels = get_extension(container, Provided, attr_name="read").instance

    def call(self, method: str, *args: Any, context_data: dict[str, Any] | None = None) -> Any:
        with entrypoint_hook(self.container, method, context_data=context_data) as hook:
            return hook(*args)

    def submit(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        return self.call("submit_batch", list(commands))

    def act(self, case_id: str, action: str, payload: dict[str, Any] | None = None, actor: str = "clerk-1") -> Any:
        return self.call("act", case_id, action, payload or {}, actor)

    def events(self, case_id: str) -> list[Any]:
        return list(self.app.events.get(UUID(case_id)))

    def project(self) -> int:
        """Do what the projector process does (it is not running here): fold the store."""
        head = self.app.recorder.max_notification_id() or 0
        return self.read.rebuild(envelopes_from_store(self.app, head, progress=False), head=head)


def command(key: str, service_id: str = "hundeanmeldung", portal: str = VECHTA, **changes: Any) -> dict[str, Any]:
    return {
        "portal": portal,
        "service_id": service_id,
        "form_version": None,
        "form_data": form(service_id) if service_id in ("hundeanmeldung", "meldebescheinigung") else {},
        "applicant": {"name": "Erika Mustermann", "email": "erika.mustermann@example.org"},
        "principal": "citizen-1",
        "trust_level": "high",  # logged in with the eID card: enough for every service
        "idempotency_key": key,
        "correlation_id": f"cid-{key}",
        **changes,
    }


@pytest.fixture
def runner(start_services) -> Any:
    return start_services(CatalogService, SubmissionsService)


@pytest.fixture
def submissions(runner) -> Submissions:
    return Submissions(get_container(runner, SubmissionsService))


def test_submit_batch_one_result_per_command(submissions: Submissions) -> None:
    invalid = form(dog_sex="cat", dogs_in_household="zwei")
    del invalid["dog_name"]
    results = submissions.submit(
        command("k1"),
        command("k2", form_data=invalid),
        command("k3", service_id="no-such-service"),
        command("k1"),  # the same key twice in one batch: the same case
        command("k4", service_id="meldebescheinigung", portal=LOHNE),
        command("k5", portal="09999999"),
        command("k6", form_version=7),
        command("k1", form_data=form(dog_name="Rex")),  # the same key for another request
    )
    assert len(results) == 8

    first = results[0]["case"]
    assert "replayed" not in results[0]
    assert (first["tenant"], first["portal"], first["service_id"]) == (VECHTA, VECHTA, "hundeanmeldung")
    assert (first["status"], first["form_version"], first["fee_cents"], first["version"]) == ("submitted", 1, 0, 1)
    assert first["reference"].startswith(f"VEC-{YEAR}-")

    error = results[1]["error"]
    assert error["code"] == "form_invalid"
    fields = {(e["field"], e["code"]) for e in error["params"]["errors"]}
    assert fields == {("/dog_name", "required"), ("/dog_sex", "enum"), ("/dogs_in_household", "type")}
    assert all(render(e["message"], "de") and render(e["message"], "en") for e in error["params"]["errors"])

    assert results[2] == {"error": {"code": "unknown_service", "params": {"service_id": "no-such-service"}}}
    assert results[3] == {"case": first, "replayed": True}

    fee_case = results[4]["case"]
    assert (fee_case["tenant"], fee_case["fee_cents"]) == (LOHNE, 700)
    assert fee_case["reference"].startswith(f"LOH-{YEAR}-")

    assert results[5]["error"]["code"] == "unknown_tenant"
    assert results[6]["error"] == {
        "code": "unknown_form_version",
        "params": {"service_id": "hundeanmeldung", "version": 7, "current": 1},
    }
    assert results[7] == {"error": {"code": "idempotency_key_reused", "params": {}}}

    # exactly two cases were stored, each with its own number; the fee case asks for its fee at once
    assert len(submissions.events(first["case_id"])) == 1
    assert [type(e).__name__ for e in submissions.events(fee_case["case_id"])] == ["Submitted", "PaymentRequested"]
    assert first["reference"] != fee_case["reference"]


def test_landkreis_service_is_filed_with_the_district(submissions: Submissions) -> None:
    elterngeld = {
        "first_name": "Anna",
        "last_name": "Beispiel",
        "birth_date": "1990-05-05",
        "street": "Hauptstraße",
        "house_number": "1",
        "postal_code": "49456",
        "city": "Bakum",
        "email": "anna@example.org",
        "tax_id": "12345678901",
        "iban": "DE02120300000000202051",
        "child_first_name": "Ben",
        "child_last_name": "Beispiel",
        "child_birth_date": "2026-01-10",
        "multiple_birth": 1,
        "single_parent": False,
        "basic_months": 12,
        "plus_months": 0,
        "partnership_bonus": False,
        "works_during_receipt": False,
    }
    [result] = submissions.submit(command("e1", service_id="elterngeld", portal=BAKUM, form_data=elterngeld))
    case = result["case"]
    assert (case["portal"], case["tenant"]) == (BAKUM, LK_VECHTA)
    assert case["reference"].startswith(f"LKV-{YEAR}-")


def test_trust_level_of_the_login_must_suffice(submissions: Submissions) -> None:
    low = command("t1", service_id="meldebescheinigung", portal=LOHNE, trust_level="basic")
    assisted = {**low, "idempotency_key": "t2", "assisted": True, "actor": "clerk-9"}
    refused, accepted, free = submissions.submit(low, assisted, command("t3", trust_level="basic"))
    assert refused["error"]["code"] == "trust_level_insufficient"
    assert refused["error"]["params"]["current"] == "basic"
    assert "case" in accepted and "case" in free  # a clerk at the counter saw the ID; hundeanmeldung needs basic
    event, requested = submissions.events(accepted["case"]["case_id"])
    assert (event.actor, event.applicant_ref) == ("clerk-9", "citizen-1")
    assert (type(requested).__name__, requested.amount_cents) == ("PaymentRequested", 700)


def test_retry_in_a_later_batch_replays_the_case(submissions: Submissions) -> None:
    [first] = submissions.submit(command("r1"))
    [again] = submissions.submit(command("r1"))
    assert again == {"case": first["case"], "replayed": True}
    [other] = submissions.submit(command("r1", form_data=form(dog_name="Rex")))
    assert other == {"error": {"code": "idempotency_key_reused", "params": {}}}
    [fresh] = submissions.submit(command("r2"))
    numbers = [int(r["case"]["reference"].rsplit("-", 1)[1]) for r in (first, fresh)]
    assert numbers[1] > numbers[0]


def test_case_status_reads_its_own_writes_before_the_projector(submissions: Submissions) -> None:
    [result] = submissions.submit(command("s1"))
    case = result["case"]
    assert submissions.read.case_state(case["case_id"]) is None  # the projector has not run

    status = submissions.call("case_status", case["case_id"])
    assert (status["case_id"], status["reference"], status["status"]) == (
        case["case_id"],
        case["reference"],
        "submitted",
    )
    assert status["status_text"] == "Eingegangen" and status["is_open"] is True
    assert [step["step"] for step in status["timeline"]] == ["submitted"]
    assert case["reference"] in status["timeline"][0]["text"]

    assert submissions.project() == 1
    assert submissions.read.case_state(case["case_id"]) is not None
    assert submissions.call("case_status", case["case_id"]) == status  # the same view from the read model


def test_case_status_of_unknown_case(submissions: Submissions) -> None:
    for case_id in (str(uuid4()), "not-a-uuid"):
        with pytest.raises(DomainError) as raised:
            submissions.call("case_status", case_id)
        assert raised.value.code == "case_not_found"


def test_lifecycle_of_a_free_case(submissions: Submissions) -> None:
    [result] = submissions.submit(command("l1"))
    case_id = result["case"]["case_id"]
    steps = [
        ("start-review", {"clerk": "Frau Meyer"}, "in_review"),
        (
            "request-information",
            {"question": "Bitte Impfpass nachreichen.", "due_date": "2026-12-31"},
            "information_requested",
        ),
        ("supply-information", {"answer": "Impfpass ist hochgeladen."}, "in_review"),
        ("approve", {"decision": "Die Hundesteuermarke wird zugesandt."}, "approved"),
    ]
    for version, (action, payload, expected) in enumerate(steps, start=2):
        view = submissions.act(case_id, action, payload)
        assert (view["status"], view["version"]) == (expected, version)
    assert view["assignee"] == "Frau Meyer"

    with pytest.raises(DomainError) as raised:
        submissions.act(case_id, "withdraw", {"reason": "zu spät"})
    assert raised.value.code == "transition_not_allowed"
    assert raised.value.params == {"action": "withdraw", "status": "approved", "status_de": "Bewilligt"}

    status = submissions.call("case_status", case_id)  # still not projected: folded from the store
    assert status["status"] == "approved" and status["is_open"] is False
    assert [step["step"] for step in status["timeline"]] == [
        "submitted",
        "review_started",
        "information_requested",
        "information_supplied",
        "approved",
    ]
    assert "31.12.2026" in status["timeline"][2]["text"]


def test_lifecycle_with_fee(submissions: Submissions) -> None:
    [result] = submissions.submit(command("f1", service_id="meldebescheinigung", portal=LOHNE))
    case_id = result["case"]["case_id"]
    assert result["case"]["status"] == "payment_pending"  # the fee was requested with the submission
    for action in ("request-payment", "start-review"):
        with pytest.raises(DomainError) as raised:
            submissions.act(case_id, action)
        assert raised.value.code == "transition_not_allowed"
    with pytest.raises(DomainError) as raised:
        submissions.act(case_id, "record-payment", {"amount_cents": 500, "payment_ref": "P-1"})
    assert (raised.value.code, raised.value.params) == (
        "payment_amount_mismatch",
        {"paid_cents": 500, "due_cents": 700},
    )
    assert submissions.act(case_id, "record-payment", {"amount_cents": 700, "payment_ref": "P-1"})["status"] == "paid"
    assert submissions.act(case_id, "start-review")["assignee"] == "clerk-1"  # the actor, when no clerk is named
    assert submissions.act(case_id, "reject", {"reason": "Unterlagen fehlen."})["status"] == "rejected"

    submissions.project()
    status = submissions.call("case_status", case_id)
    assert [step["step"] for step in status["timeline"]] == [
        "submitted",
        "payment_requested",
        "payment_received",
        "review_started",
        "rejected",
    ]
    assert status["timeline"][1]["text"] == "Gebühr angefordert: 7,00 €"


def test_act_rejects_bad_input(submissions: Submissions) -> None:
    [result] = submissions.submit(command("b1"))
    case_id = result["case"]["case_id"]
    bad = [
        ((case_id, "explode", {}), "unknown_action"),
        ((case_id, "reject", {"reason": "x"}), "transition_not_allowed"),
        ((case_id, "request-payment", {}), "no_fee_due"),
        ((case_id, "reassign", {}), "invalid_parameter"),
        ((case_id, "request-payment", {"amount_cents": -5}), "invalid_parameter"),
        ((str(uuid4()), "start-review", {}), "case_not_found"),
    ]
    for args, code in bad:
        with pytest.raises(DomainError) as raised:
            submissions.act(*args)
        assert raised.value.code == code, args
    assert len(submissions.events(case_id)) == 1  # nothing was stored


def test_worklist(submissions: Submissions) -> None:
    results = submissions.submit(command("w1"), command("w2"), command("w3", portal=LOHNE))
    ids = [r["case"]["case_id"] for r in results]
    assert submissions.call("worklist", VECHTA, {})["items"] == []  # before the projector
    submissions.project()

    page = submissions.call("worklist", VECHTA, {"sort": "reference", "limit": 1})
    assert [item["case_id"] for item in page["items"]] == [ids[0]] and page["next_cursor"]
    page = submissions.call("worklist", VECHTA, {"sort": "reference", "limit": 1, "cursor": page["next_cursor"]})
    assert [item["case_id"] for item in page["items"]] == [ids[1]]
    assert [i["case_id"] for i in submissions.call("worklist", LOHNE, {})["items"]] == [ids[2]]
    assert submissions.call("worklist", VECHTA, {"state": "closed"})["items"] == []
    assert len(submissions.call("cases_of_applicant", "citizen-1")) == 3

    with pytest.raises(DomainError) as raised:
        submissions.call("worklist", VECHTA, {"sort": "case_id; DROP TABLE worklist"})
    assert (raised.value.code, raised.value.params["name"]) == ("invalid_parameter", "sort")
    with pytest.raises(DomainError) as raised:
        submissions.call("worklist", VECHTA, {"sort": "reference", "cursor": "garbage"})
    assert raised.value.code == "invalid_cursor"


def test_correlation_id_from_rpc_context_data_is_stored(submissions: Submissions, nameko_config) -> None:
    [result] = submissions.submit(command("c1"))
    case_id = result["case"]["case_id"]
    assert submissions.events(case_id)[0].correlation_id == "cid-c1"  # the gateway's, in the command

    with ClusterRpcProxy(nameko_config, context_data={"correlation_id": "abc"}) as rpc:
        view = rpc.submissions.act(case_id, "start-review", {"clerk": "Herr Schulz"}, "clerk-2")
        assert view["status"] == "in_review"
        with pytest.raises(RemoteError) as remote:
            rpc.submissions.act(case_id, "approve-everything", {}, "clerk-2")
    error = domain_error(remote.value)
    assert error is not None and error.code == "unknown_action"

    event = submissions.events(case_id)[-1]
    assert type(event).__name__ == "ReviewStarted"
    assert (event.correlation_id, event.actor, event.clerk) == ("abc", "clerk-2", "Herr Schulz")


def test_submit_batch_without_correlation_id_uses_the_callers(submissions: Submissions, nameko_config) -> None:
    cmd = command("c2")
    del cmd["correlation_id"]
    with ClusterRpcProxy(nameko_config, context_data={"correlation_id": "abc-submit"}) as rpc:
        [result] = rpc.submissions.submit_batch([cmd])
    assert submissions.events(result["case"]["case_id"])[0].correlation_id == "abc-submit"


def test_audit_trail_has_reads_and_changes(submissions: Submissions) -> None:
    [result] = submissions.submit(command("a1"))
    case = result["case"]
    submissions.act(case["case_id"], "start-review", {"clerk": "Frau Meyer"}, actor="clerk-3")
    entry = submissions.call("record_access", case["case_id"], case["tenant"], "clerk-3", "read")
    assert entry
    trail = submissions.call("audit_trail", case["case_id"])
    assert [(e["actor"], e["action"]) for e in trail] == [
        ("citizen-1", "Submitted"),
        ("clerk-3", "ReviewStarted"),
        ("clerk-3", "read"),
    ]
    assert all(e["tenant"] == VECHTA for e in trail)
    with pytest.raises(DomainError) as raised:
        submissions.call("audit_trail", str(uuid4()))
    assert raised.value.code == "case_not_found"


def test_erasure_finds_every_case_without_the_projector(submissions: Submissions) -> None:
    """The read model may lag behind (here the projector does not run at all): the cases of
    an applicant come from the event store, and every one of them is erased."""
    results = submissions.submit(command("e1"), command("e2", service_id="meldebescheinigung", portal=LOHNE))
    ids = [r["case"]["case_id"] for r in results]
    assert submissions.call("erase_applicant", "citizen-1") == {"cases": 2, "events_redacted": 2}
    assert submissions.call("erase_applicant", "citizen-1") == {"cases": 2, "events_redacted": 0}  # idempotent
    trail = submissions.call("audit_trail", ids[0])
    assert [e["action"] for e in trail][-2:] == ["PersonalDataErased", "personal_data_redacted"]
    for case_id in ids:
        raw = b"".join(s.state for s in submissions.app.recorder.select_events(UUID(case_id)))
        assert b"Mustermann" not in raw and b"example.org" not in raw
