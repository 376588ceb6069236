"""Integration events against their published JSON Schemas (contracts/events/).

Real Case aggregates (and, for the two family-wide rules, real Payment aggregates) are driven
through every transition; each domain event is mapped by the owner's
``integration.to_envelope`` exactly as its relay does and must match the schema of its type.
Broken envelopes (a field missing, a wrong type, personal data in ``data``) must not.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import pytest
from jsonschema import Draft202012Validator, ValidationError

from services.common import contracts
from services.submissions.domain import Case, ReferenceSequence, Status
from services.submissions.integration import event_type, to_envelope
from tests.examples import payment_lifecycles, submitted_case

META = {"actor": "anonymous", "correlation_id": "c0ffee"}


def submitted(service_id: str = "meldebescheinigung", fee_cents: int = 700) -> Case:
    return submitted_case(service_id=service_id, ozg_id="10173", leika_key="99115004001000", fee_cents=fee_cents,
                          reference="VEC-2026-000042", applicant_ref="anonymous", **META)


def lifecycles() -> list[Case]:
    """Three cases that together emit every event type."""
    paid = submitted()
    paid.request_payment(700, **META)
    paid.receive_payment(700, "KASSE-2026-17", **META)
    paid.start_review("Frau Meyer", **META)
    paid.request_information("Bitte Meldeadresse bestätigen.", date(2026, 12, 31), **META)
    paid.supply_information("Die Adresse stimmt, Hausnummer 12a.", **META)
    paid.reassign("Herr Schulz", **META)
    paid.approve("Die Bescheinigung wird zugesandt.", **META)

    refused = submitted("hundeanmeldung", 0)
    refused.start_review("Frau Meyer", **META)
    refused.reject("Der Hund ist bereits angemeldet.", **META)

    withdrawn = submitted("hundeanmeldung", 0)
    withdrawn.reassign("Herr Schulz", **META)  # previous is None
    withdrawn.withdraw("", **META)
    withdrawn.erase_personal_data(**META)  # the applicant deleted their account
    assert (paid.status, refused.status, withdrawn.status) == (Status.APPROVED, Status.REJECTED, Status.WITHDRAWN)

    automatic = submitted("hundeabmeldung", 0)  # a rule decides (issue #16), a clerk takes it back
    rule = "rule:0b5c3f8e-2a51-4c1e-9d7a-6f2b8e4a1c3d@v2"
    automatic.decide_automatically("approve", "Die Abmeldung ist begründet.", rule, "2026-11-25T09:00:00+00:00", "c0ffee")
    automatic.reverse_automatic_decision("Frau Meyer", "Nachprüfung", 60, 3600, **META)
    assert automatic.status == Status.IN_REVIEW
    return [paid, refused, withdrawn, automatic]


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    events = [event for case in lifecycles() for event in case.collect_events()]
    mapped = [to_envelope(event, position) for position, event in enumerate(events, start=1)]
    # over the wire the envelope is JSON; compare what a consumer receives
    return [json.loads(json.dumps(envelope)) for envelope in mapped if envelope is not None]


def one(envelopes: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in envelopes if e["type"] == event_type))


# -- the schema files ----------------------------------------------------------------------
def test_every_schema_file_is_a_valid_2020_12_schema_named_after_its_type() -> None:
    for path in sorted(contracts.EVENTS_DIR.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"].endswith("/" + path.name)
        if path.name != "envelope.v1.json":
            assert schema["properties"]["type"]["const"] == path.name.removesuffix(".json")
            assert schema["allOf"] == [{"$ref": "envelope.v1.json"}]


def _family(name: str) -> tuple[type, tuple[type, ...], Any, Any, int]:
    """A publishing service's aggregate, its event classes that are not published as such,
    its type mapping, its lifecycles and how many types it publishes."""
    if name == "case":
        return Case, (Case.Event, Case.Created), event_type, (lifecycles, to_envelope), 13
    from services.payments import integration as payments
    from services.payments.domain import Payment
    return Payment, (Payment.Event,), payments.event_type, (payment_lifecycles, payments.to_envelope), 9


@pytest.mark.parametrize("family", ["case", "payment"])
def test_every_domain_event_has_a_schema_and_every_schema_an_event(family: str) -> None:
    """A new event of a published aggregate needs a published schema (Case.Created is only the
    generic base of Submitted)."""
    aggregate, unpublished, type_of, _, count = _family(family)
    classes = [c for c in vars(aggregate).values() if isinstance(c, type) and issubclass(c, aggregate.Event)
               and c not in unpublished]
    published = {t for t in contracts.event_types() if t.startswith(f"{family}.")}
    assert {type_of(object.__new__(c)) for c in classes} == published
    assert len(published) == count


# -- real events ---------------------------------------------------------------------------
@pytest.mark.parametrize("family", ["case", "payment"])
def test_every_transition_emits_an_envelope_that_matches_its_schema(family: str) -> None:
    _, _, _, (build, envelope_of), _ = _family(family)
    events = [event for aggregate in build() for event in aggregate.collect_events()]
    mapped = [envelope_of(event, position) for position, event in enumerate(events, start=1)]
    envelopes = [json.loads(json.dumps(envelope)) for envelope in mapped if envelope is not None]
    assert {e["type"] for e in envelopes} == {t for t in contracts.event_types() if t.startswith(f"{family}.")}
    for envelope in envelopes:
        contracts.validate_event(envelope)


def test_an_envelope_mapped_outside_the_log_has_no_position_and_is_valid() -> None:
    case = submitted()
    envelope = json.loads(json.dumps(to_envelope(case.collect_events()[0])))
    assert envelope["position"] is None
    contracts.validate_event(envelope)


def test_versions_count_per_case_and_event_ids_are_unique(envelopes: list[dict[str, Any]]) -> None:
    by_case: dict[str, list[int]] = {}
    for envelope in envelopes:
        by_case.setdefault(envelope["aggregate_id"], []).append(envelope["aggregate_version"])
    assert all(versions == list(range(1, len(versions) + 1)) for versions in by_case.values())
    assert len({e["event_id"] for e in envelopes}) == len(envelopes)


def test_no_form_data_or_free_text_of_the_citizen_leaves_the_service(envelopes: list[dict[str, Any]]) -> None:
    text = json.dumps(envelopes, ensure_ascii=False)
    free_text = ("Bitte Meldeadresse bestätigen.", "Die Bescheinigung wird zugesandt.", "Der Hund ist bereits angemeldet.")
    for private in ("Erika", "erika@example.org", "privat", "Hausnummer 12a", "0" * 64, *free_text):
        assert private not in text
    for published in ("information_supplied.v1", "approved.v2", "rejected.v2", "withdrawn.v2", "personal_data_erased.v1"):
        assert one(envelopes, f"case.{published}")["data"] == {}
    assert one(envelopes, "case.information_requested.v2")["data"] == {"due_date": "2026-12-31"}


def test_retired_versions_keep_their_schema_and_have_a_published_successor() -> None:
    """Free text left the broker with a new version of four types; the old schemas stay (marked
    deprecated) for consumers of older messages and are published no more."""
    retired = contracts.retired_event_types()
    assert sorted(retired) == [
        "case.approved.v1", "case.information_requested.v1", "case.rejected.v1", "case.withdrawn.v1"
    ]
    for old in retired:
        assert old.replace(".v1", ".v2") in contracts.event_types()
    legacy = {"event_id": "6f1c1f8e-5d43-5b1a-9b4e-2f0e6f3c8a11", "type": "case.rejected.v1",
              "occurred_at": "2026-11-25T10:00:00+00:00", "tenant": "03460009", "service_id": "hundeanmeldung",
              "aggregate_id": "3f0e6f3c-8a11-4b1a-9b4e-6f1c1f8e5d43", "aggregate_version": 3, "position": 7,
              "actor": "clerk:meyer", "correlation_id": "c-1", "causation_id": None, "data": {"reason": "unvollständig"}}
    contracts.validate_event(legacy)


def test_internal_aggregates_are_not_published() -> None:
    sequence = ReferenceSequence(tenant="03460009", year=2026)
    sequence.allocate(3)
    assert [to_envelope(event) for event in sequence.collect_events()] == [None, None]


# -- broken envelopes ----------------------------------------------------------------------
ENVELOPE_FIELDS = json.loads((contracts.EVENTS_DIR / "envelope.v1.json").read_text())["required"]


@pytest.mark.parametrize("field", ENVELOPE_FIELDS)
def test_a_missing_envelope_field_fails(envelopes: list[dict[str, Any]], field: str) -> None:
    envelope = one(envelopes, "case.approved.v2")
    del envelope[field]
    with pytest.raises(ValidationError):
        contracts.validate_event(envelope)


@pytest.mark.parametrize(
    ("event_type", "path", "value"),
    [
        ("case.submitted.v1", ("aggregate_version",), "1"),
        ("case.submitted.v1", ("aggregate_version",), 0),
        ("case.submitted.v1", ("tenant",), 3460009),
        ("case.submitted.v1", ("tenant",), "vechta"),
        ("case.submitted.v1", ("event_id",), "not-a-uuid"),
        ("case.submitted.v1", ("aggregate_id",), 42),
        ("case.submitted.v1", ("occurred_at",), "gestern"),
        ("case.submitted.v1", ("position",), "7"),
        ("case.submitted.v1", ("actor",), None),
        ("case.submitted.v1", ("correlation_id",), ""),
        ("case.submitted.v1", ("data",), []),
        ("case.submitted.v1", ("data", "fee_cents"), "7,00 €"),
        ("case.submitted.v1", ("data", "reference"), "42"),
        ("case.submitted.v1", ("data", "submitted_at"), "25.11.2026"),
        ("case.payment_requested.v1", ("data", "amount_cents"), "700"),
        ("case.payment_requested.v1", ("data", "amount_cents"), 0),
        ("case.payment_received.v1", ("data", "payment_ref"), 17),
        ("case.information_requested.v2", ("data", "due_date"), "31.12.2026"),
        ("case.reassigned.v1", ("data", "previous"), 1),
        ("case.approved.v2", ("type",), "case.approved.v3"),
        ("case.approved.v2", ("type",), "case.rejected.v1"),
    ],
)
def test_a_field_of_the_wrong_type_or_shape_fails(
    envelopes: list[dict[str, Any]], event_type: str, path: tuple[str, ...], value: Any
) -> None:
    envelope = one(envelopes, event_type)
    target = envelope
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        contracts.validate_event(envelope)


@pytest.mark.parametrize(
    ("event_type", "field"),
    [
        ("case.submitted.v1", "reference"),
        ("case.payment_received.v1", "amount_cents"),
        ("case.information_requested.v2", "due_date"),
        ("case.reassigned.v1", "previous"),
    ],
)
def test_a_missing_data_field_fails(envelopes: list[dict[str, Any]], event_type: str, field: str) -> None:
    envelope = one(envelopes, event_type)
    del envelope["data"][field]
    with pytest.raises(ValidationError):
        contracts.validate_event(envelope)


@pytest.mark.parametrize(
    ("event_type", "field", "value"),
    [
        ("case.submitted.v1", "form_data", {"first_name": "Erika"}),
        ("case.submitted.v1", "applicant", {"email": "erika@example.org"}),
        ("case.information_supplied.v1", "answer", "Die Adresse stimmt."),
        ("case.information_requested.v2", "question", "Frau Mustermann, bitte Meldeadresse bestätigen."),
        ("case.approved.v2", "decision", "Frau Mustermann erhält die Bescheinigung."),
        ("case.rejected.v2", "reason", "Frau Mustermann hat schon einen Hund angemeldet."),
        ("case.withdrawn.v2", "reason", "Umzug von Erika Mustermann"),
        ("case.personal_data_erased.v1", "form_data", {"_erased": True}),
    ],
)
def test_personal_data_in_an_event_fails(envelopes: list[dict[str, Any]], event_type: str, field: str, value: Any) -> None:
    envelope = one(envelopes, event_type)
    envelope["data"][field] = value
    with pytest.raises(ValidationError):
        contracts.validate_event(envelope)


def test_an_undocumented_envelope_field_or_unknown_type_fails(envelopes: list[dict[str, Any]]) -> None:
    envelope = one(envelopes, "case.withdrawn.v2")
    with pytest.raises(ValidationError):
        contracts.validate_event({**envelope, "applicant_email": "erika@example.org"})
    with pytest.raises(ValidationError, match="unknown event type"):
        contracts.validate_event({**envelope, "type": "case.teleported.v1"})
    with pytest.raises(ValidationError):
        contracts.validate_event({**envelope, "type": "envelope.v1"})
    with pytest.raises(ValidationError):
        contracts.validate_event(["not", "an", "object"])
    with pytest.raises(KeyError):
        contracts.event_validator("case.teleported.v1")


# -- drafts (issue #14): published for the KPI "started vs submitted", without any form data ----
def test_draft_events_carry_ids_tenant_service_and_page_only() -> None:
    from services.submissions.domain.drafts import Draft

    draft = Draft(tenant="03460009", portal="03460001", service_id="hundeanmeldung", form_version=2, owner="citizen:erika",
                  form_data={"holder_last_name": "Mustermann"}, page="holder", started_at="2026-11-25T10:00:00+00:00",
                  actor="citizen:erika", correlation_id="c-1")
    draft.save({"holder_last_name": "Mustermann", "dog_name": "Bello"}, "dog", "2026-11-25T10:01:00+00:00", "citizen:erika", "c-2")
    draft.submit("3f0e6f3c-8a11-4b1a-9b4e-6f1c1f8e5d43", "citizen:erika", "c-3")
    envelopes = [json.loads(json.dumps(to_envelope(e))) for e in draft.collect_events()]
    assert [e["type"] for e in envelopes] == ["draft.started.v1", "draft.saved.v1", "draft.submitted.v1"]
    for envelope in envelopes:
        contracts.validate_event(envelope)
        assert (envelope["tenant"], envelope["service_id"]) == ("03460009", "hundeanmeldung")
    assert [e["data"] for e in envelopes] == [
        {"portal": "03460001", "form_version": 2, "page": "holder"}, {"page": "dog"},
        {"case_id": "3f0e6f3c-8a11-4b1a-9b4e-6f1c1f8e5d43"},
    ]
    text = json.dumps(envelopes)
    assert "Mustermann" not in text and "Bello" not in text  # the owner is only the actor, an account id
    discarded = Draft(tenant="03460009", portal="03460009", service_id="briefwahl", form_version=1, owner="o",
                      form_data={}, page=None, started_at="2026-11-25T10:00:00+00:00", actor="o", correlation_id="c")
    discarded.discard("o", "c")
    discarded.erase_personal_data("o", "c")
    types = [to_envelope(e) and to_envelope(e)["type"] for e in discarded.collect_events()]
    assert types == ["draft.started.v1", "draft.discarded.v1", None]  # the erasure is internal
