"""The rules consumer on real RabbitMQ and PostgreSQL: one transaction per batch on the rules
store (what the rules did and the tracking record of the last event together), acked after
it; a redelivered batch does nothing again; a transient error in the middle of a batch keeps
what was handled before it, and the rest comes back and is handled once."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.amqp import BatchConsumer, ConfirmingPublisher, Delivery
from services.rules.application import RulesApp
from services.rules.consumer import QUEUE, RulesConsumer
from tests import support
from tests.integration.test_rules_app import DOG_GONE, DOG_RULE, submit, switched_on
from tests.support import AppCases, case_envelopes

pytestmark = pytest.mark.parametrize("store_env", ["postgres"], indirect=True)


class FlakyCases(AppCases):
    """The real submissions application; asking for one case's facts fails like a
    submissions outage (RPC timeout) while ``broken`` names it."""

    broken = ""

    def rule_facts(self, case_id: str) -> dict[str, Any]:
        if case_id == self.broken:
            raise TimeoutError("submissions did not answer")
        return super().rule_facts(case_id)


def take(count: int) -> tuple[BatchConsumer, list[Delivery]]:
    consumer, batch = BatchConsumer(QUEUE), []
    while len(batch) < count:
        batch += consumer.next_batch(max_size=50, wait=2.0)
    return consumer, batch


def publish(envelopes: list[dict[str, Any]]) -> None:
    publisher = ConfirmingPublisher()
    publisher.publish_batch(envelopes)
    publisher.close()


def counting_writes(rules: RulesApp) -> list[Any]:
    """Every insert_events call on the rules store, with its tracking record."""
    calls: list[Any] = []
    insert = rules.recorder.insert_events

    def counted(stored: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("tracking"))
        return insert(stored, **kwargs)

    rules.recorder.insert_events = counted  # type: ignore[method-assign]
    return calls


def test_one_transaction_per_batch_and_a_redelivered_batch_changes_nothing(store_env, submissions, resolve, clock, monkeypatch) -> None:
    monkeypatch.setenv("AMQP_URI", support.fresh_vhost("vr_rules_batch"))
    BatchConsumer(QUEUE).close()  # the queue exists before anything is published
    rules = RulesApp(store_env("rules"), clock=clock)
    switched_on(rules, DOG_RULE)
    ids = [submit(submissions, resolve, f"dog-{i}", "hundeabmeldung", DOG_GONE if i != 1 else {**DOG_GONE, "reason": "other"})
           for i in range(3)]
    envelopes = case_envelopes(submissions)
    publish(envelopes)
    cases = FlakyCases(submissions)
    writes = counting_writes(rules)

    consumer, batch = take(3)
    RulesConsumer(rules, cases).handle_batch(consumer, batch)
    consumer.close()
    assert [submissions.get_case(c).status.value for c in ids] == ["approved", "submitted", "approved"]
    assert len(writes) == 1 and writes[0].notification_id == envelopes[-1]["position"]  # one transaction
    versions = [submissions.get_case(c).version for c in ids]
    head = rules.recorder.max_notification_id()

    publish(envelopes)  # the whole batch once more (a redelivery after a lost ack)
    consumer, batch = take(3)
    RulesConsumer(rules, cases).handle_batch(consumer, batch)
    assert consumer.next_batch(max_size=50, wait=0.5) == []  # acked: nothing comes back
    consumer.close()
    assert [submissions.get_case(c).version for c in ids] == versions
    assert rules.recorder.max_notification_id() == head and len(writes) == 1  # nothing written again


def test_a_transient_error_keeps_what_was_handled_before_it(store_env, submissions, resolve, clock, monkeypatch) -> None:
    monkeypatch.setenv("AMQP_URI", support.fresh_vhost("vr_rules_batch"))
    BatchConsumer(QUEUE).close()
    rules = RulesApp(store_env("rules"), clock=clock)
    switched_on(rules, DOG_RULE)
    ids = [submit(submissions, resolve, f"dog-{i}", "hundeabmeldung", DOG_GONE) for i in range(3)]
    envelopes = case_envelopes(submissions)
    publish(envelopes)
    cases = FlakyCases(submissions)
    cases.broken = ids[1]
    writes = counting_writes(rules)

    consumer, batch = take(3)
    with pytest.raises(TimeoutError):
        RulesConsumer(rules, cases).handle_batch(consumer, batch)
    consumer.close()  # as the loop does: the unacked rest comes back
    assert [submissions.get_case(c).status.value for c in ids] == ["approved", "submitted", "submitted"]
    assert [w.notification_id for w in writes] == [envelopes[0]["position"]]  # the first one, recorded and acked

    cases.broken = ""
    consumer, batch = take(2)
    assert [d.body["event_id"] for d in batch] == [e["event_id"] for e in envelopes[1:]]
    RulesConsumer(rules, cases).handle_batch(consumer, batch)
    consumer.close()
    assert [submissions.get_case(c).status.value for c in ids] == ["approved"] * 3
    assert [w.notification_id for w in writes] == [envelopes[0]["position"], envelopes[-1]["position"]]
