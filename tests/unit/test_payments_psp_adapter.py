"""The provider adapter over a real socket: a connection the provider closes without an
answer (the keep-alive race: it closed an idle pooled connection just as we sent) is tried
once more on a fresh one; twice in a row is the provider being unavailable."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from services.payments.merchants import development_merchant
from services.payments.psp import ProviderUnavailable
from services.payments.psp.http import HttpProvider

PAYMENT = {"id": "pay_1", "status": "open", "amount": 1300, "merchant_reference": "ref", "pay_url": "http://psp/pay/x"}


def serve(hang_ups: int) -> Iterator[tuple[str, list[int]]]:
    """An HTTP server that hangs up on the first ``hang_ups`` connections, then answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[int] = []

    def run() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                seen.append(1)
                if len(seen) <= hang_ups:
                    continue
                body = json.dumps(PAYMENT).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", seen
    finally:
        listener.close()


@pytest.fixture
def merchant():
    return development_merchant("03453004", b"test-deployment-secret-of-32-bytes!!")


def test_a_connection_closed_without_an_answer_is_tried_once_more(merchant) -> None:
    for url, seen in serve(hang_ups=1):
        provider = HttpProvider(url, timeout=5)
        assert provider.payment(merchant, "pay_1").psp_payment_id == "pay_1"
        assert len(seen) == 2
        provider.close()


def test_twice_without_an_answer_is_the_provider_unavailable(merchant) -> None:
    for url, seen in serve(hang_ups=2):
        provider = HttpProvider(url, timeout=5)
        with pytest.raises(ProviderUnavailable):
            provider.payment(merchant, "pay_1")
        assert len(seen) == 2
        provider.close()
