"""The daily settlement report per merchant (CSV): every money movement booked that day —
succeeded payments (with the provider's fee) and succeeded refunds (negative) — under one
payout id. Booking dates are days in Europe/Berlin. Admin adjustments alter a report on
purpose (omit, change, duplicate or add a line), so reconciliation can be tested."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.payments.psp_simulator.errors import ApiError, invalid
from services.payments.psp_simulator.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
#: Fee per method: (basis points of the amount, fixed cents); refunds cost nothing and return no fee.
FEES = {"card": (140, 25), "paypal": (249, 35), "wero": (80, 10), "sepa_direct_debit": (0, 35)}
COLUMNS = (
    "booking_date", "payout_id", "type", "payment_id", "refund_id", "merchant_reference", "method",
    "currency", "amount", "fee", "net",
)
ACTIONS = ("omit", "amount", "duplicate", "extra")
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def fee(method: str | None, amount: int) -> int:
    """Integer cents, rounded half up."""
    points, fixed = FEES.get(method or "card", FEES["card"])
    return (amount * points + 5000) // 10000 + fixed


def parse_day(value: str) -> date:
    try:
        if not DAY.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise invalid("date", "expected YYYY-MM-DD") from exc


def _bounds(day: date) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=BERLIN)
    following = day + timedelta(days=1)
    return start.timestamp(), datetime(following.year, following.month, following.day, tzinfo=BERLIN).timestamp()


def _booked(store: Store, merchant_id: str, day: date) -> list[dict[str, Any]]:
    start, end = _bounds(day)
    payout = f"po_{merchant_id}_{day:%Y%m%d}"
    base = {"booking_date": day.isoformat(), "payout_id": payout, "currency": "EUR"}
    lines = []
    for row in store.all(
        "SELECT * FROM payments WHERE merchant_id = ? AND status = 'succeeded' AND succeeded_at >= ? AND succeeded_at < ?",
        (merchant_id, start, end),
    ):
        charge = fee(row["method"], row["amount"])
        lines.append({**base, "type": "payment", "payment_id": row["id"], "refund_id": "",
                      "merchant_reference": row["merchant_reference"], "method": row["method"],
                      "amount": row["amount"], "fee": charge, "net": row["amount"] - charge, "_at": row["succeeded_at"]})
    for row in store.all(
        "SELECT r.*, p.method FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.merchant_id = ?"
        " AND r.status = 'succeeded' AND r.completed_at >= ? AND r.completed_at < ?",
        (merchant_id, start, end),
    ):
        lines.append({**base, "type": "refund", "payment_id": row["payment_id"], "refund_id": row["id"],
                      "merchant_reference": row["merchant_reference"], "method": row["method"],
                      "amount": -row["amount"], "fee": 0, "net": -row["amount"], "_at": row["completed_at"]})
    return sorted(lines, key=lambda line: (line["_at"], line["payment_id"], line["refund_id"]))


def _target(line: dict[str, Any]) -> str:
    return line["refund_id"] or line["payment_id"]


def report_lines(store: Store, merchant_id: str, day: date) -> list[dict[str, Any]]:
    """The day's lines with the admin adjustments applied, in booking order."""
    lines = _booked(store, merchant_id, day)
    adjustments = store.all(
        "SELECT * FROM settlement_adjustments WHERE merchant_id = ? AND booking_date = ? ORDER BY id",
        (merchant_id, day.isoformat()),
    )
    for adjustment in adjustments:
        target, action = adjustment["target"], adjustment["action"]
        matching = [line for line in lines if _target(line) == target]
        if action == "omit":
            lines = [line for line in lines if _target(line) != target]
        elif action == "amount":
            for line in matching:
                line.update(amount=adjustment["amount"], net=adjustment["amount"] - line["fee"])
        elif action == "duplicate":
            lines.extend(dict(line) for line in matching)
        else:  # extra: a line for a payment the merchant never created
            lines.append({"booking_date": day.isoformat(), "payout_id": f"po_{merchant_id}_{day:%Y%m%d}",
                          "type": "payment", "payment_id": target, "refund_id": "",
                          "merchant_reference": adjustment["merchant_reference"], "method": "card", "currency": "EUR",
                          "amount": adjustment["amount"], "fee": 0, "net": adjustment["amount"]})
    return lines


def report_csv(store: Store, merchant_id: str, day: date) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(report_lines(store, merchant_id, day))
    return out.getvalue()


def add_adjustment(store: Store, merchant_id: str, day: date, body: Any) -> dict[str, Any]:
    """Admin: alter the report of ``merchant_id`` on ``day`` (see the README for the actions)."""
    if not isinstance(body, dict) or set(body) - {"action", "payment_id", "refund_id", "amount", "merchant_reference"}:
        raise invalid("body", "expected an object of action, payment_id, refund_id, amount, merchant_reference")
    action = body.get("action")
    if action not in ACTIONS:
        raise invalid("action", "one of " + ", ".join(ACTIONS))
    amount = body.get("amount")
    if action in ("amount", "extra") and (isinstance(amount, bool) or not isinstance(amount, int)):
        raise invalid("amount", "an integer amount in cents is required")
    target = body.get("refund_id") or body.get("payment_id")
    if action == "extra":
        target = target or f"pay_{secrets.token_hex(12)}"
    elif not any(_target(line) == target for line in _booked(store, merchant_id, day)):
        raise ApiError(404, "not_found", "no such line in that report")
    with store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO settlement_adjustments (merchant_id, booking_date, action, target, amount, merchant_reference,"
            " created) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (merchant_id, day.isoformat(), action, target, amount, str(body.get("merchant_reference") or ""), time.time()),
        )
    return {"id": cursor.lastrowid, "merchant_id": merchant_id, "booking_date": day.isoformat(), "action": action,
            "target": target, "amount": amount}
