"""`make demo-data`: demo accounts for `make run` (DEVELOPMENT ONLY).

Creates a citizen, a business account, clerks for Vechta, Lohne and Landkreis Vechta and
a tenant admin on the configured identity store (SQLite under var/ by default) and prints
their passwords once. Running it again keeps existing accounts (their passwords are not
shown again: delete var/ to start over).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.common import logs
from services.common.db import open_application
from services.identity.application import IdentityApplication
from services.identity.demo import seed_demo


def main() -> int:
    logs.configure("demo-data")
    app = open_application(IdentityApplication, "identity")
    accounts = seed_demo(app)
    print("Demo-Konten (nur für die Entwicklung!):")
    for account in accounts:
        grants = ", ".join(f"{g['role']}@{g['tenant']}" for g in account.get("grants") or []) or "-"
        password = account["password"] or "(besteht bereits – Passwort wurde beim ersten Mal angezeigt)"
        print(f"  {account['kind']:<13} {account['email']:<42} {password:<28} {grants}")
    handover = demo_backoffice_client()
    print(f"Demo-Fachverfahren (Übergabe) von Vechta für {', '.join(handover['service_keys'])}:")
    print(f"  .venv/bin/python deploy/handover_client.py --client-id {handover['client_id']} --secret {handover['client_secret']}")
    return 0


def demo_backoffice_client() -> dict[str, Any]:
    """A back-office client of Vechta, issued and approved (two demo actors: four-eyes) in the
    hand-over store — a new one each run (its secret is shown only now)."""
    from services.handover.application import HandoverApp

    app = open_application(HandoverApp, "handover")
    try:
        issued = app.register_client("03460009", "Demo-Fachverfahren", ["hundeanmeldung", "meldebescheinigung"],
                                     "demo-data:admin", "demo-data")
        app.approve_client(str(issued["client_id"]), "03460009", "demo-data:second-admin", "demo-data")
        return issued
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
