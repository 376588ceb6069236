"""The Message's rules: its key, its delivery states, the bounded jittered retry delay, and
the templates (versions, languages, escaping)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.common.problems import DomainError
from services.notifications.application import tenant_context
from services.notifications.domain import (
    DEFERRED,
    DELIVERED,
    EMAIL,
    PERMANENT_FAILURE,
    RETRY_BASE,
    RETRY_CAP,
    SENDING,
    TEMPORARY_FAILURE,
    Message,
    message_id,
    redacted,
    retry_delay,
)
from services.notifications.kinds import ACCOUNT_KINDS
from services.notifications.limits import RecipientLimit
from services.notifications.rendering import CURRENT, euro, render

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def message() -> Message:
    return Message(
        source_event_id="ev-1", channel=EMAIL, recipient="acc-1", tenant="03460009", kind="case_submitted",
        language="de", case_id="case-1", reference="VEC-1", actor="notifications", correlation_id="c",
    )


def test_a_message_is_keyed_by_source_event_channel_and_recipient() -> None:
    assert message().id == message_id("ev-1", EMAIL, "acc-1") == message().id
    assert len({message_id("ev-1", EMAIL, "acc-1"), message_id("ev-2", EMAIL, "acc-1"),
                message_id("ev-1", "postbox", "acc-1"), message_id("ev-1", EMAIL, "acc-2")}) == 4


def test_delivery_states() -> None:
    msg = message()
    msg.start_sending(1, NOW)
    assert (msg.status, msg.attempts, msg.template_version) == (SENDING, 1, 1)
    msg.failed_temporarily("smtp 451", NOW, random.Random(1))
    assert msg.status == TEMPORARY_FAILURE and msg.next_attempt_at > NOW.isoformat()
    msg.start_sending(1, NOW)
    msg.delivered(NOW)
    assert (msg.status, msg.attempts, msg.next_attempt_at) == (DELIVERED, 2, None)
    with pytest.raises(DomainError) as refused:
        msg.start_sending(1, NOW)
    assert refused.value.code == "transition_not_allowed"
    failed = message()
    failed.failed_permanently("smtp 550")
    assert failed.status == PERMANENT_FAILURE
    with pytest.raises(DomainError):
        failed.delivered(NOW)


def test_retry_delay_grows_exponentially_with_jitter_and_is_bounded() -> None:
    rng = random.Random(7)
    delays = [retry_delay(n, rng) for n in range(1, 30)]
    assert all(RETRY_BASE * 2 ** (n - 1) / 2 <= d <= RETRY_BASE * 2 ** (n - 1) for n, d in enumerate(delays[:5], 1))
    assert max(delays) <= RETRY_CAP and min(delays[10:]) >= RETRY_CAP / 2
    assert len(set(delays)) == len(delays)  # jitter: no two retries of a burst line up


TENANT = tenant_context({
    "name": "Stadt <Vechta>", "email": "buergerbuero@vechta.example", "phone": "+49 4441 0000-0",
    "address": "Rathaus, Burgstraße 6", "opening_hours": "Mo–Fr 8:00–12:30 Uhr",
})


@pytest.mark.parametrize("kind", sorted(CURRENT))
def test_every_kind_has_german_and_english_templates(kind: str) -> None:
    link = "https://x.example/cases/1?a=1&b=2"
    context = {
        "reference": "VEC-1", "tenant": TENANT, "link": link, "case_link": link, "postbox_link": link,
        "amount": 1250, "kassenzeichen": "K-1",
    }
    german, english = render(kind, "de", context), render(kind, "en", context)
    assert german.version == english.version == CURRENT[kind]
    assert german.subject != english.subject
    assert "<Vechta>" not in german.html
    assert ("a=1&amp;b=2" in german.html) == ("a=1&b=2" in german.text)  # links escaped in HTML
    assert render(kind, "fr", context).subject == german.subject  # unknown language: German
    if kind in ACCOUNT_KINDS:
        return
    assert "VEC-1" in german.subject and "VEC-1" in english.subject
    for rendered, hours in ((german, "Öffnungszeiten"), (english, "Opening hours")):  # the authority's details
        assert "Stadt <Vechta>" in rendered.text and "Stadt &lt;Vechta&gt;" in rendered.html
        assert all(TENANT[f] in rendered.text for f in ("email", "phone", "address", "opening_hours"))
        assert hours in rendered.text
    if kind.startswith("payment_") and kind != "payment_failed":
        assert "12,50 €" in german.text and "EUR 12.50" in english.text


def test_euro() -> None:
    assert (euro(5, "de"), euro(123456, "en"), euro(None)) == ("0,05 €", "EUR 1234.56", "")


def test_deferral_and_erasure() -> None:
    m = message()
    m.defer(NOW, "rate limit")
    assert (m.status, m.attempts, m.next_attempt_at) == (DEFERRED, 0, NOW.isoformat())
    m.start_sending(1, NOW)
    m.erase()
    assert (m.erased, m.recipient, m.reference, m.status) == (True, "", "", PERMANENT_FAILURE)
    created = m.collect_events()[0]
    assert redacted(created).recipient == "" and redacted(redacted(created)) is None


def test_the_rate_limit_counts_per_recipient_and_window() -> None:
    earlier = [(NOW - timedelta(minutes=50)).isoformat()]
    limit = RecipientLimit(3, timedelta(hours=1), lambda recipient, since: earlier if recipient == "a" else [])
    assert [limit.check("a", NOW), limit.check("a", NOW)] == [None, None]
    assert limit.check("a", NOW) == NOW + timedelta(minutes=10)  # when the oldest leaves the window
    assert limit.check("b", NOW) is None
    assert limit.check("a", NOW + timedelta(minutes=11)) is None
