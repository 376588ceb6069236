"""A rule's approval reversed by a clerk (issue #16): the approval's mail and letter have
reached the citizen, so the reversal's integration event gives her a follow-up — one real
SMTP mail and one postbox item saying the automatic decision was set aside and her
application is reviewed again — exactly once, however often the event is delivered."""

from __future__ import annotations

from services.common.db import ReadStore
from services.notifications.domain import message_id
from services.notifications.kinds import KIND_TEXT
from services.notifications.postbox.domain import POSTBOX
from services.notifications.postbox.projections import Postbox
from services.notifications.projections import Outbox
from tests.integration.test_notifications import BASE
from tests.integration.test_rules_app import DOG_GONE, DOG_RULE, submit, switched_on
from tests.integration.test_rules_reminders import ERIKA, mailbox, notifications, rules, send_all  # noqa: F401 - fixtures
from tests.postbox_support import CaseSources
from tests.support import AppCases, case_envelopes

SAID = "Ihre automatische Entscheidung wurde von der Behörde aufgehoben; Ihr Antrag wird erneut geprüft."


def test_a_reversed_automatic_approval_tells_the_citizen_once(
    rules, notifications, submissions, resolve, clock, mailbox,  # noqa: F811
) -> None:
    switched_on(rules, DOG_RULE)
    case_id = submit(submissions, resolve, "dog-reversed", "hundeabmeldung", DOG_GONE, principal=ERIKA)
    cases = AppCases(submissions)
    for envelope in case_envelopes(submissions):
        rules.consume(envelope, cases)
    assert submissions.get_case(case_id).status == "approved"
    for envelope in case_envelopes(submissions):
        notifications.accept(envelope)
    approved = [m for m in send_all(notifications) if m["kind"] == "case_approved"]
    assert [m["status"] for m in approved] == ["delivered"]  # the approval is out

    clock.advance(3600)
    submissions.act(case_id, "reverse-automatic-decision", {"reason": "Hundesteuer prüfen"}, "clerk:meyer", "c")
    [reversal] = [e for e in case_envelopes(submissions) if e["type"] == "case.automatic_decision_reversed.v1"]
    assert notifications.accept(reversal) == 1
    assert notifications.accept(reversal) == 0  # redelivered: nothing twice
    for envelope in case_envelopes(submissions):  # a replay of everything: nothing new either
        assert notifications.accept(envelope) == 0

    sent = send_all(notifications)
    assert [(m["kind"], m["status"]) for m in sent] == [("case_decision_reversed", "delivered")]
    assert send_all(notifications) == []
    reference = submissions.get_case(case_id).reference
    [mail] = [m for m in mailbox.messages() if m["kind"] == "case_decision_reversed"]
    assert mail["to"] == "erika@example.org"
    assert mail["subject"] == f"Ihr Antrag {reference}: automatische Entscheidung aufgehoben"
    assert SAID in mail["text"] and "Hundesteuer" not in mail["text"]  # the clerk's internal reason stays inside

    # her postbox and timeline say so too
    sources = CaseSources()
    sources.cases[case_id] = submissions.get_case(case_id)
    sources.service_name = lambda _: "Abmeldung eines Hundes"  # type: ignore[method-assign]
    item_id = str(message_id(str(reversal["event_id"]), POSTBOX, ERIKA))
    assert notifications.compose_item(item_id, sources, None, BASE)["kind"] == "case_decision_reversed"
    item = notifications.postbox_item(item_id, ERIKA)
    assert SAID in item.body_text and reference in item.subject
    postbox = Postbox(ReadStore("notifications"))
    postbox.catch_up(notifications)
    assert [i["kind"] for i in postbox.items_of(ERIKA)].count("case_decision_reversed") == 1
    outbox = Outbox(ReadStore("notifications"))
    outbox.catch_up(notifications)
    assert [r["kind"] for r in outbox.for_case(case_id)].count("case_decision_reversed") == 1
    assert KIND_TEXT["case_decision_reversed"] == "Hinweis auf aufgehobene Entscheidung"
