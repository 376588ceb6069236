"""The Message's rules: its key, its delivery states, the bounded jittered retry delay, and
the templates (versions, languages, escaping)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from services.common.problems import DomainError
from services.notifications.domain import (
    DELIVERED,
    EMAIL,
    PERMANENT_FAILURE,
    RETRY_BASE,
    RETRY_CAP,
    SENDING,
    TEMPORARY_FAILURE,
    Message,
    message_id,
    retry_delay,
)
from services.notifications.rendering import CURRENT, render

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


@pytest.mark.parametrize("kind", sorted(CURRENT))
def test_every_kind_has_german_and_english_templates(kind: str) -> None:
    context = {"reference": "VEC-1", "tenant_name": "Stadt <Vechta>", "link": "https://x.example/cases/1?a=1&b=2"}
    german, english = render(kind, "de", context), render(kind, "en", context)
    assert german.version == english.version == CURRENT[kind]
    assert german.subject != english.subject and "VEC-1" in german.subject
    assert "Stadt <Vechta>" in german.text and "Stadt &lt;Vechta&gt;" in german.html
    assert "a=1&amp;b=2" in german.html and "<Vechta>" not in german.html
    assert render(kind, "fr", context).subject == german.subject  # unknown language: German
