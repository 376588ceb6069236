"""Rules figures for ``make bench`` (issue #16), in-process on the bench's store:

1. **consumer throughput** — case events/s through the rules consumer's core in batches of
   ``BATCH`` as the process takes them (``RulesApp.open_batch``): the tenant's active rules
   evaluated (a routing rule and a decision rule, the registry asked), the case command
   executed on a real submissions application (in-process, where the process uses RPC), what
   the rules did saved with the tracking record once per batch. Broker and RPC are not in
   this figure. Also counted: transactions on the rules store per event (before batches: 2).
2. **shadow run over N past cases** (default 100,000; ``--shadow``) — the rule side: pages of
   past-case facts as ``submissions.past_cases`` returns them, evaluated and compared with
   the clerks' decisions, report recorded. Plus **through submissions' store**
   (``--shadow-real``, default 5,000): the same over real cases read by
   ``SubmissionsApp.past_cases`` (worklist query + every case's events), whose rate gives the
   100,000-case estimate.

``python -m bench.rules [--consume 2000] [--shadow 100000] [--shadow-real 5000]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from services.common import db
from services.common.db import ReadStore
from services.rules.application import RulesApp
from services.submissions.application import SubmissionsApp
from services.submissions.commands import Offering, SubmitCommand
from services.submissions.projections import CaseReadModels
from tests import support

VECHTA = "03460009"
DOG_GONE = {
    "holder_first_name": "Erika", "holder_last_name": "Mustermann", "holder_birth_date": "1980-04-12",
    "holder_street": "Große Straße", "holder_house_number": "12a", "holder_postal_code": "49377",
    "holder_city": "Vechta", "email": "erika@example.org", "dog_name": "Bello", "reason": "died",
    "end_date": "2026-11-20", "tag_returned": True, "new_owner_name": "Jonas Meyer", "new_owner_address": "Falkenweg 8, 49377 Vechta",
}
REASONS = ("died", "moved_away", "given_away", "other")
DECISION = {"service_id": "hundeabmeldung", "kind": "decision", "name": "Hundeabmeldung begründet",
            "when": {"all": [{"field": "reason", "op": "in", "value": ["died", "moved_away"]},
                             {"field": "tag_returned", "op": "eq", "value": True},
                             {"fact": "registry_address_match", "op": "eq", "value": True}]},
            "then": {"outcome": "approve", "reason": "Die Abmeldung ist begründet."}}
ROUTING = {"service_id": "hundeabmeldung", "kind": "routing", "name": "Vechta",
           "when": {"fact": "postcode", "op": "starts_with", "value": "493"}, "then": {"assign_to": "team:hundesteuer"}}


def _apps() -> tuple[RulesApp, SubmissionsApp]:
    for service in ("rules", "submissions"):
        db.ensure_schema(service)
    return RulesApp(db.eventstore_env("rules")), SubmissionsApp(db.eventstore_env("submissions"))


def _resolve() -> Any:
    from services.catalog.definitions import DEFINITIONS_DIR

    definition = json.loads((DEFINITIONS_DIR / "hundeabmeldung.json").read_text(encoding="utf-8"))
    offering = Offering.from_catalog({
        "tenant": VECHTA, "tenant_code": "VEC", "service_id": "hundeabmeldung", "ozg_id": definition["ozg_id"],
        "leika_key": definition["leika_key"], "form_version": definition["version"], "fee_cents": 0,
        "processing_days": definition["processing_days"], "trust_level": "basic", "form": definition["form"],
    })
    return lambda portal, service_id: offering


def _submit(submissions: SubmissionsApp, n: int, tag: str) -> None:
    resolve = _resolve()
    for start in range(0, n, 500):
        commands = [SubmitCommand(
            portal=VECHTA, service_id="hundeabmeldung", form_data={**DOG_GONE, "reason": REASONS[i % 4]},
            applicant={"name": "Erika Mustermann"}, principal=f"citizen:{tag}-{i % 97}", idempotency_key=f"{tag}-{i}",
            correlation_id=f"{tag}-{i}", trust_level="high",
        ) for i in range(start, min(start + 500, n))]
        submissions.submit_batch(commands, resolve)


def _activate(rules: RulesApp, body: dict[str, Any]) -> str:
    rule_id = rules.define(VECHTA, body, "admin:bench", "bench")["rule_id"]
    rules.shadow_run(rule_id, "2020-01-01", "2029-01-01", lambda *_: {"items": [], "next_cursor": None}, "admin:bench", "bench")
    rules.activate(rule_id, "admin:bench", "bench")
    return rule_id


BATCH = 50  # what services.rules.consumer takes from the queue at once


def _counting_transactions(app: RulesApp) -> list[int]:
    """Count the rules store's connections taken (one per transaction), by wrapping the
    datastore of this bench's application instance."""
    datastore, count = app.recorder.datastore, [0]
    take = datastore.get_connection

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return take(*args, **kwargs)

    datastore.get_connection = counted
    return count


def _consume(rules: RulesApp, envelopes: list[dict[str, Any]], cases: Any) -> list[str]:
    results = []
    for start in range(0, len(envelopes), BATCH):
        batch = rules.open_batch()
        results += [batch.consume(e, cases) for e in envelopes[start:start + BATCH]]
        batch.commit()
    return results


def consumer_throughput(rules: RulesApp, submissions: SubmissionsApp, n: int) -> dict[str, Any]:
    _activate(rules, DECISION)
    _activate(rules, ROUTING)
    after = submissions.recorder.max_notification_id() or 0
    _submit(submissions, n, "consume")
    envelopes = support.case_envelopes(submissions, after)
    cases = support.AppCases(submissions)
    transactions = _counting_transactions(rules)
    started = time.perf_counter()
    results = _consume(rules, envelopes, cases)
    seconds = time.perf_counter() - started
    per_event = transactions[0] / max(len(envelopes), 1)
    again = time.perf_counter()
    repeats = _consume(rules, envelopes[: min(len(envelopes), 2000)], cases)
    redelivery_seconds = time.perf_counter() - again
    return {"events": len(envelopes), "seconds": round(seconds, 2), "events_per_s": round(len(envelopes) / seconds, 1),
            "batch": BATCH, "rules_store_transactions_per_event": round(per_event, 3),
            "applied": results.count("applied"), "redelivered_per_s": round(len(repeats) / redelivery_seconds, 1),
            "redelivered_all_seen": set(repeats) == {"seen"}}


def shadow_synthetic(rules: RulesApp, n: int, page: int = 1000) -> dict[str, Any]:
    rule_id = rules.define(VECHTA, DECISION, "admin:bench", "bench")["rule_id"]
    base = datetime(2026, 6, 1, tzinfo=UTC)

    def item(i: int) -> dict[str, Any]:
        reason = REASONS[i % 4]
        return {"case_id": f"00000000-0000-4000-8000-{i:012d}", "tenant": VECHTA, "service_id": "hundeabmeldung",
                "reference": f"VEC-2026-{i:06d}", "status": "approved", "form_data": {**DOG_GONE, "reason": reason},
                "trust_level": "high", "fee_cents": 0, "paid_cents": 0,
                "submitted_at": (base + timedelta(seconds=i)).isoformat(), "assignee": "clerk:meyer",
                "outcome": "approve" if i % 7 else "reject", "decided_by": "clerk:meyer", "first_assignee": "clerk:meyer"}

    def past_cases(tenant: str, service_id: str, since: str, until: str, after: str) -> dict[str, Any]:
        start = int(after or 0)
        end = min(start + page, n)
        return {"items": [item(i) for i in range(start, end)], "next_cursor": str(end) if end < n else None}

    started = time.perf_counter()
    report = rules.shadow_run(rule_id, "2026-01-01", "2027-01-01", past_cases, "admin:bench", "bench")
    seconds = time.perf_counter() - started
    return {"cases": report["cases"], "seconds": round(seconds, 2), "cases_per_s": round(n / seconds, 1),
            "would_act": report["would_act"], "agreement": report["agreement"]}


def shadow_real(rules: RulesApp, submissions: SubmissionsApp, n: int) -> dict[str, Any]:
    after = submissions.recorder.max_notification_id() or 0
    _submit(submissions, n, "shadow")
    read = CaseReadModels(ReadStore("submissions"))
    read.apply(support.case_envelopes(submissions, after))
    rule_id = rules.define(VECHTA, DECISION, "admin:bench", "bench")["rule_id"]

    def past_cases(tenant: str, service_id: str, since: str, until: str, cursor: str) -> dict[str, Any]:
        return submissions.past_cases(read.store, tenant, service_id, since, until, cursor)

    today = datetime.now(UTC).date()
    started = time.perf_counter()
    report = rules.shadow_run(rule_id, (today - timedelta(days=1)).isoformat(), (today + timedelta(days=2)).isoformat(),
                              past_cases, "admin:bench", "bench")
    seconds = time.perf_counter() - started
    read.close()
    rate = report["cases"] / seconds if seconds else 0.0
    return {"cases": report["cases"], "seconds": round(seconds, 2), "cases_per_s": round(rate, 1),
            "estimated_100k_s": round(100_000 / rate, 1) if rate else None}


def run_rules_bench(consume: int = 2000, shadow: int = 100_000, real: int = 5000) -> dict[str, Any]:
    """All three figures on a schema prefix of their own (dropped afterwards on PostgreSQL)."""
    previous = os.environ.get("VR_SCHEMA_PREFIX")
    prefix = f"benchrules{support.unique_prefix()}"
    os.environ["VR_SCHEMA_PREFIX"] = prefix
    try:
        rules, submissions = _apps()
        result = {"consumer": consumer_throughput(rules, submissions, consume),
                  "shadow_synthetic": shadow_synthetic(rules, shadow),
                  "shadow_through_submissions": shadow_real(rules, submissions, real)}
    finally:
        if previous is None:
            os.environ.pop("VR_SCHEMA_PREFIX", None)
        else:
            os.environ["VR_SCHEMA_PREFIX"] = previous
        if os.environ.get("POSTGRES_DBNAME") or os.environ.get("POSTGRES_DSN"):
            support.drop_schemas(prefix)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rules", description=__doc__.split("\n\n")[0])
    parser.add_argument("--consume", type=int, default=2000, help="cases whose submitted events go through the consumer")
    parser.add_argument("--shadow", type=int, default=100_000, help="past cases of the rule-side shadow run")
    parser.add_argument("--shadow-real", type=int, default=5000, help="past cases read through submissions' store")
    args = parser.parse_args(argv)
    if not (os.environ.get("POSTGRES_DBNAME") or os.environ.get("POSTGRES_DSN")):
        os.environ.setdefault("VR_VAR_DIR", str(support.ROOT / "var" / "bench" / "rules-var"))
    print(json.dumps(run_rules_bench(args.consume, args.shadow, args.shadow_real), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
