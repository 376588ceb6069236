"""One platform for the payment e2e modules (each extra whole platform costs PostgreSQL
connections and minutes): the gateway, the case saga over RabbitMQ (payments.saga,
submissions.payments), the payments service and its relay, and the PSP simulator reached
over HTTP — its pay page completed as a browser would (a form POST), its webhooks signed and
delivered to the gateway. A 1-minute expiry and a worker round every second, so that an
unpaid payment expires while a test waits. Helpers for paying a case live here too."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

from tests import support
from tests.e2e.accounts import Account, Accounts
from tests.e2e.conftest import client_for, eventually
from tests.support import Platform

CLOPPENBURG = "03453004"
FEE = 1300
FORM = {
    "first_name": "Erika", "last_name": "Muster", "birth_date": "1980-04-12", "birth_place": "Cloppenburg",
    "nationality": "deutsch", "street": "Lange Straße", "house_number": "12", "postal_code": "49661",
    "city": "Cloppenburg", "email": "erika@example.org", "certificate_type": "simple", "recipient": "private",
    "purpose": "Arbeitgeber", "fee_exemption_requested": False,
}
#: A 1-minute expiry, a worker round a second; tokens that outlast the 1,000-payment run.
#: NOTIFICATIONS_RATE_LIMIT: the package's modules pay and decide many cases of the same few
#: citizens on one platform; the per-recipient limit (20 mails an hour, proven in
#: tests/integration/test_notification_kinds.py) held a later module's decision mail back for the hour.
EXTRA = {"PAYMENTS_EXPIRY_MINUTES": "1", "PAYMENTS_WORKER_INTERVAL": "1", "IDENTITY_ACCESS_TOKEN_TTL": "7200",
         "NOTIFICATIONS_RATE_LIMIT": "100000"}


@pytest.fixture(scope="package")
def platform_env(pg_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    with support.own_platform_env(pg_env, tmp_path_factory.mktemp("pay-var"), "vr_pay", **EXTRA) as env:
        yield env


@pytest.fixture(scope="package")
def running(platform_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with support.platform(platform_env, tmp_path_factory.mktemp("pay-logs")) as plat:
        yield plat


@pytest.fixture(scope="package")
def accounts(running: Platform, platform_env: dict[str, str]) -> Iterator[Accounts]:
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        yield Accounts(platform_env, http)


def proven_citizen(running: Platform, accounts: Accounts) -> Account:
    """A citizen proven by the (simulated) online ID: the Führungszeugnis needs level high."""
    return accounts.proven_citizen()


@pytest.fixture(scope="package")
def payer(running: Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(running, proven_citizen(running, accounts)) as http:
        yield http


@pytest.fixture(scope="package")
def clerk(running: Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(running, accounts.staff([(CLOPPENBURG, "clerk", ["*"])])) as http:
        yield http


@pytest.fixture(scope="package")
def tenant_admin(running: Platform, accounts: Accounts) -> Iterator[httpx.Client]:
    with client_for(running, accounts.staff([(CLOPPENBURG, "tenant_admin", ["*"])], kind="tenant_admin")) as http:
        yield http


@pytest.fixture(scope="package")
def psp_admin(running: Platform) -> Iterator[httpx.Client]:
    """The simulator's admin API (chaos switches, stats, settlement adjustments)."""
    with httpx.Client(base_url=running.psp_url, timeout=30,
                      headers={"Authorization": f"Bearer {running.psp_admin_token}"}) as http:
        yield http


def new_case(payer: httpx.Client) -> str:
    response = payer.post(f"/api/v1/tenants/{CLOPPENBURG}/cases", json={"service_id": "fuehrungszeugnis", "form_data": FORM},
                          headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 201, response.text
    case = response.json()
    assert (case["tenant"], case["fee_cents"], case["status"]) == (CLOPPENBURG, FEE, "payment_pending")
    return case["case_id"]


def start(payer: httpx.Client, case_id: str, timeout: float = 30) -> dict[str, Any]:
    """Start paying; the receivable arrives over the saga, so the first tries may find none yet."""
    def attempt() -> dict[str, Any] | None:
        response = payer.post(f"/api/v1/cases/{case_id}/payment", json={})
        assert response.status_code in (200, 404), response.text
        return response.json() if response.status_code == 200 else None

    return eventually(attempt, timeout=timeout, interval=0.3)


def pay(pay_url: str, outcome: str, method: str = "wero", show: bool = True) -> httpx.Response:
    """The payer on the simulator's page: the page, then the form POST a browser sends."""
    if show:
        page = httpx.get(pay_url, timeout=10)
        assert page.status_code == 200 and "13,00" in page.text, page.text[:500]
    return httpx.post(pay_url, data={"method": method, "outcome": outcome}, timeout=30, follow_redirects=False)


def returned(payer: httpx.Client, case_id: str) -> dict[str, Any]:
    response = payer.get(f"/api/v1/cases/{case_id}/payment", params={"returned": "1"})
    assert response.status_code == 200, response.text
    return response.json()


def case_of(http: httpx.Client, case_id: str) -> dict[str, Any]:
    response = http.get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 200, response.text
    return response.json()


def platform_app(platform_env: dict[str, str], opener: Any) -> Any:
    """An application of the platform opened in this process on the platform's own store
    (to read event streams as they are stored; the test writes nothing through it)."""
    keys = ("POSTGRES", "VR_", "PAYMENTS_")
    with mock.patch.dict(os.environ, {k: v for k, v in platform_env.items() if k.startswith(keys)}):
        return opener()


def log_dir(running: Platform) -> Path:
    return running.log_dir
