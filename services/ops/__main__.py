"""The operator CLI of the Virtuelles Rathaus.

    python -m services.ops tenants
    python -m services.ops positions                      # relays, projections, consumers and their lag
    python -m services.ops rebuild [--projection P] [--tenant AGS]
    python -m services.ops dead-letters                   # how many wait per queue
    python -m services.ops dead-letters list QUEUE
    python -m services.ops dead-letters show QUEUE EVENT_ID|INDEX
    python -m services.ops dead-letters redrive QUEUE (EVENT_ID|INDEX … | --all)
    python -m services.ops export AGS [--output FILE]    # one tenant's events as JSON lines
    python -m services.ops retention [--dry-run] [--tenant AGS]  # erase personal data past retention (daily)

Configuration as for every process (services/common/config.py: POSTGRES_*, AMQP_URI,
VR_SCHEMA_PREFIX …). Output is plain text for a person; ``--json`` gives JSON for scripts.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from services.common import logs
from services.ops import deadletters, platform


def _print(rows: list[dict[str, Any]], as_json: bool, columns: tuple[str, ...]) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        return
    widths = {c: max([len(c), *(len(str(r.get(c, ""))) for r in rows)]) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row.get(c, "")).ljust(widths[c]) for c in columns))


def dead_letter_command(args: argparse.Namespace) -> int:
    if args.action is None:
        rows = [{"queue": q, "dead_letters": n} for q, n in deadletters.counts().items()]
        _print(rows, args.json, ("queue", "dead_letters"))
        return 0
    if args.action == "list":
        _print([d.summary() for d in deadletters.list_dead(args.queue)], args.json,
               ("index", "event_id", "type", "dead_at", "attempts", "redriven", "reason"))
        return 0
    if args.action == "show":
        letter = deadletters.find(args.queue, args.key)
        print(json.dumps({**letter.summary(), "body": letter.body}, indent=2, ensure_ascii=False, default=str))
        return 0
    keys = set(args.keys)
    if not keys and not args.all:
        print("name the dead letters to redrive (event id or index) or give --all", file=sys.stderr)
        return 2
    done = deadletters.redrive(args.queue, lambda d: args.all or d.event_id in keys or str(d.index) in keys)
    missing = keys - {d.event_id for d in done} - {str(d.index) for d in done}
    for letter in done:
        print(f"re-driven to {args.queue}: {letter.event_id} ({letter.type})")
    if missing:
        print(f"not found in {args.queue}.dead: {', '.join(sorted(missing))}", file=sys.stderr)
    return 1 if missing else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m services.ops", description="Operate the Virtuelles Rathaus.")
    top.add_argument("--json", action="store_true", help="JSON output for scripts")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("tenants", help="the tenants (municipalities, districts) of the catalog")
    sub.add_parser("positions", help="relay, projection and consumer positions and their lag in events")
    rebuild = sub.add_parser("rebuild", help="rebuild the submissions read models from the event store")
    rebuild.add_argument("--projection", choices=("all", "worklist", "case_status"), default="all")
    rebuild.add_argument("--tenant", help="only this tenant (AGS)")
    kpis = sub.add_parser("rebuild-kpis", help="rebuild the usage and acceptance KPIs from the event stores")
    kpis.add_argument("--tenant", help="only this tenant (AGS)")
    dead = sub.add_parser("dead-letters", help="messages a consumer could not handle")
    actions = dead.add_subparsers(dest="action")
    queues = deadletters.queues()
    actions.add_parser("list", help="the dead letters of a queue").add_argument("queue", choices=queues)
    show = actions.add_parser("show", help="one dead letter, whole")
    show.add_argument("queue", choices=queues)
    show.add_argument("key", help="event id or index from the list")
    redrive = actions.add_parser("redrive", help="put dead letters back into their queue (after the fix)")
    redrive.add_argument("queue", choices=queues)
    redrive.add_argument("keys", nargs="*", help="event ids or indexes from the list")
    redrive.add_argument("--all", action="store_true", help="every dead letter of the queue")
    export = sub.add_parser("export", help="one tenant's events as JSON lines (contains personal data)")
    export.add_argument("ags")
    export.add_argument("--output", help="file (default: standard output)")
    keep = sub.add_parser("retention", help="erase the personal data of cases past their retention period (daily)")
    keep.add_argument("--dry-run", action="store_true", help="only list what would be erased")
    keep.add_argument("--tenant", help="only this tenant (AGS)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure("ops")
    if args.command == "tenants":
        _print(platform.tenants(), args.json, ("ags", "name", "kind", "district_ags"))
    elif args.command == "positions":
        rows = [{**vars(p), "lag": p.lag} for p in platform.positions()]
        _print(rows, args.json, ("service", "kind", "name", "position", "head", "lag"))
    elif args.command == "rebuild":
        count = platform.rebuild(args.projection, args.tenant)
        print(f"rebuilt {args.projection} from {count} events" + (f" for tenant {args.tenant}" if args.tenant else ""))
    elif args.command == "rebuild-kpis":
        count = platform.rebuild_kpis(args.tenant)
        print(f"rebuilt the KPIs ({count} rows)" + (f" for tenant {args.tenant}" if args.tenant else ""))
    elif args.command == "dead-letters":
        return dead_letter_command(args)
    elif args.command == "export":
        if args.output:
            with open(args.output, "w", encoding="utf-8") as out:
                count = platform.export_tenant(args.ags, out)
        else:
            count = platform.export_tenant(args.ags, sys.stdout)
        print(f"exported {count} events of {args.ags}", file=sys.stderr)
    elif args.command == "retention":
        from services.ops.retention import retention

        report = retention(args.dry_run, args.tenant)
        if args.json:
            print(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            _print(report["erased"], False, ("reference", "tenant", "service_id", "decided_at", "retention_months",
                                             "events_redacted"))
            verb = "would erase" if args.dry_run else "erased"
            print(f"{verb} the personal data of {report['cases']} case(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
