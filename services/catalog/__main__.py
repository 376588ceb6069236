"""Catalog command line (works on the embedded SQLite default or on PostgreSQL).

    python -m services.catalog import
    python -m services.catalog search --tenant 03460009 --json "Hund anmelden"
    python -m services.catalog tenants list
    python -m services.catalog tenants add --ags 05315000 --name Köln --code KLN --kind gemeinde
    python -m services.catalog tenants synth-nrw --count 390
    python -m services.catalog offerings set-fee --tenant 03460009 --service hundeanmeldung --fee-cents 500
    python -m services.catalog offerings withdraw --tenant 03460009 --service sperrmuell
    python -m services.catalog offerings set-retention --tenant 03460009 --service meldebescheinigung --months 6
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from services.catalog.application import CatalogApp, open_catalog
from services.catalog.reference import DATA_DIR, read_csv
from services.common import logs
from services.common.problems import DomainError, problem


def synth_nrw(app: CatalogApp, count: int) -> int:
    """Synthetic tenants from the NRW municipality list, for load tests: one synthetic
    district per 20 municipalities, AGS in the 05999xxx range (not real keys)."""
    rows = read_csv(DATA_DIR / "kommunen_nrw.csv")[:count]
    added = 0
    for start in tqdm(range(0, len(rows), 20), desc="tenants", unit="district", file=sys.stderr):
        district_no = start // 20 + 1
        district = f"0599{district_no:02d}00"
        if app.view.tenant(district) is None:
            app.register_tenant({"ags": district, "name": f"Kreis NRW-Synth {district_no}", "code": f"KS{district_no:02d}",
                                 "kind": "landkreis", "district_ags": None})
            added += 1
        for offset, row in enumerate(rows[start : start + 20], start=1):
            ags = f"0599{district_no:02d}{offset:02d}"
            if app.view.tenant(ags) is None:
                app.register_tenant({"ags": ags, "name": row["name"], "code": f"N{district_no:02d}{offset:02d}"[:5],
                                     "kind": "gemeinde", "district_ags": district, "website": row.get("url") or None})
                added += 1
    app.sync_offerings()
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalog", description="Catalog administration")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("import", help="import definitions, tenants and offerings (idempotent)")
    search = sub.add_parser("search", help="search services as a citizen of a tenant would")
    search.add_argument("--tenant", required=True, help="AGS of the portal, e.g. 03460009")
    search.add_argument("--json", action="store_true", help="print the JSON list")
    search.add_argument("--limit", type=int, default=10)
    search.add_argument("query")
    tenants = sub.add_parser("tenants", help="list or add tenants").add_subparsers(dest="action", required=True)
    tenants.add_parser("list")
    add = tenants.add_parser("add")
    for name in ("ags", "name", "code"):
        add.add_argument(f"--{name}", required=True)
    add.add_argument("--kind", choices=("gemeinde", "landkreis"), required=True)
    add.add_argument("--district-ags")
    add.add_argument("--email")
    add.add_argument("--phone")
    synth = tenants.add_parser("synth-nrw", help="add synthetic tenants from the NRW list (load tests)")
    synth.add_argument("--count", type=int, default=390)
    offerings = sub.add_parser("offerings", help="change a tenant's offering").add_subparsers(dest="action", required=True)
    fee = offerings.add_parser("set-fee")
    withdraw = offerings.add_parser("withdraw")
    retention = offerings.add_parser("set-retention", help="the tenant's own retention period (months)")
    for cmd in (fee, withdraw, retention):
        cmd.add_argument("--tenant", required=True)
        cmd.add_argument("--service", required=True)
        cmd.add_argument("--reason", default="")
    fee.add_argument("--fee-cents", type=int, required=True)
    retention.add_argument("--months", type=int, help="omitted: back to the service's default")
    args = parser.parse_args(argv)
    logs.configure("catalog-cli")
    try:
        catalog = open_catalog()  # imports definitions, tenants and offerings, and logs what it added
        app = catalog.app
        result: Any
        if args.command == "import":
            result = {"tenants": len(app.tenants()), "services": len(app.services())}
        elif args.command == "search":
            result = catalog.finder.search(args.tenant, args.query, args.limit)
            if not args.json:
                for hit in result:
                    where = "online" if hit["online"] else "nicht online"
                    print(f"{hit['name']}  [{hit['ozg_id']}]  – {hit['responsible']['name']} ({where})")
                return 0
        elif args.command == "tenants" and args.action == "list":
            result = app.tenants()
        elif args.command == "tenants" and args.action == "add":
            data = {k: v for k, v in vars(args).items() if k in ("ags", "name", "code", "kind", "district_ags", "email", "phone")}
            result = app.register_tenant(data)
            app.sync_offerings()
        elif args.command == "tenants":
            result = {"added": synth_nrw(app, args.count), "tenants": len(app.tenants())}
        elif args.action == "set-fee":
            result = app.change_fee(args.tenant, args.service, args.fee_cents, args.reason)
        elif args.action == "set-retention":
            result = {**app.change_retention(args.tenant, args.service, args.months, args.reason),
                      "retention_months_in_force": app.retention_months(args.tenant, args.service)}
        else:
            result = app.withdraw_offering(args.tenant, args.service, args.reason)
    except DomainError as exc:
        print(json.dumps(problem(exc.code, "de", **exc.params), ensure_ascii=False), file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=None if args.command == "search" else 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
