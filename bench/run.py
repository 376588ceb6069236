"""``make bench``: how fast is the platform, and where does the time go? One run measures

1. the ceilings: raw PostgreSQL single-row INSERTs (8 connections) and raw RabbitMQ
   publishing with confirms; one form validated by jsonschema alone and compiled (in-process);
2. submissions through the HTTP gateway into the clerk worklist, with the real processes
   (catalog, submissions, gateway, relay, projector): submissions/s, end-to-end/s, submit
   and submit→visible latencies, load generator comparison, SUBMIT_PIPELINES 1/2/4,
   GATEWAY_REPLICAS 1/2 (bench/writepath.py);
3. worklist page queries with 100,000 cases over 25 tenants, via HTTP and in-process;
4. a profile (py-spy on every platform process, cProfile of ``submit_batch`` in-process);
5. notifications per second: events in → mails accepted by the SMTP sink, against the raw
   SMTP acceptance rate of the same sink (bench/notifications.py; first, before the load);
6. payments end to end (case with fee → payment started → paid on the PSP simulator's page →
   case ``paid``) per second, against the simulator alone as the raw limit (bench/payments.py);
   hand-over: decided cases fetched and acknowledged per second through the submission API
   by back-office clients (bench/handover.py).

It prints tables and writes everything to ``var/bench/<name>.json``. No assertions: the
figures are for people. Run as ``python -m bench [--name NAME] [--n 20000] [--quick]``
with POSTGRES_* in the environment (the Makefile sets them and recreates vr_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import load as bench_load
from bench import report
from bench.common import ROOT, BenchPlatform, conninfo, pg_env
from bench.load import CLIENTS, offered_tenants, submit_run
from bench.payments import payment_run
from bench.profiling import PySpy, pyspy_binary
from bench.raw import postgres_inserts, rabbit_publish
from tests import support

# Optional steps (concurrency sweep, SUBMIT_PIPELINES, profile, search) start only while the
# run is younger than these, so that the 100k worklist step (~2-3 min) still ends before 10 min.
LATEST_START_S = {"concurrency": 240, "pipelines": 270, "profile": 330, "replicas": 360, "search": 540, "partitions": 560}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=os.environ.get("BENCH_NAME") or datetime.now(UTC).strftime("bench-%Y%m%d-%H%M%S"))
    parser.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "20000")), help="submissions in the main run")
    parser.add_argument("--compare-n", type=int, default=3000, help="submissions per comparison run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the worklist for the query step")
    parser.add_argument("--payments", type=int, default=300, help="payments in the payment throughput step")
    parser.add_argument("--payment-concurrency", type=int, default=16)
    parser.add_argument("--only-payments", action="store_true", help="ceilings and the payment step only")
    parser.add_argument("--quick", action="store_true", help="small numbers, to try the bench itself")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas (default: drop them)")
    parser.add_argument("--only", action="append", default=[], help="run only these steps (repeatable), e.g. notifications")
    parser.add_argument("--mails", type=int, default=1000, help="events for the notifications step")
    parser.add_argument("--rules-consume", type=int, default=1000, help="cases through the rules consumer (bench/rules.py)")
    parser.add_argument("--rules-shadow", type=int, default=100_000, help="past cases of the rule-side shadow run")
    parser.add_argument("--rules-shadow-real", type=int, default=2000, help="past cases read through submissions' store")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.compare_n, args.cases, args.payments = 2000, 600, 8_000, 100
        args.rules_consume, args.rules_shadow, args.rules_shadow_real = 200, 10_000, 200
    return args


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.began = time.monotonic()
        self.env = pg_env()
        os.environ.update(self.env)
        support.ensure_database(self.env["POSTGRES_DBNAME"])
        self.prefix = f"bench{support.unique_prefix()}"
        os.environ["VR_SCHEMA_PREFIX"] = self.prefix  # the in-process steps use the platform's schemas
        self.dsn = conninfo(self.env)
        self.schema = f"{self.prefix}submissions"
        self.out_dir = ROOT / "var" / "bench"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.lines: list[str] = []
        self.results: dict[str, Any] = {
            "name": args.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0], "loadavg_at_start": os.getloadavg()},
            "settings": {k: v for k, v in vars(args).items() if k != "name"},
            "errors": {},
        }
        self.best = "raw"  # until the load generators were compared
        self.clerk_headers: dict[str, str] = {}
        self.payer_headers: dict[str, str] = {}
        self.tenants: tuple[str, ...] = ()

    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def show(self, text: str) -> None:
        self.lines.append(text)
        print(text, flush=True)

    def save(self) -> Path:
        path = self.out_dir / f"{self.args.name}.json"
        self.results["elapsed_s"] = round(self.elapsed(), 1)
        path.write_text(json.dumps(self.results, indent=2, ensure_ascii=False, default=str))
        (self.out_dir / f"{self.args.name}.txt").write_text("\n".join(self.lines) + "\n")
        return path

    def step(self, name: str, action: Callable[[], None]) -> None:
        """Run one step; a failure is recorded and printed, and the bench goes on."""
        if self.args.only and name not in self.args.only:
            return
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - report and continue with the next step
            self.results["errors"][name] = traceback.format_exc()
            self.show(f"\n!! step {name} failed: {exc!r} (traceback in the JSON)")
        self.save()

    def run(self) -> int:
        args = self.args
        amqp_uri = support.fresh_vhost("vr_bench")
        self.step("ceilings", lambda: self.ceilings(amqp_uri))
        self.step("rules", self.rules)  # in-process, before the platform takes the cores
        self.step("validation", self.validation)
        log_dir = self.out_dir / f"{args.name}-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.results["platform_logs"] = str(log_dir)
        self.platform_env = {
            **self.env, "AMQP_URI": amqp_uri, "VR_SCHEMA_PREFIX": self.prefix,
            "VR_VAR_DIR": str(self.out_dir / f"{args.name}-var"),
            # as the e2e tests run it: simulated eID, cheap password hashing, tokens that outlast the bench
            "IDENTITY_EID_PROVIDER": "simulated", "IDENTITY_ARGON2_TIME_COST": "1",
            "IDENTITY_ARGON2_MEMORY_COST": "8192", "IDENTITY_ACCESS_TOKEN_TTL": "7200",
        }
        plat = BenchPlatform(self.platform_env, log_dir)
        try:
            if not self.start_platform(plat):
                return 1
            self.login(plat)
            self.tenants, refusal = offered_tenants(plat.base_url)
            self.results["submit_tenants"] = self.tenants
            if not self.tenants:
                self.results["errors"]["submit"] = refusal
                self.show(f"\n!! no tenant accepted a Hundeanmeldung: {refusal}")
                return 1
            self.show(f"\nHundeanmeldung is offered online by {len(self.tenants)} of 25 tenants; the load goes to those.")
            if args.only_payments:
                self.step("payments", lambda: self.payments(plat))
                return self.finish()
            self.step("notifications", lambda: self.notifications(plat))  # before the load fills the mail queue
            if not args.only or set(args.only) - {"notifications"}:
                self.submit(plat, 500, "warmup")
            self.step("clients", lambda: self.clients(plat))
            self.step("end_to_end", lambda: self.end_to_end(plat))
            self.step("payments", lambda: self.payments(plat))
            self.step("handover", lambda: self.handover(plat))
            self.step("concurrency", lambda: self.concurrency(plat))
            self.step("pipelines", lambda: self.pipelines(plat))
            self.step("profile", lambda: self.profile(plat))
            self.step("replicas", lambda: self.replicas(plat))
            self.step("worklist", lambda: self.worklist(plat))
            self.step("search", lambda: self.search(plat))
            self.step("partitions", lambda: self.partitions(plat))  # last: it restarts the case-store processes
        finally:
            plat.stop_all()
            if not args.keep:
                support.drop_schemas(self.prefix)
        return self.finish()

    def finish(self) -> int:
        self.show(report.summary(self.results))
        self.results["machine"]["loadavg_at_end"] = os.getloadavg()
        path = self.save()
        print(f"\nwritten: {path} (+ .txt) in {self.results['elapsed_s']} s")
        return 0

    def start_platform(self, plat: BenchPlatform) -> bool:
        """Create the schemas and tables first (the platform's processes race each other on
        CREATE SCHEMA/TABLE when they start together), then start; one retry."""
        from services.common.db import ReadStore, ensure_schema
        from services.common.relay import POSITION_DDL
        from services.submissions.application import open_submissions
        from services.submissions.projections import CaseReadModels

        ensure_schema("catalog")
        open_submissions()
        CaseReadModels(ReadStore("submissions")).store.executescript(POSITION_DDL)
        for attempt in (1, 2):
            try:
                plat.start_all()
                return True
            except (RuntimeError, TimeoutError) as exc:
                plat.stop_all()
                self.results["errors"][f"platform_start_{attempt}"] = str(exc)[-3000:]
                self.show(f"\n!! the platform did not start (attempt {attempt}): {str(exc)[-1500:]}")
        self.save()
        return False

    def login(self, plat: BenchPlatform) -> None:
        """A citizen submits, a clerk with every service key of all 25 tenants reads the
        worklists: real accounts, created and logged in as the e2e tests do."""
        import httpx

        from bench.common import TENANTS
        from tests.e2e.accounts import Accounts

        with httpx.Client(base_url=plat.base_url, timeout=60) as http:
            accounts = Accounts(self.platform_env, http)
            citizen = accounts.citizen()
            self.payer_headers = accounts.proven_citizen().headers  # the Führungszeugnis needs the online ID
            clerk = accounts.staff([(ags, "clerk", ["*"]) for ags in TENANTS])
        bench_load.AUTH.update(citizen.headers)
        self.clerk_headers = clerk.headers

    # -- steps ------------------------------------------------------------------------------
    def submit(self, plat: BenchPlatform, n: int, tag: str, client: str | None = None, concurrency: int | None = None) -> dict[str, Any]:
        return submit_run(plat, self.dsn, self.schema, n, client or self.best, concurrency or self.args.concurrency, tag, self.tenants)

    def ceilings(self, amqp_uri: str) -> None:
        self.results["raw"] = {"postgres_insert": postgres_inserts(self.dsn), "rabbitmq_publish": rabbit_publish(amqp_uri)}
        self.show(report.ceilings(self.results["raw"]))

    def clients(self, plat: BenchPlatform) -> None:
        n, c = max(300, self.args.compare_n // 4), self.args.concurrency
        runs = [self.submit(plat, n, f"cmp-{client}", client) for client in CLIENTS]
        self.results["client_comparison"] = runs
        self.best = max(runs, key=lambda r: r["submissions_per_s"] or 0)["client"]
        self.show(report.e2e(f"2a. Load generators (N={n}, c={c})", runs, "client"))

    def end_to_end(self, plat: BenchPlatform) -> None:
        client = self.best
        run = self.submit(plat, self.args.n, "main")
        raw = (self.results.get("raw") or {}).get("postgres_insert", {}).get("rows_per_s")
        run["ratio_end_to_end_vs_raw_insert"] = round((run["end_to_end_per_s"] or 0) / raw, 3) if raw else None
        self.results["end_to_end"] = run
        self.show(report.e2e(f"2b. End to end (N={self.args.n}, client={client}, c={self.args.concurrency})", [run], "client"))
        self.show(report.cpu("2c. CPU during 2b", run["cpu"], run["accepted"]))

    def payments(self, plat: BenchPlatform) -> None:
        run = payment_run(plat, self.dsn, self.schema, self.payer_headers, self.args.payments, self.args.payment_concurrency)
        raw = (self.results.get("raw") or {}).get("postgres_insert", {}).get("rows_per_s")
        run["ratio_vs_raw_insert"] = round((run["payments_per_s"] or 0) / raw, 4) if raw else None
        self.results["payments"] = run
        self.show(report.payments(run))

    def concurrency(self, plat: BenchPlatform) -> None:
        runs = []
        for c in (1, 8, 32, 128):
            if self.elapsed() > LATEST_START_S["concurrency"]:
                self.show(f"(skipped concurrency {c}: time budget)")
                continue
            n = min(self.args.compare_n // 2, 50 + 50 * c)
            runs.append(self.submit(plat, n, f"conc{c}", concurrency=c))
        self.results["concurrency"] = runs
        self.show(report.e2e("2d. Latency vs concurrency (closed loop)", runs, "concurrency"))

    def pipelines(self, plat: BenchPlatform) -> None:
        """SUBMIT_PIPELINES 1, 2, 4, twice in turn (1 2 4 1 2 4), so that a burst of load from
        elsewhere on the box does not land on one setting only."""
        runs = []
        n = max(300, self.args.compare_n // 3)
        try:
            for rep in (1, 2):
                for pipelines in (1, 2, 4):
                    if self.elapsed() > LATEST_START_S["pipelines"]:
                        self.show(f"(skipped SUBMIT_PIPELINES={pipelines} round {rep}: time budget)")
                        continue
                    plat.restart("gateway", SUBMIT_PIPELINES=str(pipelines))
                    run = self.submit(plat, n, f"pipe{pipelines}-{rep}")
                    run["submit_pipelines"] = f"{pipelines} (round {rep})"
                    runs.append(run)
        finally:
            plat.restart("gateway", SUBMIT_PIPELINES="2")  # the config.yml default
        self.results["pipelines"] = runs
        self.show(report.e2e(f"2e. Gateway SUBMIT_PIPELINES (N={n} each, c={self.args.concurrency})", runs, "submit_pipelines"))

    def validation(self) -> None:
        """Form validation per submission, jsonschema alone against compiled (bench/writepath.py)."""
        from bench.writepath import validation_timing

        result = self.results["validation"] = validation_timing()
        self.show(report.table("1c. Form validation of one Hundeanmeldung (in-process, µs)", ["measure", "value"],
                               [[k, v] for k, v in result.items()]))

    def replicas(self, plat: BenchPlatform) -> None:
        """GATEWAY_REPLICAS 1 against 2 (bench/writepath.py)."""
        from bench.writepath import replicas_step, show

        if self.elapsed() > LATEST_START_S["replicas"] and not self.args.only:
            self.show("(skipped GATEWAY_REPLICAS 1 vs 2: time budget)")
            return
        raw = (self.results.get("raw") or {}).get("postgres_insert", {}).get("rows_per_s")
        result = replicas_step(plat, self.submit, max(500, self.args.compare_n // 6), raw)
        self.results["writepath_replicas"] = result
        self.show(show(f"2f. GATEWAY_REPLICAS (c={self.args.concurrency}, ratio against this run's raw INSERTs)", result["rows"]))

    def profile(self, plat: BenchPlatform) -> None:
        if self.elapsed() > LATEST_START_S["profile"]:
            self.show("(skipped the py-spy profile: time budget)")
            return
        binary = pyspy_binary()
        if binary is None:
            self.show("(py-spy not available: only the in-process cProfile below)")
            return
        from bench.profiling import OPERATIONS

        pids = {name: pid for name, pid in plat.pids().items() if name in OPERATIONS}
        spy = PySpy(binary, pids, self.out_dir / f"{self.args.name}-pyspy").start()
        try:
            run = self.submit(plat, max(300, self.args.compare_n // 2), "profile")
        finally:
            analysis = spy.stop()
        self.results["profile"] = {"run_under_py_spy": run, "py_spy": analysis, "raw_stacks": str(spy.out_dir)}
        self.show(report.profile("4a. py-spy", analysis))

    def worklist(self, plat: BenchPlatform) -> None:
        from bench.worklist import load_cases, query_latencies

        load = load_cases(self.args.cases, self.tenants or ("03460009",))
        self.results["worklist_load"] = load
        self.show(report.loading(load))
        self.results["worklist_queries"] = query_latencies(plat.base_url, self.clerk_headers)
        self.show(report.queries(self.results["worklist_queries"]))
        self.show(report.plans(self.results["worklist_queries"]))
        if load.get("cprofile_submit_batch"):
            self.show(report.cprofile(load["cprofile_submit_batch"]))


    def handover(self, plat: BenchPlatform) -> None:
        from bench.handover import run_handover_bench

        result = run_handover_bench(plat.base_url, self.platform_env["VR_VAR_DIR"],
                                    n=min(self.args.n, 5000) if not self.args.quick else 500)
        self.results["handover"] = result
        rows = [[k, v] for k, v in result.items()]
        self.show(report.table("6b. Hand-over (submission API: fetched + acknowledged)", ["measure", "value"], rows))

    def notifications(self, plat: BenchPlatform) -> None:
        from bench.notifications import run_notifications_bench

        result = run_notifications_bench(plat, self.platform_env, self.args.mails)
        self.results["notifications"] = result
        raw = result.pop("raw_smtp")
        rows = [[k, v] for k, v in result.items()] + [[f"raw SMTP {k}", v] for k, v in raw.items()]
        result["raw_smtp"] = raw
        self.show(report.table("1b. Notifications (event in → mail accepted by SMTP)", ["measure", "value"], rows))

    def rules(self) -> None:
        """Rules (issue #16): consumer events/s and shadow runs (bench/rules.py)."""
        from bench.rules import run_rules_bench

        args = self.args
        result = run_rules_bench(args.rules_consume, args.rules_shadow, args.rules_shadow_real)
        self.results["rules"] = result
        consumer, synthetic, real = result["consumer"], result["shadow_synthetic"], result["shadow_through_submissions"]
        rows = [
            ["consumer: case events/s (evaluate, case command, tracking; no broker/RPC)", consumer["events_per_s"]],
            [f"consumer: rules-store transactions per event (batches of {consumer['batch']})",
             consumer["rules_store_transactions_per_event"]],
            ["consumer: redelivered events/s (tracking hit)", consumer["redelivered_per_s"]],
            [f"shadow run, rule side: {synthetic['cases']} past cases (s)", synthetic["seconds"]],
            [f"shadow run through submissions' store: {real['cases']} cases (s)", real["seconds"]],
            ["  → estimated for 100,000 cases (s)", real["estimated_100k_s"]],
        ]
        self.show(report.table("Rules (bench/rules.py)", ["measure", "value"], rows))

    def partitions(self, plat: BenchPlatform) -> None:
        """1 vs 2 partitions of the case event store (bench/partitions.py)."""
        if self.elapsed() > LATEST_START_S["partitions"] and "partitions" not in self.args.only:
            self.show("(skipped partitions: time budget; run --only partitions)")
            return
        from bench.partitions import partition_runs

        raw = (self.results.get("raw") or {}).get("postgres_insert", {}).get("rows_per_s")
        result = partition_runs(lambda n, tag: self.submit(plat, n, tag), plat, self.args.compare_n,
                                1 if self.args.quick else 2, raw, self.tenants)
        self.results["partitions"] = result
        self.show(report.e2e(f"8. Case store partitions 1 vs 2 (N={result['n']} each, c={self.args.concurrency}, "
                             f"tenants per partition {result['tenants_per_partition']})", result["runs"], "partitions"))
        self.show("   mean per setting: " + "; ".join(
            f"{k} partition(s): {v['submissions_per_s']} submit/s, {v['end_to_end_per_s']} e2e/s, "
            f"ratio {v['ratio_end_to_end_vs_raw_insert']}, submit p99 {v['submit_p99_ms']} ms" for k, v in result["mean"].items()))

    def search(self, plat: BenchPlatform) -> None:
        """The catalog search bench of bench/search.py, when it is there and time allows."""
        if self.elapsed() > LATEST_START_S["search"]:
            self.show("(skipped the search bench: time budget)")
            return
        try:
            from bench.search import run_search_bench
        except ImportError:
            return
        result = run_search_bench(plat.base_url)
        self.results["search"] = result
        rows = [[k, v] for k, v in result.items() if not isinstance(v, list | dict)]
        self.show(report.table("5. Catalog search (bench/search.py)", ["measure", "value"], rows))


def main(argv: list[str] | None = None) -> int:
    return Bench(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
