"""Notifications on SQLite and PostgreSQL against a real SMTP server (aiosmtpd, the
development sink's handler) on a free port: each case mail arrives once, a replayed event
sends nothing new, an SMTP outage is retried until delivered, a 550 is a permanent failure."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.common.config import settings
from services.common.db import ReadStore
from services.notifications.application import NotificationsApp
from services.notifications.domain import DELIVERED, PERMANENT_FAILURE, TEMPORARY_FAILURE
from services.notifications.projections import SENDING_LEASE, Outbox
from services.notifications.sink import Mailbox, start_smtp
from services.notifications.smtp import SmtpTransport
from services.submissions.domain import Case
from services.submissions.integration import to_envelope

META = {"actor": "clerk:1", "correlation_id": "c-1"}
VECHTA = {
    "name": "Stadt Vechta", "email": "buergerbuero@vechta.example", "phone": "+49 4441 0000-0",
    "address": "Rathaus, Burgstraße 6, 49377 Vechta", "opening_hours": "Mo–Fr 8:00–12:30 Uhr",
}
BASE = "https://rathaus.example"
positions = iter(range(1, 1_000_000))


class Directory:
    """What identity (address by account id) and catalog (tenant name) answer over RPC in the
    running platform; here a fixed table, so the test is about delivery."""

    def __init__(self, addresses: dict[str, str]):
        self.addresses = addresses

    def recipient(self, account_id: str) -> dict[str, str] | None:
        return {"email": self.addresses[account_id]} if account_id in self.addresses else None

    def tenant(self, ags: str) -> dict[str, str]:
        return {"03460009": VECHTA}[ags]


@pytest.fixture
def app(notifications_app: NotificationsApp) -> NotificationsApp:
    return notifications_app


def case_envelopes(applicant: str, decide: str = "approve") -> list[dict]:
    case = Case.submit(
        uuid4(), tenant="03460009", portal="03460009", service_id="hundeanmeldung", ozg_id="1", leika_key="2",
        form_version=1, fee_cents=0, processing_days=14, reference="VEC-2026-000042", applicant_ref=applicant,
        applicant={"name": "Erika <b>Muster</b>"}, form_data={"hund": "Bello"},
        submitted_at=datetime(2026, 11, 2, 8, 0, tzinfo=UTC).isoformat(), request_hash="h", **META,
    )
    case.start_review("clerk:1", **META)
    case.request_information("Impfpass?", date(2026, 12, 1), **META)
    case.supply_information("anbei", **META)
    getattr(case, decide)("Geheimer Entscheidungstext", **META)
    found = [to_envelope(event, next(positions)) for event in case.collect_events()]
    return [e for e in found if e is not None]


def send_due(app: NotificationsApp, outbox: Outbox, now: datetime) -> list[dict]:
    outbox.catch_up(app)
    transport = SmtpTransport(settings(), timeout=5)
    try:
        return [
            app.deliver(mid, transport, DIRECTORY, BASE, now=now, rng=random.Random(1))
            for mid in outbox.due(now.isoformat())
        ]
    finally:
        transport.close()


DIRECTORY = Directory({"acc-1": "erika@example.org", "acc-2": "niemand@nowhere.invalid"})


def test_each_case_mail_arrives_once_and_a_replay_sends_nothing(app, smtp) -> None:
    mailbox = smtp["mailbox"]
    outbox = Outbox(ReadStore("notifications"))
    events = case_envelopes("acc-1") + case_envelopes("acc-1", decide="reject")
    assert sum(app.accept(e) for e in events) == 6  # 2 × submitted, information requested, decided
    now = datetime.now(UTC)
    assert {r["status"] for r in send_due(app, outbox, now)} == {DELIVERED}

    for envelope in events:  # redelivered / the whole log replayed
        assert app.accept(envelope) == 0
    assert send_due(app, outbox, now + timedelta(hours=1)) == []

    mails = mailbox.messages()
    assert sorted(m["subject"] for m in mails) == sorted([
        "Ihr Antrag VEC-2026-000042 ist eingegangen", "Rückfrage zu Ihrem Antrag VEC-2026-000042",
        "Ihr Antrag VEC-2026-000042 wurde entschieden",
    ] * 2)
    assert {m["to"] for m in mails} == {"erika@example.org"}
    decided = [m["text"] for m in mails if "entschieden" in m["subject"]]
    assert any("bewilligt" in t for t in decided) and any("abgelehnt" in t for t in decided)
    for mail in mails:  # a short notice: tenant, reference, link; no form contents, no free text
        assert "Stadt Vechta" in mail["text"] and f"{BASE}/cases/" in mail["text"]
        for private in ("Bello", "Muster", "Impfpass", "anbei", "Geheim"):
            assert private not in mail["text"] and private not in mail["html"]
    case_id = events[0]["aggregate_id"]
    assert {(r["kind"], r["status"], r["template_version"], r["attempts"]) for r in outbox.for_case(case_id)} == {
        ("case_submitted", DELIVERED, 2, 1), ("case_information_requested", DELIVERED, 2, 1),
        ("case_approved", DELIVERED, 2, 1),
    }


def test_smtp_down_is_retried_and_delivered_once_back(app, smtp) -> None:
    mailbox, port = smtp["mailbox"], smtp["port"]
    outbox = Outbox(ReadStore("notifications"))
    app.accept(case_envelopes("acc-1")[0])
    outbox.catch_up(app)
    [mid] = outbox.due(datetime.now(UTC).isoformat())
    smtp["controller"].stop()  # the server goes away
    smtp["controller"] = None
    now = datetime.now(UTC)
    for attempt in range(1, 4):
        [result] = send_due(app, outbox, now)
        assert (result["status"], result["attempts"]) == (TEMPORARY_FAILURE, attempt)
        assert send_due(app, outbox, now) == []  # waits: not due before its next attempt
        now = datetime.fromisoformat(result["next_attempt_at"])
    assert mailbox.messages() == []

    back = Mailbox()
    controller = start_smtp(back, "127.0.0.1", port)
    try:
        [result] = send_due(app, outbox, now)
        assert (result["message_id"], result["status"], result["attempts"]) == (mid, DELIVERED, 4)
        assert send_due(app, outbox, now + timedelta(days=1)) == []
    finally:
        controller.stop()
    assert [m["subject"] for m in back.messages()] == ["Ihr Antrag VEC-2026-000042 ist eingegangen"]


def test_550_is_a_permanent_failure(app, smtp) -> None:
    mailbox = smtp["mailbox"]
    outbox = Outbox(ReadStore("notifications"))
    app.accept(case_envelopes("acc-2")[0])
    [result] = send_due(app, outbox, datetime.now(UTC))
    assert (result["status"], result["error"]) == (PERMANENT_FAILURE, "smtp 550")
    assert send_due(app, outbox, datetime.now(UTC) + timedelta(days=1)) == []
    assert mailbox.messages() == []
    outbox.catch_up(app)
    assert [r["status"] for r in outbox.for_case(result["case_id"])] == [PERMANENT_FAILURE]


def test_an_attempt_cut_off_mid_send_is_due_again_after_the_lease(app, smtp) -> None:
    outbox = Outbox(ReadStore("notifications"))
    app.accept(case_envelopes("acc-1")[0])
    outbox.catch_up(app)
    [mid] = outbox.due(datetime.now(UTC).isoformat())
    started = datetime.now(UTC)
    message = app.message(mid)
    message.start_sending(1, started)  # the sender dies here: no outcome is recorded
    app.save(message)
    outbox.catch_up(app)
    assert outbox.due((started + SENDING_LEASE - timedelta(seconds=1)).isoformat()) == []
    counts, oldest = outbox.pending()
    assert counts == {"sending": 1} and oldest is not None and oldest <= started.isoformat()
    [result] = send_due(app, outbox, started + SENDING_LEASE)
    assert (result["status"], result["attempts"]) == (DELIVERED, 2)
    outbox.catch_up(app)
    assert outbox.pending() == ({}, None)


def test_undelivered_messages_of_one_tenant_or_of_all(backend) -> None:
    """The KPIs' ``messages_undelivered``: one tenant's, or every tenant's for ``GET /api/v1/kpis``."""
    from services.notifications.projections import INSERT

    outbox = Outbox(ReadStore("notifications"))
    now = datetime(2026, 11, 25, tzinfo=UTC).isoformat()
    rows = [("03460009", "created"), ("03460009", DELIVERED), ("03460009", PERMANENT_FAILURE),
            ("03460006", TEMPORARY_FAILURE), ("03460006", PERMANENT_FAILURE)]
    with outbox.store.transaction() as cur:
        for tenant, status in rows:
            cur.execute(INSERT, (str(uuid4()), tenant, str(uuid4()), "case_submitted", "email", "acc", status, now, now, 1))
    assert outbox.undelivered("03460009") == {"pending": 1, "failed": 1}
    assert outbox.undelivered("03460006") == {"pending": 1, "failed": 1}
    assert outbox.undelivered(None) == {"pending": 2, "failed": 2}
