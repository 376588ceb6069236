"""The payments command line.

    python -m services.payments rebuild [--tenant AGS]
    python -m services.payments simulator-merchants FILE AGS [AGS ...] [--webhook-url URL]
    python -m services.payments export --tenant AGS --from YYYY-MM-DD [--to YYYY-MM-DD]

``simulator-merchants`` writes the development merchants of the given tenants (credentials
derived from the deployment secret, as the payments service derives them without a merchants
file) in the PSP simulator's format, for ``PSP_SIMULATOR_MERCHANTS_FILE``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.common import logs
from services.common.config import settings
from services.common.db import ReadStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.payments")
    sub = parser.add_subparsers(dest="command", required=True)
    rebuild = sub.add_parser("rebuild", help="drop and rebuild the read models from the event store")
    rebuild.add_argument("--tenant", help="only this tenant (AGS)")
    merchants = sub.add_parser("simulator-merchants", help="write development merchants for the PSP simulator")
    merchants.add_argument("file", type=Path)
    merchants.add_argument("tenants", nargs="+", metavar="AGS")
    merchants.add_argument("--webhook-url", help="default: PUBLIC_BASE_URL + /api/v1/payments/webhooks/psp")
    export = sub.add_parser("export", help="the cash office's CSV of a tenant's bookings")
    export.add_argument("--tenant", required=True)
    export.add_argument("--from", dest="first", required=True)
    export.add_argument("--to", dest="last")
    args = parser.parse_args(argv)
    logs.configure("payments")

    from services.payments.application import open_payments
    from services.payments.merchants import simulator_file
    from services.payments.projections import PaymentReadModels

    if args.command == "simulator-merchants":
        print(simulator_file(args.file, args.tenants, settings(), args.webhook_url))
        return 0
    app, read = open_payments(), PaymentReadModels(ReadStore("payments"))
    try:
        if args.command == "rebuild":
            print(f"rebuilt the payments read models from {read.rebuild(app, args.tenant)} changes")
        else:
            from services.payments.cashoffice import export_csv

            read.catch_up(app)
            last = args.last or args.first
            entries = read.ledger(args.tenant, args.first, last)
            days = {e["booking_date"] for e in entries}
            sys.stdout.write(export_csv(entries, app.reconciliation_checks(args.tenant, args.first, last, days)))
    finally:
        read.close()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
