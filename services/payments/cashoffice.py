"""The export for the municipal cash office (Kasse / HKR-Verfahren): one line per booking
of the tenant's ledger, as the cash office books payments received by Kassenzeichen.

Why this format: German spreadsheet and HKR imports read semicolon-separated UTF-8 with a
decimal comma and dates as TT.MM.JJJJ; a refund is a negative amount under its own booking
kind, so the sum of a file is what the provider paid out before its fees.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

COLUMNS = ("Kassenzeichen", "Betrag", "Währung", "Buchungsdatum", "Aktenzeichen", "Buchungsart", "Zahlungsweg", "Transaktion")
KINDS = {"payment": "Einzahlung", "refund": "Erstattung"}
METHODS = {"wero": "Wero", "paypal": "PayPal", "card": "Karte", "sepa_direct_debit": "SEPA-Lastschrift"}


def euro(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


def export_csv(entries: list[dict[str, Any]]) -> str:
    """The ledger entries (:meth:`PaymentReadModels.ledger`) as the cash office's CSV."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for entry in entries:
        writer.writerow([
            entry["kassenzeichen"], euro(int(entry["amount_cents"])), "EUR",
            date.fromisoformat(entry["booking_date"]).strftime("%d.%m.%Y"), entry["case_reference"],
            KINDS[entry["kind"]], METHODS.get(entry["method"] or "", entry["method"] or ""), entry["psp_id"],
        ])
    return out.getvalue()
