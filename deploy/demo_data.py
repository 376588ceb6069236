"""`make demo-data`: demo accounts for `make run` (DEVELOPMENT ONLY).

Creates a citizen, a business account, clerks for Vechta, Lohne and Landkreis Vechta and
a tenant admin on the configured identity store (SQLite under var/ by default) and prints
their passwords once; a back-office client of Vechta; and two rules of Vechta for the
Meldebescheinigung (routing, automatic decision), switched off, for the tenant admin to
shadow-run and switch on (issue #16). Running it again keeps existing accounts (their passwords are not
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
    rules = demo_rules()
    print("Demo-Regeln von Vechta (Meldebescheinigung, ausgeschaltet) – als admin.vechta@example.org ($ADMIN):")
    for rule in rules:
        print(f"  {rule['kind']:<9} {rule['rule_id']}  {rule['name']}")
    base = "curl -s -H \"Authorization: Bearer $ADMIN\" $B/api/v1/admin/tenants/03460009/rules"
    print("  Probelauf über vergangene Fälle, Bericht, einschalten:")
    for rule in rules:
        print(f"  {base}/{rule['rule_id']}/shadow-runs -X POST -H 'Content-Type: application/json' "
              "-d '{\"from\":\"2026-01-01\",\"to\":\"2027-01-01\"}'")
        print(f"  {base}/{rule['rule_id']}'/shadow-runs?format=csv'")
        print(f"  {base}/{rule['rule_id']}/activate -X POST")
    print("  oder im Browser: http://127.0.0.1:8080/verwaltung/03460009/regeln")
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


ROUTING_RULE = {
    "service_id": "meldebescheinigung", "kind": "routing", "name": "Meldebescheinigung Vechta: Bürgerbüro",
    "when": {"fact": "postcode", "op": "starts_with", "value": "493"},
    "then": {"assign_to": "team:buergerbuero"},
}
DECISION_RULE = {
    "service_id": "meldebescheinigung", "kind": "decision", "name": "Meldebescheinigung automatisch",
    "when": {"all": [{"fact": "trust_level", "op": "gte", "value": "high"},
                     {"fact": "registry_address_match", "op": "eq", "value": True},
                     {"fact": "fee_paid", "op": "eq", "value": True}]},
    "then": {"outcome": "approve",
             "reason": "Identität mit Vertrauensniveau hoch, Anschrift im Melderegister bestätigt, Gebühr bezahlt."},
}


def demo_rules() -> list[dict[str, Any]]:
    """Vechta's demo rules, defined once (switched off: activating needs a shadow run first)."""
    from services.rules.application import open_rules

    app = open_rules()
    try:
        existing = {rule["name"]: rule for rule in app.rules_of("03460009", "meldebescheinigung")}
        return [existing.get(body["name"]) or app.define("03460009", body, "demo-data:admin", "demo-data")
                for body in (ROUTING_RULE, DECISION_RULE)]
    finally:
        app.close()


if __name__ == "__main__":
    sys.exit(main())
