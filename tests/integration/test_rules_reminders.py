"""Reminders of rules delivered (issue #16): a reminder rule's scheduled action, once due
on a hand-advanced clock, is handed by the rules application to the real notifications
application and leaves as a real SMTP mail once — to the citizen (mail, postbox item and
timeline entry) for an unanswered question, to the authority for an overdue case; a
reminder no longer needed is settled without a message; a second round, or a restarted
rules process, sends nothing again."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.common.config import settings
from services.common.db import ReadStore
from services.notifications.application import NotificationsApp
from services.notifications.domain import message_id
from services.notifications.postbox.domain import POSTBOX
from services.notifications.postbox.projections import Postbox
from services.notifications.projections import Outbox
from services.notifications.sink import Mailbox, start_smtp
from services.notifications.smtp import SmtpTransport
from services.rules.application import RulesApp
from services.rules.domain import RuleAction
from tests import support
from tests.integration.test_notifications import BASE, Directory
from tests.integration.test_rules_app import DOG_GONE, VECHTA, submit, switched_on
from tests.postbox_support import CaseSources
from tests.support import AppCases, case_envelopes

ERIKA = "citizen-erika"


@pytest.fixture
def rules(store_env, clock) -> RulesApp:
    return RulesApp(store_env("rules"), clock=clock)


@pytest.fixture
def notifications(store_env) -> NotificationsApp:
    return NotificationsApp(store_env("notifications"))


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Any:
    port = support.free_port()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    box = Mailbox()
    controller = start_smtp(box, "127.0.0.1", port)
    yield box
    controller.stop()


class AppReminders:
    """``notifications.send_reminder`` on the notifications application (what the rules
    consumer's RPC proxy calls in the running platform): the real application, no mock."""

    def __init__(self, app: NotificationsApp) -> None:
        self.app = app
        self.handed = 0

    def send_reminder(self, reminder: dict[str, Any]) -> dict[str, int]:
        self.handed += 1
        return {"messages": self.app.accept_reminder(reminder)}


def send_all(app: NotificationsApp) -> list[dict[str, Any]]:
    outbox = Outbox(ReadStore("notifications"))
    outbox.catch_up(app)
    transport = SmtpTransport(settings(), timeout=5)
    try:
        return [app.deliver(mid, transport, Directory({ERIKA: "erika@example.org"}), BASE, rng=random.Random(1))
                for mid in outbox.due(datetime(2100, 1, 1).isoformat())]
    finally:
        transport.close()


def test_due_reminders_reach_the_citizen_and_the_authority_once(
    rules, notifications, submissions, resolve, clock, mailbox, store_env,
) -> None:
    asked = switched_on(rules, {"service_id": "hundeabmeldung", "kind": "reminder", "name": "Rückfrage offen",
                                "when": {"fact": "age_days", "op": "gte", "value": 0},
                                "then": {"on": "information_requested", "after_days": 7,
                                         "message": "Ohne Ihre Antwort können wir nicht weiterarbeiten."}})
    switched_on(rules, {"service_id": "hundeabmeldung", "kind": "reminder", "name": "Bearbeitung überfällig",
                        "when": {"fact": "age_days", "op": "gte", "value": 0},
                        "then": {"on": "overdue", "after_days": 14}})
    questioned = submit(submissions, resolve, "dog-ask", "hundeabmeldung", {**DOG_GONE, "reason": "other"},
                        principal=ERIKA)
    answered = submit(submissions, resolve, "dog-answered", "hundeabmeldung", {**DOG_GONE, "reason": "other"},
                      principal=ERIKA)
    for case_id in (questioned, answered):
        submissions.act(case_id, "start-review", {"clerk": "clerk:meyer"}, "clerk:meyer", "c")
        submissions.act(case_id, "request-information", {"question": "Wann genau?", "due_date": "2031-12-31"},
                        "clerk:meyer", "c")
    submissions.act(answered, "supply-information", {"answer": "Am 20. November."}, ERIKA, "c")
    cases = AppCases(submissions)
    for envelope in case_envelopes(submissions):
        notifications.accept(envelope)
        rules.consume(envelope, cases)
    requested = next(e for e in case_envelopes(submissions)
                     if e["type"] == "case.information_requested.v2" and e["aggregate_id"] == questioned)
    action = rules.repository.get(RuleAction.create_id(str(requested["event_id"]), f"rule:{asked}@v1"))
    before = len(send_all(notifications))  # the ordinary case mails (submitted, question)
    reminders = AppReminders(notifications)

    clock.now = datetime.fromisoformat(action.due_at) - timedelta(hours=1)
    assert rules.deliver_due(cases, reminders) == {} and reminders.handed == 0  # not yet due
    clock.now = datetime.fromisoformat(action.due_at) + timedelta(hours=1)
    assert rules.deliver_due(cases, reminders) == {"sent": 1, "not_needed": 1}  # the answered one is not reminded
    assert rules.repository.get(action.id).result == "sent"
    [mail] = [m for m in (send_all(notifications)) if m["kind"] == "case_reminder"]
    assert mail["status"] == "delivered" and len(mailbox.messages()) == before + 1
    reminder_mail = mailbox.messages()[-1]
    assert reminder_mail["to"] == "erika@example.org" and reminder_mail["subject"].startswith("Erinnerung: Rückfrage")
    assert "Ohne Ihre Antwort können wir nicht weiterarbeiten." in reminder_mail["text"]
    # in the citizen's postbox (composed with the open question) and timeline like every message
    sources = CaseSources()
    sources.cases[questioned] = submissions.get_case(questioned)
    sources.service_name = lambda _: "Abmeldung eines Hundes"  # type: ignore[method-assign]
    item_id = str(message_id(str(action.id), POSTBOX, ERIKA))
    assert notifications.compose_item(item_id, sources, None, BASE)["kind"] == "case_reminder"
    postbox = Postbox(ReadStore("notifications"))
    postbox.catch_up(notifications)
    [item] = [i for i in postbox.items_of(ERIKA) if i["kind"] == "case_reminder"]
    assert item["case_id"] == questioned and "Wann genau?" in notifications.postbox_item(item_id, ERIKA).body_text
    outbox = Outbox(ReadStore("notifications"))
    outbox.catch_up(notifications)
    assert "case_reminder" in [row["kind"] for row in outbox.for_case(questioned)]

    # two weeks on, the case still lies with the authority? It is waiting on the citizen: no overdue notice
    clock.advance(14 * 86400)
    assert rules.deliver_due(cases, reminders) == {"not_needed": 1, "sent": 1}  # answered → back with the authority
    [notice] = [m for m in send_all(notifications) if m["kind"] == "case_overdue"]
    assert notice["status"] == "delivered"
    assert mailbox.messages()[-1]["to"] == "buergerbuero@vechta.example"
    assert "Überfälliger Vorgang" in mailbox.messages()[-1]["subject"]

    # a later round, a restarted rules process, and the same reminder handed over twice: nothing again
    sent = len(mailbox.messages())
    assert rules.deliver_due(cases, reminders) == {}
    restarted = RulesApp(store_env("rules"), clock=clock)
    assert restarted.deliver_due(cases, reminders) == {}
    assert notifications.accept_reminder({"reminder_id": str(action.id), "audience": "citizen", "tenant": VECHTA,
                                          "case_id": questioned}) == 0
    assert send_all(notifications) == [] and len(mailbox.messages()) == sent
