"""Reconciliation end to end: cases paid on the simulator's page, the provider's settlement
report of the day falsified through its admin levers (an amount changed, a payment left out,
a payment that is not ours), then the tenant admin reconciles the day over the API: every
mismatch is an event of the day's reconciliation, a metric, a line in the tenant's report
and in the cash office's CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from services.common.config import Settings
from services.common.secrets import secret_from
from services.payments.application import open_payments
from services.payments.domain import Reconciliation
from services.payments.merchants import development_merchant
from tests.e2e.conftest import eventually
from tests.e2e.payments.conftest import CLOPPENBURG, FEE, case_of, new_case, pay, platform_app, returned, start


def test_an_injected_mismatch_becomes_an_event_a_metric_and_lines_in_report_and_export(
        running, platform_env, payer, tenant_admin, psp_admin) -> None:
    merchant = development_merchant(CLOPPENBURG, secret_from(Settings.from_env(platform_env)))
    cases = [new_case(payer) for _ in range(3)]
    provider_ids = {}
    for case_id in cases:
        started = start(payer, case_id)
        assert pay(started["payment"]["pay_url"], "success", method="card").status_code == 303
        assert returned(payer, case_id)["paid"]
        found = httpx.get(f"{running.psp_url}/v1/payments", params={"merchant_reference": started["payment"]["payment_id"]},
                          headers={"Authorization": f"Bearer {merchant.api_key}"}, timeout=10).json()
        provider_ids[case_id] = found["payments"][0]["id"]
    assert all(eventually(lambda c=c: case_of(payer, c)["status"] == "paid", timeout=30) for c in cases)
    day = datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
    changed, omitted, _ = (provider_ids[c] for c in cases)
    stranger = f"pay_{uuid.uuid4().hex[:24]}"
    for adjustment in ({"action": "amount", "payment_id": changed, "amount": 1000}, {"action": "omit", "payment_id": omitted},
                       {"action": "extra", "payment_id": stranger, "amount": 4200, "merchant_reference": "fremd"}):
        made = psp_admin.post(f"/admin/settlements/{CLOPPENBURG}/{day}/adjustments", json=adjustment)
        assert made.status_code == 201, made.text

    url = f"/api/v1/tenants/{CLOPPENBURG}/payments/reconciliation"
    report = tenant_admin.get(url, params={"day": day})
    assert report.status_code == 200, report.text
    problems = {m["psp_id"]: m for m in report.json()["mismatches"]}
    assert problems[changed]["problem"] == "amount_differs"
    assert (problems[changed]["ledger_cents"], problems[changed]["settlement_cents"]) == (FEE, 1000)
    assert problems[omitted]["problem"] == "missing_in_settlement"
    assert (problems[stranger]["problem"], problems[stranger]["settlement_cents"]) == ("missing_in_ledger", 4200)
    assert tenant_admin.get(url, params={"day": day, "run": "0"}).json()["mismatches"] == report.json()["mismatches"]

    payments = platform_app(platform_env, open_payments)
    try:
        events = payments.events.get(Reconciliation.create_id(CLOPPENBURG, day))
        found = {e.mismatch["psp_id"]: e.mismatch["problem"] for e in events if type(e).__name__ == "MismatchFound"}
    finally:
        payments.close()
    assert {found[p] for p in (changed, omitted, stranger)} == {"amount_differs", "missing_in_settlement", "missing_in_ledger"}
    again = tenant_admin.get(url, params={"day": day})  # a second run records nothing new
    assert again.status_code == 200 and len(again.json()["mismatches"]) == len(report.json()["mismatches"])

    metrics = httpx.get(f"http://127.0.0.1:{running.metrics_ports['payments']}/metrics", timeout=5).text
    counted = {line.split('problem="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("vr_payments_reconciliation_mismatches_total{")}
    assert all(counted.get(p, 0) >= 1 for p in ("amount_differs", "missing_in_settlement", "missing_in_ledger")), counted

    export = tenant_admin.get(f"/api/v1/tenants/{CLOPPENBURG}/payments/export", params={"from": day})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = {row["Transaktion"]: row for row in csv.DictReader(io.StringIO(export.text), delimiter=";")}
    assert rows[changed]["Abgleich"] == "Abweichung: Betrag laut Anbieter 10,00" and rows[changed]["Betrag"] == "13,00"
    assert rows[omitted]["Abgleich"] == "Abweichung: fehlt im Abrechnungsbericht des Anbieters"
    assert rows[provider_ids[cases[2]]]["Abgleich"] == "abgestimmt"
    assert rows[provider_ids[cases[2]]]["Kassenzeichen"].startswith("CLP-K")
    assert (rows[stranger]["Buchungsart"], rows[stranger]["Betrag"]) == ("Klärungsfall", "42,00")
