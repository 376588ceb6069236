"""``make bench``: how fast is the platform, and where does the time go? One run measures

1. the ceilings: raw PostgreSQL single-row INSERTs (8 connections) and raw RabbitMQ
   publishing with confirms;
2. submissions through the HTTP gateway into the clerk worklist, with the real processes
   (catalog, submissions, gateway, relay, projector): submissions/s, end-to-end/s, submit
   and submit→visible latencies, load generator comparison, SUBMIT_PIPELINES 1/2/4;
3. worklist page queries with 100,000 cases over 25 tenants, via HTTP and in-process;
4. a profile (py-spy on every platform process, cProfile of ``submit_batch`` in-process).

It prints tables and writes everything to ``var/bench/<name>.json``. No assertions: the
figures are for people. Run as ``python -m tests.bench [--name NAME] [--n 20000] [--quick]``
with POSTGRES_* in the environment (the Makefile sets them and recreates vr_bench).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests import support
from tests.bench_common import ROOT, BenchPlatform, conninfo, pg_env, table
from tests.bench_load import CLIENTS, submit_run
from tests.bench_raw import postgres_inserts, rabbit_publish

BUDGET_S = 9 * 60  # optional steps are skipped when the run gets near 10 minutes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=os.environ.get("BENCH_NAME") or datetime.now(UTC).strftime("bench-%Y%m%d-%H%M%S"))
    parser.add_argument("--n", type=int, default=int(os.environ.get("BENCH_N", "20000")), help="submissions in the main run")
    parser.add_argument("--compare-n", type=int, default=3000, help="submissions per client / pipeline comparison run")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cases", type=int, default=100_000, help="cases in the worklist for the query step")
    parser.add_argument("--quick", action="store_true", help="small numbers, to try the bench itself")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas (default: drop them)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.compare_n, args.cases = 2000, 500, 10_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.monotonic()
    env = pg_env()
    os.environ.update(env)
    support.ensure_database(env["POSTGRES_DBNAME"])
    prefix = f"bench{support.unique_prefix()}"
    os.environ["VR_SCHEMA_PREFIX"] = prefix  # the in-process steps use the platform's schemas
    dsn = conninfo(env)
    out_dir = ROOT / "var" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "name": args.name,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {k: v for k, v in vars(args).items() if k != "name"},
    }
    report: list[str] = []

    def show(text: str) -> None:
        report.append(text)
        print(text, flush=True)

    def save() -> Path:
        path = out_dir / f"{args.name}.json"
        results["elapsed_s"] = round(time.monotonic() - began, 1)
        path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
        return path

    amqp_uri = support.fresh_vhost("vr_bench")
    # 1. ceilings ---------------------------------------------------------------------------
    raw_pg = postgres_inserts(dsn)
    raw_mq = rabbit_publish(amqp_uri)
    results["raw"] = {"postgres_insert": raw_pg, "rabbitmq_publish": raw_mq}
    show(table("1. Ceilings", ["measure", "per s", "notes"], [
        ["PostgreSQL single-row INSERT, 8 conns", raw_pg["rows_per_s"], f"p50 {raw_pg['p50_ms']} ms, p99 {raw_pg['p99_ms']} ms"],
        ["RabbitMQ publish, confirm per 500", raw_mq["batch_confirm"]["msgs_per_s"], "ConfirmingPublisher (relay path)"],
        ["RabbitMQ publish, confirm each", raw_mq["single_confirm"]["msgs_per_s"], "1 message per confirm"],
    ]))
    save()

    log_dir = Path(tempfile.mkdtemp(prefix="vr-bench-logs-"))
    plat = BenchPlatform({**env, "AMQP_URI": amqp_uri, "VR_SCHEMA_PREFIX": prefix}, log_dir)
    schema = f"{prefix}submissions"
    try:
        plat.start_all()
        results["platform_logs"] = str(log_dir)
        # 2. end to end -----------------------------------------------------------------------
        runs = []
        for client in CLIENTS:
            runs.append(submit_run(plat, dsn, schema, args.compare_n, client, args.concurrency, f"cmp-{client}"))
        best = max(runs, key=lambda r: r["submissions_per_s"] or 0)["client"]
        results["client_comparison"] = runs
        show(e2e_table(f"2a. Load generator comparison (N={args.compare_n}, c={args.concurrency})", runs, "client"))
        save()
        main_run = submit_run(plat, dsn, schema, args.n, best, args.concurrency, "main")
        main_run["ratio_end_to_end_vs_raw_insert"] = round((main_run["end_to_end_per_s"] or 0) / raw_pg["rows_per_s"], 3)
        results["end_to_end"] = main_run
        show(e2e_table(f"2b. End to end, N={args.n}, client={best}, c={args.concurrency}", [main_run], "client"))
        show(cpu_table(f"2c. CPU during the main run (% of one core; box has {os.cpu_count()} cores)", main_run["cpu"]))
        save()
        sweep = []
        for pipelines in (1, 2, 4):
            if time.monotonic() - began > BUDGET_S * 0.45:
                show(f"(skipped SUBMIT_PIPELINES={pipelines}: time budget)")
                continue
            plat.restart("gateway", SUBMIT_PIPELINES=str(pipelines))
            run = submit_run(plat, dsn, schema, args.compare_n, best, args.concurrency, f"pipe{pipelines}")
            run["submit_pipelines"] = pipelines
            sweep.append(run)
        plat.restart("gateway", SUBMIT_PIPELINES="2")
        results["pipelines"] = sweep
        show(e2e_table(f"2d. Gateway SUBMIT_PIPELINES (N={args.compare_n})", sweep, "submit_pipelines"))
        save()
    finally:
        plat.stop_all()
        if not args.keep:
            support.drop_schemas(prefix)
    path = save()
    (out_dir / f"{args.name}.txt").write_text("\n".join(report) + "\n")
    print(f"\nwritten: {path} ({results['elapsed_s']} s)")
    return 0


def e2e_table(title: str, runs: list[dict[str, Any]], key: str) -> str:
    rows = []
    for r in runs:
        rows.append([
            r[key], r["accepted"], r["submissions_per_s"], r["end_to_end_per_s"],
            r["submit_latency"]["p50_ms"], r["submit_latency"]["p99_ms"],
            r["submit_to_visible_latency"]["p50_ms"], r["submit_to_visible_latency"]["p99_ms"],
            r["cpu"]["per_process_pct_of_one_core"].get("bench (load generator)"),
        ])
    header = [key, "ok", "submit/s", "e2e/s", "http p50", "http p99", "vis p50", "vis p99", "client cpu%"]
    return table(title, header, rows) + "\n(latencies in ms; vis = submit → visible in the worklist)"


def cpu_table(title: str, cpu: dict[str, Any]) -> str:
    rows = [[name, value] for name, value in cpu["per_process_pct_of_one_core"].items()]
    rows.append(["whole box busy (% of all cores)", cpu["box_busy_pct_of_all_cores"]])
    rows.append(["iowait (% of all cores)", cpu["box_iowait_pct"]])
    return table(title, ["process", "cpu %"], rows)


if __name__ == "__main__":
    sys.exit(main())
