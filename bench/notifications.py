"""Notifications per second for ``make bench``: integration events in (published to
``vr.events`` as the relay does) → mails accepted by the SMTP server (the development sink
process of the bench platform), through the real consumer and notifications service.

The raw limit, measured in the same run against the same sink process: mails sent one after
another with the platform's own transport alone (one kept connection, as a send round does),
and with a new smtplib connection per mail. The ratio is pipeline / raw (kept connection).

Recipients: real citizen accounts (identity answers the sender's address lookups), as many
as the per-recipient rate limit needs so that no mail is deferred.
"""

from __future__ import annotations

import dataclasses
import math
import smtplib
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx

from bench.common import pct
from services.common.amqp import ConfirmingPublisher
from services.common.config import Settings
from services.notifications.smtp import DELIVERED, SmtpTransport, local_hostname
from tests import support

VECHTA = "03460009"


def raw_smtp(settings: Settings, n: int) -> dict[str, Any]:
    """Mails/s the sink accepts: the platform's transport alone (one kept connection, as a
    send round uses), and plain smtplib with a new connection per mail."""
    transport = SmtpTransport(settings, timeout=10)
    started = time.perf_counter()
    try:
        outcomes = [transport.send(f"raw-{i}@bench.example", "Rohdurchsatz", "Text", "<p>Text</p>", "raw")[0]
                    for i in range(n)]
    finally:
        transport.close()
    kept = time.perf_counter() - started
    mail = EmailMessage()
    mail["From"], mail["Subject"] = settings.mail_from, "Rohdurchsatz"
    mail.set_content("Text")
    started = time.perf_counter()
    for i in range(n):
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, local_hostname=local_hostname(), timeout=10) as client:
            client.send_message(mail, to_addrs=[f"raw-new-{i}@bench.example"])
    per_mail = time.perf_counter() - started
    return {
        "n": n, "accepted": outcomes.count(DELIVERED),
        "kept_connection_per_s": round(n / kept, 1), "connection_per_mail_per_s": round(n / per_mail, 1),
    }


def envelope(applicant: str, index: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()), "type": "case.submitted.v1", "occurred_at": datetime.now(UTC).isoformat(),
        "tenant": VECHTA, "service_id": "hundeanmeldung", "aggregate_id": str(uuid.uuid4()), "aggregate_version": 1,
        "position": None, "actor": applicant, "correlation_id": f"bench-mail-{index}", "causation_id": None,
        "data": {"applicant_ref": applicant, "reference": f"VEC-2026-9{index:05d}"},
    }


def run_notifications_bench(plat: support.Platform, env: dict[str, str], n: int = 1000, timeout: float = 300) -> dict[str, Any]:
    from tests.e2e.accounts import Accounts

    settings = dataclasses.replace(Settings.from_env(plat.env), smtp_host="127.0.0.1")
    per_recipient = max(1, settings.notifications_rate_limit - 2)  # their verification mail counts too
    with httpx.Client(base_url=plat.base_url, timeout=60) as http:
        accounts = Accounts(env, http)
        people = [accounts.citizen() for _ in range(math.ceil(n / per_recipient))]
    addresses = {p.email for p in people}
    events = [envelope(people[i // per_recipient].account_id, i) for i in range(n)]

    sink = f"http://127.0.0.1:{plat.sink_port}/api/messages"

    def arrived() -> list[dict[str, Any]]:
        found = httpx.get(sink, params={"kind": "case_submitted"}, timeout=30).json()
        return [m for m in found if m["to"] in addresses]

    publisher = ConfirmingPublisher(plat.env["AMQP_URI"])
    started_wall, started = datetime.now(UTC), time.perf_counter()
    try:
        publisher.publish_batch(events)
    finally:
        publisher.close()
    published = time.perf_counter() - started
    mails: list[dict[str, Any]] = []
    while time.perf_counter() - started < timeout:
        mails = arrived()
        if len(mails) >= n:
            break
        time.sleep(0.5)
    elapsed = time.perf_counter() - started
    after = [(datetime.fromisoformat(m["received_at"]) - started_wall).total_seconds() for m in mails]
    raw = raw_smtp(settings, min(n, 500))
    per_s = round(len(mails) / (max(after) if after else elapsed), 1)
    return {
        "events": n, "recipients": len(people), "mails_arrived": len(mails),
        "duplicates": len(mails) - len({(m["to"], m["subject"]) for m in mails}),
        "publish_s": round(published, 3), "all_arrived_s": round(max(after), 2) if after else None,
        "notifications_per_s": per_s,
        "arrival_p50_s": round(pct(after, 50) or 0, 2), "arrival_p99_s": round(pct(after, 99) or 0, 2),
        "raw_smtp": raw,
        "ratio_vs_raw_smtp": round(per_s / raw["kept_connection_per_s"], 3),
    }
