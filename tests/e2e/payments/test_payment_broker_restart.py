"""A RabbitMQ outage in the middle of a payment run loses nothing.

A platform of its own on a RabbitMQ node of its own (tests.support.PrivateRabbit: the shared
broker serves other runs and is never restarted). Cases are paid before, during and after the
broker is stopped for longer than the ~12 s after which nameko's RPC proxy used to hang for
good. While it is away, every API call that needs the services answers 503 problem+json with
Retry-After at once (never a 500, never a hang); once it is back, the nameko services restart
themselves (services.common.broker_watch) and the plain processes reconnect, and afterwards
every paid case is paid exactly once in the ledger and moved on (PaymentReceived) exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from services.submissions.application import open_submissions
from tests import support
from tests.e2e.accounts import Accounts
from tests.e2e.conftest import client_for, eventually
from tests.e2e.payments.conftest import CLOPPENBURG, EXTRA, FEE, new_case, platform_app

CASES = 30  # a third paid before the outage, a third on the pay page during it, a third after
OUTAGE_S = 16  # longer than the ~12 s after which the RPC proxy used to hang
REQUEST_TIMEOUT_S = 15  # GATEWAY_REQUEST_TIMEOUT of this platform: the longest a call may wait


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.PrivateRabbit]:
    with support.private_rabbitmq(tmp_path_factory.mktemp("rabbit")) as node:
        yield node


@pytest.fixture(scope="module")
def own_env(pg_env: dict[str, str], broker: support.PrivateRabbit,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with support.own_platform_env(pg_env, tmp_path_factory.mktemp("restart-var"), "unused", amqp_uri=broker.amqp_uri,
                                  GATEWAY_REQUEST_TIMEOUT=str(REQUEST_TIMEOUT_S), **EXTRA) as env:
        yield env


@pytest.fixture(scope="module")
def own_platform(own_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
    with support.platform(own_env, tmp_path_factory.mktemp("restart-logs")) as plat:
        yield plat


class Prober:
    """Calls the API over and over while the broker is away: every answer and how long it took."""

    def __init__(self, http: httpx.Client, case_id: str) -> None:
        self.http, self.case_id = http, case_id
        self.answers: list[tuple[int, float, str | None, str]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        calls = [("GET", f"/api/v1/cases/{self.case_id}"), ("POST", f"/api/v1/cases/{self.case_id}/payment"),
                 ("GET", f"/api/v1/tenants/{CLOPPENBURG}")]
        i = 0
        while not self.stop.is_set():
            method, path = calls[i % len(calls)]
            began = time.monotonic()
            try:
                response = self.http.request(method, path, json={} if method == "POST" else None, timeout=30)
                code = (response.headers.get("content-type", "") + " " + response.text)[:200]
                self.answers.append((response.status_code, time.monotonic() - began,
                                     response.headers.get("Retry-After"), code))
            except httpx.HTTPError as exc:
                self.answers.append((0, time.monotonic() - began, None, repr(exc)))
            i += 1
            time.sleep(0.3)


def start(payer: httpx.Client, case_id: str) -> dict[str, Any]:
    """The case's open payment: the receivable arrives over the saga (404 until then), and a
    call that outlasts GATEWAY_REQUEST_TIMEOUT on a loaded machine is a 503 to try again."""
    def attempt() -> dict[str, Any] | None:
        try:
            response = payer.post(f"/api/v1/cases/{case_id}/payment", json={})
        except httpx.TransportError:  # the gateway restarting after the outage
            return None
        assert response.status_code in (200, 404, 503), response.text
        return response.json() if response.status_code == 200 else None

    return eventually(attempt, timeout=90, interval=0.3)


def answers_ok(http: httpx.Client, path: str) -> bool:
    """200 — the gateway's port is closed for a moment while it restarts."""
    try:
        return http.get(path).status_code == 200
    except httpx.TransportError:
        return False


def ledger_lines(env: dict[str, str]) -> Counter[str]:
    schema = env["VR_SCHEMA_PREFIX"] + "payments"
    with psycopg.connect(support.conninfo(env["POSTGRES_DBNAME"])) as conn:
        rows = conn.execute(f'SELECT psp_payment_id FROM "{schema}".ledger WHERE kind = %s', ("payment",)).fetchall()
    return Counter(row[0] for row in rows)


def paid_on_page(view: dict[str, Any]) -> None:
    """The payer completes the simulator's pay page (the simulator is not behind the broker)."""
    done = httpx.post(view["payment"]["pay_url"], data={"method": "wero", "outcome": "success"}, timeout=30)
    assert done.status_code == 303, done.text[:300]


def test_a_broker_outage_mid_run_loses_no_payment(own_platform: support.Platform, own_env: dict[str, str],
                                                  broker: support.PrivateRabbit) -> None:
    with httpx.Client(base_url=own_platform.base_url, timeout=30) as anonymous:
        accounts = Accounts(own_env, anonymous)
        payer = client_for(own_platform, accounts.proven_citizen())
    with payer, ThreadPoolExecutor(max_workers=8) as pool:
        cases = list(pool.map(lambda _: new_case(payer), range(CASES)))
        views = dict(zip(cases, pool.map(lambda c: start(payer, c), cases), strict=True))
        before, during, after = cases[: CASES // 3], cases[CASES // 3: 2 * CASES // 3], cases[2 * CASES // 3:]
        list(pool.map(lambda c: paid_on_page(views[c]), before))

        prober = Prober(payer, before[0])
        broker.stop_app()
        stopped = time.monotonic()
        watcher = threading.Thread(target=prober.run, daemon=True)
        watcher.start()
        list(pool.map(lambda c: paid_on_page(views[c]), during))  # webhooks answered 503: the provider retries
        time.sleep(max(OUTAGE_S - (time.monotonic() - stopped), 0))
        prober.stop.set()
        watcher.join(timeout=60)
        broker.start_app()

        answers = prober.answers
        assert answers, "no call was made during the outage"
        assert all(status == 503 for status, *_ in answers), [a for a in answers if a[0] != 503][:5]
        assert all(took < REQUEST_TIMEOUT_S + 3 for _, took, *_ in answers), max(t for _, t, *_ in answers)
        assert all(retry and "problem+json" in body and "service_unavailable" in body for _, _, retry, body in answers)
        quick = sum(took < 1 for _, took, *_ in answers)
        assert quick >= len(answers) - 3, f"only {quick} of {len(answers)} answered at once"

        # after the outage: the API works again without anyone restarting anything by hand
        eventually(lambda: answers_ok(payer, f"/api/v1/cases/{before[0]}"), timeout=60, interval=0.5)
        list(pool.map(lambda c: paid_on_page(start(payer, c)), after))

    psp_admin = httpx.Client(base_url=own_platform.psp_url, timeout=30,
                             headers={"Authorization": f"Bearer {own_platform.psp_admin_token}"})
    submissions_app = platform_app(own_env, open_submissions)

    def received(case_id: str) -> int:
        return sum(type(e).__name__ == "PaymentReceived" for e in submissions_app.events.get(uuid.UUID(case_id)))

    def all_paid() -> bool:
        psp_admin.post("/admin/webhooks/flush", json={})  # the provider's retries after the 503s, now
        return all(received(c) for c in cases)

    try:
        eventually(all_paid, timeout=60, interval=1.0)
        time.sleep(2)  # anything delivered twice would have landed by now
        ledger = ledger_lines(own_env)
        assert len(ledger) == CASES and set(ledger.values()) == {1}, ledger
        assert [received(c) for c in cases] == [1] * CASES
        with psycopg.connect(support.conninfo(own_env["POSTGRES_DBNAME"])) as conn:
            schema = own_env["VR_SCHEMA_PREFIX"] + "payments"
            amounts = conn.execute(f'SELECT SUM(amount_cents) FROM "{schema}".ledger WHERE kind = %s',
                                   ("payment",)).fetchone()
        assert amounts == (FEE * CASES,)
        restarted = {name for name, n in own_platform.restarts.items() if n}
        assert set(support.Platform.NAMEKO) <= restarted, own_platform.restarts  # each came back by itself
    finally:
        submissions_app.close()
        psp_admin.close()
