"""A RabbitMQ restart in the middle of a payment run loses nothing.

The machine's shared broker serves other test runs and must never be restarted, so this
module starts a RabbitMQ node of its own (tests/support.py ``private_rabbitmq``) and a whole
platform on it. Citizens pay a batch of cases while the broker goes down and comes back
(``rabbitmqctl stop_app``/``start_app``: every connection is cut, queues and messages that
were persisted survive). The payers retry what failed, as people do; the simulator retries its
webhooks. Afterwards every case is paid exactly once (one PaymentReceived, one ledger line per
charge) and every process of the platform is still running: the relays, the saga consumers
and the nameko services reconnected.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.payments.application import open_payments
from services.submissions.application import open_submissions
from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import client_for, eventually
from tests.e2e.payments.conftest import CLOPPENBURG, EXTRA, FEE, FORM, platform_app, proven_citizen
from tests.support import Platform, PrivateRabbit

CASES, WORKERS = 40, 8


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRabbit]:
    with support.private_rabbitmq(tmp_path_factory.mktemp("rabbit")) as node:
        yield node


@pytest.fixture(scope="module")
def restart_env(pg_env, broker: PrivateRabbit, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    extra = {**EXTRA, "PSP_SIMULATOR_WEBHOOK_RETRY_BASE": "1", "PSP_SIMULATOR_WEBHOOK_RETRY_MAX": "5"}
    with support.own_platform_env(pg_env, tmp_path_factory.mktemp("restart-var"), "", broker.amqp_uri, **extra) as env:
        yield env


@pytest.fixture(scope="module")
def restart_platform(restart_env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with support.platform(restart_env, tmp_path_factory.mktemp("restart-logs")) as plat:
        yield plat


FAILED_TRIES: list[str] = []


def persevering(call: Callable[[], httpx.Response], ok: tuple[int, ...] = (200, 201), timeout: float = 180) -> httpx.Response:
    """What a person does when the site fails for a moment: try again (same request, same key)."""
    def attempt() -> httpx.Response | None:
        try:
            response = call()
        except httpx.HTTPError as exc:
            FAILED_TRIES.append(type(exc).__name__)
            return None
        if response.status_code in ok:
            return response
        FAILED_TRIES.append(str(response.status_code))
        return None

    return eventually(attempt, timeout=timeout, interval=0.5)


def test_a_broker_restart_in_the_middle_of_a_payment_run_loses_nothing(broker, restart_env, restart_platform) -> None:
    with httpx.Client(base_url=restart_platform.base_url, timeout=30) as http:
        accounts = Accounts(restart_env, http)
        citizens = [client_for(restart_platform, proven_citizen(restart_platform, accounts)) for _ in range(2)]

    def submit(number: int) -> str:
        http, key = citizens[number % 2], uuid.uuid4().hex
        return persevering(lambda: http.post(f"/api/v1/tenants/{CLOPPENBURG}/cases", headers={"Idempotency-Key": key},
                                             json={"service_id": "fuehrungszeugnis", "form_data": FORM})).json()["case_id"]

    def pay_one(item: tuple[int, str]) -> None:
        number, case_id = item
        http = citizens[number % 2]
        view = persevering(lambda: http.post(f"/api/v1/cases/{case_id}/payment", json={})).json()
        if not view["paid"]:
            form = {"method": "wero", "outcome": "success"}
            persevering(lambda: httpx.post(view["payment"]["pay_url"], data=form, timeout=30), ok=(303, 409))
            persevering(lambda: http.get(f"/api/v1/cases/{case_id}/payment", params={"returned": "1"}))

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        cases = list(pool.map(submit, range(CASES)))
        first, second = list(enumerate(cases))[: CASES // 2], list(enumerate(cases))[CASES // 2:]
        list(pool.map(pay_one, first))  # their events are on their way through the broker now
        broker.stop_app()
        rest = [pool.submit(pay_one, item) for item in second]  # these payers are at it while it is down
        time.sleep(5)
        broker.start_app()
        for future in rest:
            future.result()
    assert FAILED_TRIES, "the broker went down while nobody used the platform: no request failed"

    eventually(lambda: all(_case_status(citizens, c) == "paid" for c in cases), timeout=180, interval=1.0)
    payments = platform_app(restart_env, open_payments)
    submissions = platform_app(restart_env, open_submissions)
    try:
        for case_id in cases:
            receivable = payments.receivable(case_id)
            paid = [p for p in payments.attempts(receivable) if p.status == "paid"]
            assert receivable.paid and len(paid) == 1 and paid[0].paid_cents == FEE, case_id
            received = [e for e in submissions.events.get(uuid.UUID(case_id)) if type(e).__name__ == "PaymentReceived"]
            assert len(received) == 1, (case_id, len(received))
    finally:
        payments.close()
        submissions.close()
    for name, proc in restart_platform.procs.items():  # every process outlived the restart
        assert proc.poll() is None, f"{name} exited: {restart_platform.tail(name)}"
    for http in citizens:
        http.close()


def _case_status(citizens: list[httpx.Client], case_id: str) -> Any:
    for http in citizens:
        response = http.get(f"/api/v1/cases/{case_id}")
        if response.status_code == 200:
            return response.json()["status"]
    return None
