"""1,000 payments with every chaos switch of the PSP simulator on — webhooks twice, late, out of
order, dropped, the status API answering 500s, successes arriving after a failure or a cancel,
refunds failing — through the real platform (gateway HTTP, the saga over RabbitMQ, the
payments service, the simulator over HTTP, its pay page by form POST).

What must hold afterwards (read from the stores, not from the answers the citizens saw):
every case the provider took money for is paid exactly once in our ledger per charge and
moved on (PaymentReceived) exactly once; no charge is lost; every late success is honoured —
recorded, and refunded automatically and flagged where the case no longer needed it.
The figures go to ``<tmp>/chaos-figures.json`` and are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest

from services.payments.application import open_payments
from services.submissions.application import open_submissions
from tests import support
from tests.e2e.conftest import client_for, eventually
from tests.e2e.payments.conftest import CLOPPENBURG, FEE, FORM, platform_app, proven_citizen

#: 200 in `make test` (CI time), the issue's 1,000 in `make chaos`.
PAYMENTS = int(os.environ.get("VR_CHAOS_PAYMENTS", "200"))
#: 1,000 payments at the pace of a loaded 2-core box (about 1 per second with every chaos
#: switch on, see make bench) take far longer than pytest.ini's 600 s.
BUDGET_S = 600 + PAYMENTS * 1.5
CITIZENS, WORKERS = 5, 24
CHAOS = {
    "duplicate_rate": 0.3, "delay": 0.5, "out_of_order_rate": 0.2, "out_of_order_delay": 3, "drop_rate": 0.15,
    "status_error_rate": 0.2, "late_success_rate": 0.3, "late_success_delay": 2, "refund_failure_rate": 0.1,
}
#: What the payers do, by case number: most pay at once; some fail or cancel first and pay a
#: second attempt (a late success of the first is then a second charge); some fail and withdraw.
PLANS = ("pay",) * 14 + ("failure",) * 3 + ("cancel",) * 2 + ("withdraw",)
METHODS = ("wero", "paypal", "card", "sepa_direct_debit")
BERLIN = ZoneInfo("Europe/Berlin")


class Payers:
    """The citizens' side: concurrent HTTP against the gateway and the simulator's pay page."""

    def __init__(self, running: support.Platform, citizens: list[httpx.Client]) -> None:
        self.running = running
        self.citizens = citizens
        self.page = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=WORKERS * 2))
        self.outcomes: Counter[str] = Counter()
        self.lock = threading.Lock()

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1

    def submit(self, number: int) -> tuple[int, str]:
        http = self.citizens[number % len(self.citizens)]
        response = http.post(f"/api/v1/tenants/{CLOPPENBURG}/cases", headers={"Idempotency-Key": uuid.uuid4().hex},
                             json={"service_id": "fuehrungszeugnis", "form_data": FORM})
        assert response.status_code == 201, response.text
        return number, response.json()["case_id"]

    def start(self, http: httpx.Client, case_id: str, attempt: int) -> dict[str, Any]:
        """The case's payment once attempt ``attempt`` is open (or the case was paid meanwhile)."""
        def ready() -> dict[str, Any] | None:
            response = http.post(f"/api/v1/cases/{case_id}/payment", json={})
            if response.status_code == 404:  # the receivable is on its way over the saga
                return None
            if response.status_code == 503:  # the provider did not answer: try again
                return None
            assert response.status_code == 200, response.text
            view = response.json()
            if view["paid"] or (view["payment"]["attempt"] >= attempt and view["payment"]["pay_url"]):
                return view
            http.get(f"/api/v1/cases/{case_id}/payment", params={"returned": "1"})  # our side still thinks it open
            return None

        return eventually(ready, timeout=300, interval=1.0)

    def pay(self, view: dict[str, Any], outcome: str, number: int) -> None:
        """The form POST of the pay page, then the payer is back (``returned=1``)."""
        if view["paid"]:  # a late success of the first attempt paid the case already
            self.count("paid_before_second_attempt")
            return
        done = self.page.post(view["payment"]["pay_url"], data={"method": METHODS[number % 4], "outcome": outcome})
        assert done.status_code == 303, done.text[:300]
        self.count(outcome)

    def run(self, number: int, case_id: str) -> None:
        http = self.citizens[number % len(self.citizens)]
        plan = PLANS[number % len(PLANS)]
        self.pay(self.start(http, case_id, 1), "success" if plan == "pay" else plan.replace("withdraw", "failure"), number)
        http.get(f"/api/v1/cases/{case_id}/payment", params={"returned": "1"})
        if plan == "withdraw":
            response = http.post(f"/api/v1/cases/{case_id}/actions/withdraw", json={"reason": "Doch nicht nötig"})
            assert response.status_code in (200, 409), response.text  # 409: ... unless a late success paid it first
            self.count("withdrawn" if response.status_code == 200 else "withdraw_refused")
        elif plan != "pay":
            self.pay(self.start(http, case_id, 2), "success", number)
            http.get(f"/api/v1/cases/{case_id}/payment", params={"returned": "1"})


def in_parallel(work: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(work, items))


def provider_truth(psp_admin: httpx.Client) -> tuple[dict[str, str], set[str]]:
    """From the provider's own records: the final status of each of our merchant's payments
    (by provider id) and the payments that succeeded after failing, being cancelled or expiring."""
    events = psp_admin.get("/admin/events", params={"merchant_id": CLOPPENBURG}).json()["events"]
    status: dict[str, str] = {}
    late: set[str] = set()
    for event in events:
        kind, pid = event["type"], event["payment_id"]
        if kind.startswith("payment."):
            if kind == "payment.succeeded" and status.get(pid) in ("failed", "cancelled", "expired"):
                late.add(pid)
            if status.get(pid) != "succeeded":  # money received stays received: the log is in
                status[pid] = kind.split(".", 1)[1]  # delivery order, which the chaos switches shuffle
    return status, late


def payment_states(platform_env: dict[str, str]) -> dict[str, str]:
    """Our state of every payment the provider knows, by provider id (the read model)."""
    schema = platform_env["VR_SCHEMA_PREFIX"] + "payments"
    with psycopg.connect(support.conninfo(platform_env["POSTGRES_DBNAME"])) as conn:
        rows = conn.execute(f'SELECT psp_payment_id, state FROM "{schema}".payments WHERE psp_payment_id IS NOT NULL').fetchall()
    return dict(rows)


def ledger_charges(platform_env: dict[str, str]) -> Counter[str]:
    """Payment lines of our ledger (the cash office's books), by provider payment id."""
    schema = platform_env["VR_SCHEMA_PREFIX"] + "payments"
    with psycopg.connect(support.conninfo(platform_env["POSTGRES_DBNAME"])) as conn:
        rows = conn.execute(f'SELECT psp_payment_id FROM "{schema}".ledger WHERE kind = %s AND tenant = %s',
                            ("payment", CLOPPENBURG)).fetchall()
    return Counter(row[0] for row in rows)


@pytest.mark.timeout(BUDGET_S)
def test_a_thousand_payments_with_every_chaos_switch_on(running, platform_env, accounts, psp_admin, tenant_admin,
                                                        tmp_path_factory) -> None:
    citizens = [client_for(running, proven_citizen(running, accounts)) for _ in range(CITIZENS)]
    for http in citizens:
        http.timeout = httpx.Timeout(60)
    payers = Payers(running, citizens)
    stats_before = psp_admin.get("/admin/stats").json()
    began = time.monotonic()
    assert psp_admin.put("/admin/chaos", json=CHAOS).status_code == 200
    try:
        cases = dict(in_parallel(payers.submit, list(range(PAYMENTS))))
        submitted = time.monotonic()
        in_parallel(lambda item: payers.run(*item), sorted(cases.items()))
        paid_by_payers = time.monotonic()
    finally:
        psp_admin.put("/admin/chaos", json={name: 0 for name in CHAOS if name.endswith("_rate")} | {"delay": 0})
    days = {datetime.now(BERLIN).date().isoformat()}

    payments_app = platform_app(platform_env, open_payments)
    submissions_app = platform_app(platform_env, open_submissions)

    waiting: dict[str, Any] = {}

    def settled() -> dict[str, Any] | None:
        """Once the platform agrees with the provider (webhooks flushed; the day reconciled, as
        the cash office does, which also fetches a late success whose webhook was dropped)."""
        psp_admin.post("/admin/webhooks/flush", json={})
        for day in days:
            report = tenant_admin.get(f"/api/v1/tenants/{CLOPPENBURG}/payments/reconciliation", params={"day": day})
            assert report.status_code in (200, 503), report.text
        status, late = provider_truth(psp_admin)
        ours = {}
        for case_id in cases.values():
            receivable = payments_app.receivable(case_id)
            ours[case_id] = (receivable, payments_app.attempts(receivable))
        by_psp = {p.psp_payment_id: p for _, attempts in ours.values() for p in attempts if p.psp_payment_id}
        succeeded = {pid for pid, s in status.items() if s == "succeeded"}
        states = payment_states(platform_env)  # every payment of the platform (other modules' too)
        unsettled = [pid for pid in succeeded if states.get(pid) != "paid"]
        refunds_open = [str(p.id) for p in by_psp.values() if any(r["status"] == "requested" for r in p.refunds.values())]
        if unsettled or refunds_open:
            waiting.update(unsettled=unsettled[:5], refunds_open=refunds_open[:5], counts=(len(unsettled), len(refunds_open)))
            return None
        return {"status": status, "late": late, "ours": ours, "by_psp": by_psp, "succeeded": succeeded}

    print(f"\nsubmitted {len(cases)} cases in {submitted - began:.1f}s, paid in {paid_by_payers - submitted:.1f}s")
    try:
        truth = eventually(settled, timeout=240 + PAYMENTS * 0.3, interval=2.0)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: still waiting for {waiting}") from None
    settled_at = time.monotonic()

    ledger = ledger_charges(platform_env)
    results: Counter[str] = Counter()
    for number, case_id in cases.items():
        receivable, attempts = truth["ours"][case_id]
        charged = [p for p in attempts if p.psp_payment_id in truth["succeeded"]]
        received = [e for e in submissions_app.events.get(uuid.UUID(case_id)) if type(e).__name__ == "PaymentReceived"]
        settling = [p for p in attempts if p.status == "paid" and p.settles_case]
        for payment in charged:  # no charge lost: each in the ledger once, paid on our side
            assert ledger[payment.psp_payment_id] == 1, (case_id, payment.psp_payment_id)
            assert payment.status == "paid" and payment.paid_cents == FEE, (case_id, str(payment.id))
        if receivable.closed == "withdrawn":  # withdrawn before or after a (late) success: all given back
            assert len(received) <= 1 and all(p.refunds for p in charged), case_id
            results["withdrawn"] += 1
            results["withdrawn_charges_refunded"] += len(charged)
        else:  # every other payer paid in the end: moved on exactly once, by exactly one charge
            assert PLANS[number % len(PLANS)] != "withdraw" or receivable.paid, case_id
            assert receivable.paid and len(received) == 1 and received[0].amount_cents == FEE, (case_id, len(received))
            assert [str(p.id) for p in settling] == [receivable.paid_payment_id], case_id
            results["paid_exactly_once"] += 1
        for payment in charged:
            if not payment.settles_case and receivable.closed != "withdrawn":
                refunds = list(payment.refunds.values())
                assert refunds and refunds[0]["automatic"] and refunds[0]["flagged"], (case_id, str(payment.id))
                results["second_charge_refunded_and_flagged"] += 1
        for payment in attempts:
            if payment.psp_payment_id in truth["late"]:  # honoured: recorded as paid whatever we had thought
                assert payment.status == "paid", (case_id, str(payment.id))
                results["late_success_honoured"] += 1
                results["late_success_refunded"] += bool(payment.refunds)
        results["charges"] += len(charged)
        results["refunds_failed_at_provider"] += sum(r["status"] == "failed" for p in attempts for r in p.refunds.values())
        results["refunded"] += sum(r["status"] == "refunded" for p in attempts for r in p.refunds.values())
    assert sum(ledger.values()) == len(truth["succeeded"]), "a charge without its ledger line, or one counted twice"
    assert results["late_success_honoured"] == len(truth["late"])

    stats = psp_admin.get("/admin/stats").json()
    injected = {kind: n - stats_before["chaos_injected"].get(kind, 0) for kind, n in stats["chaos_injected"].items()}
    figures = {
        "payments": PAYMENTS, "cases": len(cases), "citizens": CITIZENS, "workers": WORKERS, "chaos": CHAOS,
        "chaos_injected": injected, "payer_outcomes": dict(payers.outcomes), "results": dict(results),
        "provider_payments_by_status": dict(Counter(truth["status"].values())),
        "late_successes": len(truth["late"]), "ledger_payment_lines": sum(ledger.values()),
        "webhook_deliveries": stats["deliveries"], "delivery_attempts": stats["delivery_attempts"],
        "seconds": {"submit": round(submitted - began, 1), "pay": round(paid_by_payers - submitted, 1),
                    "settle": round(settled_at - paid_by_payers, 1), "total": round(settled_at - began, 1)},
    }
    out = Path(tmp_path_factory.getbasetemp()) / "chaos-figures.json"
    out.write_text(json.dumps(figures, indent=2))
    print("\nchaos figures:", json.dumps(figures, indent=2), f"\n(written to {out})")
    payments_app.close()
    submissions_app.close()
    for http in citizens:
        http.close()
