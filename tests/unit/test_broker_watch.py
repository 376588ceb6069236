"""The broker watchdog of the nameko services: down while RabbitMQ cannot be reached, and the
process exits (for its supervisor to restart it) only once the broker is back."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.broker_watch import RESTART_CODE, BrokerWatch


class Connection:
    def __init__(self, checks_until_gone: int) -> None:
        self.left = checks_until_gone

    def drain_events(self, timeout: float) -> None:
        if self.left == 0:
            raise ConnectionError("CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
        self.left -= 1
        raise TimeoutError

    def heartbeat_tick(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_down_during_the_outage_and_exit_once_the_broker_is_back() -> None:
    # connected, two good checks, then the broker closes; three refused connects; then back
    opens: list[Any] = [Connection(2), OSError("refused"), OSError("refused"), OSError("refused"), Connection(9)]
    watch, seen, exits = BrokerWatch(), [], []

    def open_(uri: str) -> Connection:
        found = opens.pop(0)
        if isinstance(found, Exception):
            raise found
        return found

    watch.open = open_  # type: ignore[method-assign]
    watch.run("gateway", "amqp://unused", 1.0, exit=exits.append, sleep=lambda _: seen.append(watch.down))
    assert seen == [False, False, True, True, True, True]  # 503 at once while it was away
    assert exits == [RESTART_CODE] and not opens


def test_an_unreachable_address_cannot_be_opened() -> None:
    with pytest.raises(OSError):
        BrokerWatch.open("amqp://guest:guest@127.0.0.1:1/")
