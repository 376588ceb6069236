"""The export for the municipal cash office (Kasse / HKR-Verfahren): one line per booking
of the tenant's ledger, as the cash office books payments received by Kassenzeichen, each
with what the reconciliation with the provider's settlement report says about it.

Why this format: German spreadsheet and HKR imports read semicolon-separated UTF-8 with a
decimal comma and dates as TT.MM.JJJJ; a refund is a negative amount under its own booking
kind, so the sum of the bookings is what the provider paid out before its fees.

Why the ``Abgleich`` column and the ``Klärungsfall`` lines: the cash office must not book a
payment the provider's report contradicts without looking; every open mismatch of the
reconciliation shows on its booking, and money the provider reports that our ledger lacks
is a line of its own (Buchungsart ``Klärungsfall``, not a booking: leave it out of sums).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

COLUMNS = ("Kassenzeichen", "Betrag", "Währung", "Buchungsdatum", "Aktenzeichen", "Buchungsart", "Zahlungsweg",
           "Transaktion", "Abgleich")
KINDS = {"payment": "Einzahlung", "refund": "Erstattung"}
METHODS = {"wero": "Wero", "paypal": "PayPal", "card": "Karte", "sepa_direct_debit": "SEPA-Lastschrift"}
NOT_RECONCILED, RECONCILED, QUERY = "nicht abgeglichen", "abgestimmt", "Klärungsfall"
PROBLEMS = {
    "missing_in_settlement": "Abweichung: fehlt im Abrechnungsbericht des Anbieters",
    "missing_in_ledger": "Abweichung: nur im Abrechnungsbericht des Anbieters",
    "amount_differs": "Abweichung: Betrag laut Anbieter {settlement}",
    "duplicate_in_settlement": "Abweichung: mehrfach im Abrechnungsbericht ({settlement} zusammen)",
}
#: Per booking day that was reconciled: the open mismatches by key (``payment:<id>``/``refund:<id>``).
Checks = dict[str, dict[str, dict[str, Any]]]


def euro(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def mismatch_text(mismatch: dict[str, Any]) -> str:
    settlement = mismatch.get("settlement_cents")
    return PROBLEMS[mismatch["problem"]].format(settlement=euro(settlement) if settlement is not None else "")


def export_csv(entries: list[dict[str, Any]], checks: Checks | None = None) -> str:
    """The ledger entries (:meth:`PaymentReadModels.ledger`) as the cash office's CSV, with the
    reconciliation of each booking day (``checks``; a day absent was not reconciled)."""
    checks = checks or {}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        day = entry["booking_date"]
        mismatch = checks.get(day, {}).get(f"{entry['kind']}:{entry['psp_id']}")
        verdict = mismatch_text(mismatch) if mismatch else RECONCILED if day in checks else NOT_RECONCILED
        writer.writerow([
            entry["kassenzeichen"], euro(int(entry["amount_cents"])), "EUR", date.fromisoformat(day).strftime("%d.%m.%Y"),
            entry["case_reference"], KINDS[entry["kind"]], METHODS.get(entry["method"] or "", entry["method"] or ""),
            entry["psp_id"], verdict,
        ])
    for day in sorted(checks):
        for mismatch in sorted(checks[day].values(), key=lambda m: m["key"]):
            if mismatch["problem"] == "missing_in_ledger":
                writer.writerow([
                    "", euro(int(mismatch["settlement_cents"] or 0)), "EUR", date.fromisoformat(day).strftime("%d.%m.%Y"),
                    "", QUERY, "", mismatch["psp_id"], mismatch_text(mismatch),
                ])
    return out.getvalue()
