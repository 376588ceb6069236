"""Payment throughput of ``make bench``: payments completed end to end per second — a case
submitted with a fee (Führungszeugnis, 13 EUR) → its payment started over the gateway (the
receivable comes over the saga) → paid on the PSP simulator's pay page (a form POST) → the
case ``paid`` in the clerk's worklist (payment.succeeded over RabbitMQ, PaymentReceived).

The raw limit measured in the same run is the provider alone: the same number of payments
created over the simulator's API and paid on its page, with the same concurrency and no
platform in between. The ratio says how much of the provider's pace the platform keeps.
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg

from bench.common import BenchPlatform, latency_summary
from services.common.config import Settings
from services.common.secrets import secret_from
from services.payments.merchants import development_merchant

TENANT = "03453004"  # Cloppenburg offers the Führungszeugnis online
FORM = {
    "first_name": "Erika", "last_name": "Muster", "birth_date": "1980-04-12", "birth_place": "Cloppenburg",
    "nationality": "deutsch", "street": "Lange Straße", "house_number": "12", "postal_code": "49661",
    "city": "Cloppenburg", "email": "erika@example.org", "certificate_type": "simple", "recipient": "private",
    "purpose": "Arbeitgeber", "fee_exemption_requested": False,
}


def _paid(conninfo: str, schema: str, case_ids: list[str]) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(f'SELECT count(*) FROM "{schema}".worklist WHERE status = %s AND case_id = ANY(%s)',
                           ("paid", case_ids)).fetchone()
    return int(row[0]) if row else 0


def _started(http: httpx.Client, case_id: str, deadline: float) -> dict[str, Any]:
    """Start paying; 404 while the receivable is on its way over the saga, 503 if the provider
    did not answer this once (the payer tries again)."""
    while True:
        response = http.post(f"/api/v1/cases/{case_id}/payment", json={})
        if response.status_code == 200:
            return response.json()
        if response.status_code not in (404, 503) or time.monotonic() > deadline:
            raise RuntimeError(f"start_payment {response.status_code}: {response.text[:300]}")
        time.sleep(0.1)


def platform_payments(plat: BenchPlatform, conninfo: str, schema: str, headers: dict[str, str], n: int,
                      concurrency: int, settle_timeout: float = 300.0) -> dict[str, Any]:
    """``n`` payments through the whole platform; per second until every case is ``paid``."""
    latencies: list[float] = []
    lock = threading.Lock()
    page = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=concurrency * 2))

    def one(_: int) -> str:
        with httpx.Client(base_url=plat.base_url, timeout=120, headers=headers) as http:
            began = time.monotonic()
            response = http.post(f"/api/v1/tenants/{TENANT}/cases", headers={"Idempotency-Key": uuid.uuid4().hex},
                                 json={"service_id": "fuehrungszeugnis", "form_data": FORM})
            if response.status_code != 201:
                raise RuntimeError(f"submit {response.status_code}: {response.text[:300]}")
            case_id = response.json()["case_id"]
            view = _started(http, case_id, began + 120)
            done = page.post(view["payment"]["pay_url"], data={"method": "wero", "outcome": "success"})
            if done.status_code != 303:
                raise RuntimeError(f"pay page {done.status_code}")
            with lock:
                latencies.append(time.monotonic() - began)
            return case_id

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        cases = list(pool.map(one, range(n)))
    paid_on_page = time.monotonic()
    deadline = paid_on_page + settle_timeout
    while (paid := _paid(conninfo, schema, cases)) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    ended = time.monotonic()
    page.close()
    return {
        "n": n, "concurrency": concurrency, "paid_cases": paid,
        "payments_per_s": round(paid / (ended - began), 2) if paid else None,
        "until_paid_on_page_s": round(paid_on_page - began, 2), "until_all_cases_paid_s": round(ended - began, 2),
        "submit_to_paid_on_page": latency_summary(latencies),
    }


def provider_payments(plat: BenchPlatform, n: int, concurrency: int) -> dict[str, Any]:
    """The raw limit: ``n`` payments created and paid at the simulator directly."""
    merchant = development_merchant(TENANT, secret_from(Settings.from_env(plat.env)))
    api = httpx.Client(base_url=plat.psp_url, timeout=120, headers={"Authorization": f"Bearer {merchant.api_key}"},
                       limits=httpx.Limits(max_connections=concurrency * 2))

    def one(i: int) -> None:
        created = api.post("/v1/payments", headers={"Idempotency-Key": uuid.uuid4().hex}, json={
            "amount": 1300, "currency": "EUR", "purpose": f"KZ BENCH {i}", "merchant_reference": f"bench-{i}",
            "return_url": f"{plat.base_url}/", "expires_in": 3600,
        })
        if created.status_code != 201:
            raise RuntimeError(f"create {created.status_code}: {created.text[:300]}")
        done = api.post(created.json()["pay_url"], data={"method": "wero", "outcome": "success"}, headers={"Authorization": ""})
        if done.status_code != 303:
            raise RuntimeError(f"pay page {done.status_code}")

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(n)))
    seconds = time.monotonic() - began
    api.close()
    return {"n": n, "concurrency": concurrency, "payments_per_s": round(n / seconds, 2), "seconds": round(seconds, 2)}


def payment_run(plat: BenchPlatform, conninfo: str, schema: str, headers: dict[str, str], n: int,
                concurrency: int) -> dict[str, Any]:
    run = platform_payments(plat, conninfo, schema, headers, n, concurrency)
    raw = provider_payments(plat, n, concurrency)  # after: its webhooks reach the platform as unknown payments
    run["raw_provider"] = raw
    run["ratio_vs_raw_provider"] = round(run["payments_per_s"] / raw["payments_per_s"], 3) if run["payments_per_s"] else None
    return run
