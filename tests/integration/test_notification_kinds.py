"""Every message kind against a real SMTP server (aiosmtpd on a free port), on SQLite and
PostgreSQL: case and payment events and identity's account mails arrive once each, in the
recipient's language, with the authority's details; preferences switch e-mails off; the
per-recipient rate limit defers (never drops); replaying everything sends nothing; erasing
a recipient leaves no trace of them in the messages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from services.common.config import settings
from services.common.contracts import validate_event
from services.common.db import ReadStore
from services.notifications.application import NotificationsApp
from services.notifications.domain import DEFERRED, DELIVERED, PERMANENT_FAILURE
from services.notifications.limits import RecipientLimit
from services.notifications.preferences import MailSecrets, Preferences
from services.notifications.projections import Outbox
from services.notifications.sink import Mailbox
from services.notifications.smtp import SmtpTransport
from services.submissions.domain import Case
from services.submissions.integration import to_envelope
from tests.integration.test_notifications import BASE, VECHTA, Directory

META = {"actor": "clerk:1", "correlation_id": "c-2"}
positions = iter(range(1, 1_000_000))
ADDRESSES = {"acc-de": "erika@example.org", "acc-en": "jane@example.org"}


@pytest.fixture
def app(notifications_app: NotificationsApp) -> NotificationsApp:
    return notifications_app


@pytest.fixture
def mailbox(smtp: dict) -> Mailbox:
    return smtp["mailbox"]


@pytest.fixture
def stores(backend: str) -> tuple[Outbox, Preferences, MailSecrets]:
    return Outbox(ReadStore("notifications")), Preferences(ReadStore("notifications")), MailSecrets(ReadStore("notifications"))


def payment_envelope(event_type: str, case_id: str, **data: object) -> dict:
    """A payments event as the payments relay publishes it (checked against its schema)."""
    envelope = {
        "event_id": str(uuid4()), "type": event_type, "occurred_at": datetime.now(UTC).isoformat(),
        "tenant": "03460009", "service_id": "hundeanmeldung", "aggregate_id": str(uuid4()), "aggregate_version": 2,
        "position": next(positions), "actor": "psp", "correlation_id": "c-3", "causation_id": None,
        "data": {"case_id": case_id, **data},
    }
    validate_event(envelope)
    return envelope


def life_of_a_case(applicant: str) -> list[dict]:
    """Submitted with a fee, paid after a failed attempt, refunded, reviewed by two clerks in turn, withdrawn."""
    case = Case.submit(
        uuid4(), tenant="03460009", portal="03460009", service_id="hundeanmeldung", ozg_id="1", leika_key="2",
        form_version=1, fee_cents=2500, processing_days=14, reference="VEC-2026-000043", applicant_ref=applicant,
        applicant={"name": "Erika Muster"}, form_data={"hund": "Bello"},
        submitted_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC).isoformat(), request_hash="h", **META,
    )
    case.request_payment(2500, **META)
    case.receive_payment(2500, "psp:1", **META)
    case.start_review("Frau Meyer", **META)
    case.reassign("Herr Schulz", **META)
    case.withdraw("Hund ist verstorben", **META)
    events = [e for e in (to_envelope(event, next(positions)) for event in case.collect_events()) if e is not None]
    case_id = events[0]["aggregate_id"]
    kassenzeichen = {"kassenzeichen": "VEC-2026-0001234", "case_reference": "VEC-2026-000043"}
    failed = payment_envelope("payment.failed.v1", case_id, reason="card declined")
    refunded = payment_envelope("payment.refunded.v1", case_id, refund_id=str(uuid4()), psp_refund_id="re_1",
                                amount_cents=2500, booked_at="2026-11-03T10:00:00+00:00", **kassenzeichen)
    return [*events[:2], failed, *events[2:], refunded]


def send_due(app: NotificationsApp, stores: tuple, now: datetime, limit: RecipientLimit | None = None) -> list[dict]:
    outbox, _, secrets = stores
    outbox.catch_up(app)
    transport = SmtpTransport(settings(), timeout=5)
    try:
        return [
            app.deliver(mid, transport, Directory(ADDRESSES), BASE, now=now, rng=random.Random(1), secrets=secrets,
                        limit=limit)
            for mid in outbox.due(now.isoformat())
        ]
    finally:
        transport.close()


SUBJECTS = {
    "de": ["Ihr Antrag VEC-2026-000043 ist eingegangen", "Gebühr für Ihren Antrag VEC-2026-000043",
           "Zahlung für Ihren Antrag VEC-2026-000043 fehlgeschlagen",
           "Zahlung für Ihren Antrag VEC-2026-000043 eingegangen",
           "Neue Ansprechperson für Ihren Antrag VEC-2026-000043", "Ihr Antrag VEC-2026-000043 wurde zurückgezogen",
           "Erstattung zu Ihrem Antrag VEC-2026-000043"],
    "en": ["Your application VEC-2026-000043 has been received", "Fee for your application VEC-2026-000043",
           "Payment for your application VEC-2026-000043 failed",
           "Payment for your application VEC-2026-000043 received",
           "New contact for your application VEC-2026-000043", "Your application VEC-2026-000043 has been withdrawn",
           "Refund for your application VEC-2026-000043"],
}


def test_each_kind_arrives_once_in_the_recipients_language_and_a_replay_sends_nothing(app, mailbox, stores) -> None:
    _, preferences, _ = stores
    preferences.put("acc-en", {"language": "en"})
    events = life_of_a_case("acc-de") + life_of_a_case("acc-en")
    assert sum(app.accept(e, preferences) for e in events) == 14  # the first clerk's assignment is no news
    now = datetime.now(UTC)
    assert {r["status"] for r in send_due(app, stores, now)} == {DELIVERED}
    for envelope in events:  # the whole log again
        assert app.accept(envelope, preferences) == 0
    assert send_due(app, stores, now + timedelta(days=1)) == []

    mails = mailbox.messages()
    for to, language in (("erika@example.org", "de"), ("jane@example.org", "en")):
        mine = [m for m in mails if m["to"] == to]
        assert sorted(m["subject"] for m in mine) == sorted(SUBJECTS[language])  # each once
        hours = {"de": "Öffnungszeiten: ", "en": "Opening hours: "}[language]
        for mail in mine:
            assert all(VECHTA[field] in mail["text"] for field in ("name", "email", "phone", "address", "opening_hours"))
            assert hours + VECHTA["opening_hours"] in mail["text"] and f"{BASE}/postbox" in mail["text"]
            for private in ("Bello", "Muster", "verstorben", "Meyer", "Schulz", "declined"):
                assert private not in mail["text"] and private not in mail["html"]
        amounts = {"de": "25,00 €", "en": "EUR 25.00"}[language]
        assert sum(amounts in m["text"] for m in mine) == 3  # requested, received, refunded
        assert any("VEC-2026-0001234" in m["text"] for m in mine)  # the Kassenzeichen of the refund
    assert {m["kind"] for m in mails} == {
        "case_submitted", "payment_requested", "payment_failed", "payment_received", "case_reassigned",
        "case_withdrawn", "payment_refunded",
    }


def test_an_email_switched_off_is_not_sent_and_the_rest_are(app, mailbox, stores) -> None:
    _, preferences, _ = stores
    preferences.put("acc-de", {"email": {"payment_requested": False, "case_reassigned": False}})
    assert sum(app.accept(e, preferences) for e in life_of_a_case("acc-de")) == 5
    send_due(app, stores, datetime.now(UTC))
    kinds = sorted(m["kind"] for m in mailbox.messages())
    assert kinds == ["case_submitted", "case_withdrawn", "payment_failed", "payment_received", "payment_refunded"]
    assert preferences.get("acc-de")["email"]["payment_requested"] is False
    assert preferences.get("acc-de")["email"]["case_submitted"] is True  # the rest stays on


def test_the_rate_limit_defers_and_sends_later_nothing_lost(app, mailbox, stores) -> None:
    outbox = stores[0]
    assert sum(app.accept(e) for e in life_of_a_case("acc-de")) == 7
    now = datetime.now(UTC)
    limit = RecipientLimit(3, timedelta(hours=1), outbox.sent_since)
    first = send_due(app, stores, now, limit)
    assert sorted(r["status"] for r in first) == [DEFERRED] * 4 + [DELIVERED] * 3
    assert len(mailbox.messages()) == 3
    outbox.catch_up(app)
    case_id = first[0]["case_id"]
    deferred = [r for r in outbox.for_case(case_id) if r["status"] == DEFERRED]
    assert len(deferred) == 4 and {r["next_attempt_at"] for r in deferred} == {(now + timedelta(hours=1)).isoformat()}
    assert send_due(app, stores, now + timedelta(minutes=30), RecipientLimit(3, timedelta(hours=1), outbox.sent_since)) == []
    later = now + timedelta(hours=1, seconds=1)
    second = send_due(app, stores, later, RecipientLimit(3, timedelta(hours=1), outbox.sent_since))
    assert sorted(r["status"] for r in second) == [DEFERRED] + [DELIVERED] * 3  # three per window
    third = send_due(app, stores, later + timedelta(hours=1), RecipientLimit(3, timedelta(hours=1), outbox.sent_since))
    assert [r["status"] for r in third] == [DELIVERED]
    assert len(mailbox.messages()) == 7 and len({m["subject"] for m in mailbox.messages()}) == 7  # all, once each


def test_an_account_mail_keeps_its_link_only_until_delivered(app, mailbox, stores) -> None:
    _, preferences, secrets = stores
    token = f"geheim-{uuid4().hex}"
    mail = {
        "mail_id": uuid4().hex, "template": "verify_email", "to": "neu@example.org", "account_id": "acc-en",
        "link": f"{BASE}/account/verify-email#token={token}", "expires_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
    }
    preferences.put("acc-en", {"language": "en"})
    mid = app.accept_account_mail(mail, secrets, preferences)
    assert app.accept_account_mail(mail, secrets, preferences) == mid  # handed over twice: one message
    [result] = send_due(app, stores, datetime.now(UTC))
    assert result["status"] == DELIVERED and secrets.get(mid) is None  # the link is gone once delivered
    [sent] = mailbox.messages()
    assert (sent["to"], sent["kind"], sent["subject"]) == ("neu@example.org", "verify_email", "Please confirm your e-mail address")
    assert mail["link"] in sent["text"]
    stored = b"".join(s.state for s in app.recorder.select_events(app.message(mid).id))
    assert token.encode() not in stored and b"neu@example.org" not in stored
    assert send_due(app, stores, datetime.now(UTC) + timedelta(days=1)) == []

    expired = {**mail, "mail_id": uuid4().hex, "expires_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}
    late = app.accept_account_mail(expired, secrets, preferences)
    assert secrets.forget_expired(datetime.now(UTC).isoformat()) == 1
    [result] = send_due(app, stores, datetime.now(UTC))
    assert (result["message_id"], result["status"], result["error"]) == (late, PERMANENT_FAILURE, "link expired")
    assert len(mailbox.messages()) == 1


def test_erasing_a_recipient_leaves_no_trace_and_sends_nothing_more(app, mailbox, stores) -> None:
    outbox = stores[0]
    events = life_of_a_case("acc-de")
    for envelope in events[:3]:
        app.accept(envelope)
    send_due(app, stores, datetime.now(UTC))
    app.accept(events[3])  # a notice still waiting when the account goes
    outbox.catch_up(app)
    erased = app.erase_recipient("acc-de", outbox)
    assert erased["messages"] == 4 and erased["events_redacted"] >= 5
    assert app.erase_recipient("acc-de", outbox)["messages"] == 0  # idempotent
    outbox.catch_up(app)
    case_id = events[0]["aggregate_id"]
    rows = outbox.for_case(case_id)
    assert len(rows) == 4 and PERMANENT_FAILURE in {r["status"] for r in rows}  # the waiting one is closed
    assert outbox.messages_of("acc-de") == []
    for message_id in (r["message_id"] for r in rows):
        stored = b"".join(s.state for s in app.recorder.select_events(app.message(message_id).id))
        assert b"acc-de" not in stored and b"VEC-2026-000043" not in stored
    for envelope in events:  # replayed, and the case goes on: nobody to tell any more
        assert app.accept(envelope) == 0
    assert send_due(app, stores, datetime.now(UTC) + timedelta(days=1)) == []
    assert len(mailbox.messages()) == 3
