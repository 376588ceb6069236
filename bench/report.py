"""The printed tables of ``make bench`` (the JSON holds the same figures and more)."""

from __future__ import annotations

from typing import Any

from bench.common import table

__all__ = ["table"]


def ceilings(raw: dict[str, Any]) -> str:
    pg, mq = raw["postgres_insert"], raw["rabbitmq_publish"]
    return table("1. Ceilings", ["measure", "per s", "notes"], [
        ["PostgreSQL single-row INSERT, 8 conns", pg["rows_per_s"], f"autocommit; p50 {pg['p50_ms']} ms, p99 {pg['p99_ms']} ms"],
        ["RabbitMQ publish, confirm per 500", mq["batch_confirm"]["msgs_per_s"], "persistent, ConfirmingPublisher (relay path)"],
        ["RabbitMQ publish, confirm each", mq["single_confirm"]["msgs_per_s"], "persistent, 1 message per confirm"],
    ])


def e2e(title: str, runs: list[dict[str, Any]], key: str) -> str:
    rows = []
    for r in runs:
        cpu = r["cpu"]
        rows.append([
            r[key], r["accepted"], r["submissions_per_s"], r["end_to_end_per_s"],
            r["submit_latency"]["p50_ms"], r["submit_latency"]["p99_ms"],
            r["submit_to_visible_latency"]["p50_ms"], r["submit_to_visible_latency"]["p99_ms"],
            cpu["per_process_pct_of_one_core"].get("bench (load generator)"), cpu.get("other_load_pct_of_one_core"),
        ])
    header = [key, "ok", "submit/s", "e2e/s", "http p50", "http p99", "vis p50", "vis p99", "client cpu%", "others cpu%"]
    note = ("(latencies in ms; vis = submit → visible in the worklist; client cpu% = the load generator, "
            "others cpu% = processes on the box that are not this bench)")
    return table(title, header, rows) + "\n" + note


def payments(run: dict[str, Any]) -> str:
    raw = run["raw_provider"]
    return table(f"5. Payments end to end (N={run['n']}, c={run['concurrency']})", ["measure", "value", "notes"], [
        ["payments completed end to end /s", run["payments_per_s"], "case with fee → started → paid on the pay page → case paid"],
        ["raw: the PSP simulator alone, payments/s", raw["payments_per_s"], "create over its API + pay page POST, same concurrency"],
        ["end to end / raw provider", run["ratio_vs_raw_provider"], ""],
        ["end to end / raw PostgreSQL INSERT", run.get("ratio_vs_raw_insert"), ""],
        ["cases paid", run["paid_cases"], f"all paid after {run['until_all_cases_paid_s']} s"],
        ["submit → paid on the page p50 / p99, ms", f"{run['submit_to_paid_on_page']['p50_ms']} / {run['submit_to_paid_on_page']['p99_ms']}", ""],
    ])


def cpu(title: str, window: dict[str, Any], accepted: int) -> str:
    rows = []
    for name, value in window["per_process_pct_of_one_core"].items():
        per_case = value / 100 * window["wall_s"] / accepted * 1000 if accepted else None
        rows.append([name, value, per_case])
    rows.append(["(not this bench) other processes", window.get("other_load_pct_of_one_core"), None])
    rows.append(["whole box busy, % of all cores", window["box_busy_pct_of_all_cores"], None])
    return table(title, ["process", "cpu % of 1 core", "cpu ms / submission"], rows)


def profile(title: str, spy: dict[str, Any]) -> str:
    parts = []
    for process, result in spy.items():
        if not result.get("samples"):
            continue
        rows = [[label, pct] for label, pct in result["inclusive_pct"].items()]
        rows.append(["— self time by library: " + ", ".join(f"{k} {v}" for k, v in list(result["self_pct_by_library"].items())[:6]), ""])
        parts.append(table(f"{title}: {process} ({result['samples']} samples ≈ {result['cpu_seconds_approx']} s on CPU)",
                           ["operation (inclusive, % of the process's samples)", "%"], rows))
    return "\n".join(parts)


def cprofile(summary: dict[str, Any]) -> str:
    rows = [[label, pct] for label, pct in summary["cumulative_pct_of_submit_batch"].items()]
    rows += [[f"self: {name}", pct] for name, pct in list(summary["top_self_time"].items())[:8]]
    return table(f"4b. cProfile of SubmissionsApp.submit_batch in-process ({summary['profiled_seconds']} s profiled)",
                 ["function", "% of submit_batch"], rows)


def loading(load: dict[str, Any]) -> str:
    rows = [
        ["cases in the worklist", load["worklist_rows"]],
        ["loaded in-process", load["loaded"]],
        ["in-process submit_batch, cases/s", load["submit_batch_cases_per_s"]],
        ["projector lag after the last batch, s", load["projector_lag_after_load_s"]],
        ["by status", ", ".join(f"{k} {v}" for k, v in load["by_status"].items())],
        ["tenants with cases; cases per tenant min–max", f"{load['tenants']}; {load['cases_per_tenant_min_max'][0]}–{load['cases_per_tenant_min_max'][1]}"],
    ]
    if load.get("load_errors"):
        rows.append(["load errors", ", ".join(f"{k} {v}" for k, v in load["load_errors"].items())])
    return table("3a. Worklist data", ["", ""], rows)


def queries(result: dict[str, Any]) -> str:
    rows = []
    for label, q in result.items():
        if label.startswith("_"):
            continue
        rows.append([label, q["rows_avg"], q["http"]["p50_ms"], q["http"]["p99_ms"], q["direct"]["p50_ms"], q["direct"]["p99_ms"]])
    return table("3b. Worklist page queries (ms; 25 tenants, random tenant per query)",
                 ["query", "rows", "http p50", "http p99", "direct p50", "direct p99"], rows)


def plans(result: dict[str, Any]) -> str:
    before, after = result.get("_plans_before_analyze", {}), result.get("_plans_after_analyze", {})
    rows = []
    for label, plan in after.items():
        old = before.get(label, {})
        rows.append([label, old.get("execution_ms"), plan["execution_ms"], plan["plan"][:70],
                     "" if old.get("plan") == plan["plan"] else "plan changed"])
    for label, plan in (result.get("_what_if_status_index") or {}).items():
        rows.append([f"{label} + index (tenant, status, submitted_at, case_id)", None, plan["execution_ms"], plan["plan"][:70], "what if"])
    return table(f"3c. EXPLAIN ANALYZE on one tenant, before/after ANALYZE worklist ({result.get('_analyze_ms')} ms)",
                 ["query", "ms before", "ms after", "plan after", ""], rows)


def summary(results: dict[str, Any]) -> str:
    main = results.get("end_to_end") or {}
    raw = (results.get("raw") or {}).get("postgres_insert") or {}
    rows = [
        ["raw PostgreSQL INSERT/s (8 conns)", raw.get("rows_per_s"), ""],
        ["submissions/s (HTTP accepted)", main.get("submissions_per_s"), ""],
        ["end-to-end/s (until visible in the worklist)", main.get("end_to_end_per_s"), ""],
        ["end-to-end / raw INSERT", main.get("ratio_end_to_end_vs_raw_insert"), "target ≥ 0.15"],
        ["submit p99, ms", (main.get("submit_latency") or {}).get("p99_ms"), "target ≤ 50"],
        ["submit → visible p99, ms", (main.get("submit_to_visible_latency") or {}).get("p99_ms"), ""],
    ]
    pay = results.get("payments") or {}
    rows.append(["payments end to end/s", pay.get("payments_per_s"), ""])
    rows.append(["payments end to end / raw provider", pay.get("ratio_vs_raw_provider"), "the PSP simulator alone"])
    for label, q in (results.get("worklist_queries") or {}).items():
        if not label.startswith("_"):
            rows.append([f"worklist '{label}' http p99, ms", q["http"]["p99_ms"], ""])
    return table("Summary", ["measure", "value", "note"], rows)
