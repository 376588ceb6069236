"""The broker watchdog of the nameko services: down while RabbitMQ cannot be reached, and the
process exits (for its supervisor to restart it) only once the broker is back."""

from __future__ import annotations

from services.common.broker_watch import RESTART_CODE, BrokerWatch


def test_down_during_the_outage_and_exit_once_the_broker_is_back() -> None:
    probes = iter([True, True, False, False, False, True, True])
    watch, seen, exits = BrokerWatch(), [], []
    watch.probe = lambda uri: next(probes)  # type: ignore[method-assign]

    def sleep(_: float) -> None:
        seen.append(watch.down)

    watch.run("gateway", "amqp://unused", 1.0, exit=exits.append, sleep=sleep)
    assert seen == [False, False, True, True, True]  # 503 at once while it was away
    assert exits == [RESTART_CODE]


def test_an_unreachable_address_is_down() -> None:
    assert BrokerWatch().probe("amqp://guest:guest@127.0.0.1:1/") is False
