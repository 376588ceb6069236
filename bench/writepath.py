"""The write path's own figures (issue #12 item 3/4): GATEWAY_REPLICAS 1 against 2 in the same
run, and one row per submit run with what the write path costs — gateway CPU per submission
(all replicas), submissions/s, end-to-end/s and its ratio to raw INSERTs, submit p50/p99.

``python -m bench.writepath BEFORE.json AFTER.json [--name NAME]`` puts two bench runs side
by side (each ratio against the raw INSERT rate of its own run) and writes the table to
``var/bench/<name>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchPlatform, table

HEADER = ["run", "gateway cpu ms/sub", "submissions cpu ms/sub", "relay+projector cpu ms/sub", "platform cpu ms/sub",
          "validation % of submissions", "submit/s", "e2e/s", "ratio e2e/raw", "p50 ms", "p99 ms", "load avg"]
#: Not the platform's own processes: shared with everything else on the box, or the bench itself.
SHARED = ("postgresql", "rabbitmq", "bench (load generator)")


def cpu_ms_per_submission(run: dict[str, Any], prefix: str) -> float | None:
    """CPU ms per accepted submission of every process named ``prefix`` or ``prefix-<k>``."""
    cpu, accepted = run.get("cpu") or {}, run.get("accepted") or 0
    per = cpu.get("per_process_pct_of_one_core") or {}
    share = sum(v for k, v in per.items() if k == prefix or (k.startswith(prefix + "-") and k[len(prefix) + 1:].isdigit()))
    return round(share / 100 * cpu["wall_s"] / accepted * 1000, 3) if accepted and cpu.get("wall_s") else None


def platform_cpu_ms_per_submission(run: dict[str, Any]) -> float | None:
    """CPU ms per accepted submission of all the platform's own processes together."""
    cpu, accepted = run.get("cpu") or {}, run.get("accepted") or 0
    per = cpu.get("per_process_pct_of_one_core") or {}
    share = sum(v for k, v in per.items() if k not in SHARED)
    return round(share / 100 * cpu["wall_s"] / accepted * 1000, 3) if accepted and cpu.get("wall_s") else None


def row(label: str, run: dict[str, Any], raw_inserts: float | None, validation_pct: float | None = None) -> dict[str, Any]:
    e2e = run.get("end_to_end_per_s")
    return {
        "run": label,
        "gateway_cpu_ms_per_submission": cpu_ms_per_submission(run, "gateway"),
        "submissions_cpu_ms_per_submission": cpu_ms_per_submission(run, "submissions"),
        "relay_projector_cpu_ms_per_submission": round(sum(
            cpu_ms_per_submission(run, name) or 0.0 for name in ("relay", "projector")), 3),
        "platform_cpu_ms_per_submission": platform_cpu_ms_per_submission(run),
        "validation_pct_of_submissions": validation_pct,
        "submissions_per_s": run.get("submissions_per_s"),
        "end_to_end_per_s": e2e,
        "raw_insert_per_s": raw_inserts,
        "ratio_end_to_end_vs_raw_insert": round(e2e / raw_inserts, 3) if e2e and raw_inserts else None,
        "submit_p50_ms": (run.get("submit_latency") or {}).get("p50_ms"),
        "submit_p99_ms": (run.get("submit_latency") or {}).get("p99_ms"),
        "concurrency": run.get("concurrency"),
    }


def show(title: str, rows: list[dict[str, Any]]) -> str:
    keys = ["run", "gateway_cpu_ms_per_submission", "submissions_cpu_ms_per_submission",
            "relay_projector_cpu_ms_per_submission", "platform_cpu_ms_per_submission", "validation_pct_of_submissions",
            "submissions_per_s", "end_to_end_per_s", "ratio_end_to_end_vs_raw_insert", "submit_p50_ms", "submit_p99_ms",
            "loadavg"]
    return table(title, HEADER, [[r.get(k) for k in keys] for r in rows])


def replicas_step(plat: BenchPlatform, submit: Callable[..., dict[str, Any]], n: int, raw_inserts: float | None,
                  counts: tuple[int, ...] = (1, 2, 1, 2)) -> dict[str, Any]:
    """Submit runs with each GATEWAY_REPLICAS setting in turn (1 2 1 2: a burst of load from
    elsewhere on the box lands on both); the platform is left with one replica."""
    runs, rows = [], []
    try:
        for i, replicas in enumerate(counts):
            plat.set_gateway_replicas(replicas)
            run = submit(plat, n, f"replicas{replicas}-{i}")
            run["gateway_replicas"] = replicas
            runs.append(run)
            rows.append(row(f"GATEWAY_REPLICAS={replicas} (round {i // 2 + 1})", run, raw_inserts))
    finally:
        plat.set_gateway_replicas(1)
    return {"runs": runs, "rows": rows}


def validation_share(results: dict[str, Any]) -> float | None:
    """Form validation's share of the submissions service's busy py-spy samples, from the
    raw stacks when they are still there (so older runs are read the same way)."""
    from bench.profiling import analyse

    label = "form validation (field_errors, jsonschema)"
    profile = results.get("profile") or {}
    stacks = Path(profile.get("raw_stacks") or "/nonexistent") / "submissions.txt"
    spy = analyse(stacks, "submissions") if stacks.exists() else (profile.get("py_spy") or {}).get("submissions") or {}
    return (spy.get("inclusive_pct_of_busy") or {}).get(label)


def validation_timing(repeat: int = 2000) -> dict[str, Any]:
    """One Hundeanmeldung validated by jsonschema alone and by the compiled validator, µs
    each (in-process, so the figure hardly depends on the rest of the box)."""
    import timeit

    from jsonschema import Draft202012Validator, FormatChecker

    from services.catalog.definitions import DEFINITIONS_DIR
    from services.common.validation import CompiledValidator
    from services.submissions.commands import field_errors
    from tests.examples import form

    schema = json.loads((DEFINITIONS_DIR / "hundeanmeldung.json").read_text(encoding="utf-8"))["form"]
    data, bad = form(), {**form(), "chip_number": "12", "email": 5}
    before = Draft202012Validator(schema, format_checker=FormatChecker())
    after = CompiledValidator(schema, format_checker=FormatChecker())
    out: dict[str, Any] = {}
    for name, validator in (("jsonschema", before), ("compiled", after)):
        for kind, value in (("valid", data), ("invalid", bad)):
            seconds = min(timeit.repeat(lambda v=validator, d=value: field_errors(v, d), number=repeat // 4, repeat=3))
            out[f"{name}_{kind}_us"] = round(seconds / (repeat // 4) * 1e6, 1)
    out["speedup_valid"] = round(out["jsonschema_valid_us"] / out["compiled_valid_us"], 1)
    return out


def summary_row(results: dict[str, Any], label: str) -> dict[str, Any] | None:
    """The main end-to-end run of one bench result as a row (its own raw INSERT rate)."""
    run = results.get("end_to_end")
    if not run:
        return None
    raw = ((results.get("raw") or {}).get("postgres_insert") or {}).get("rows_per_s")
    out = row(label, run, raw, validation_share(results))
    out["loadavg"] = round(((results.get("machine") or {}).get("loadavg_at_start") or [0])[0], 1)
    return out


def compare(paths: list[Path], name: str) -> Path:
    rows = []
    for path in paths:
        results = json.loads(path.read_text())
        if (r := summary_row(results, results.get("name") or path.stem)) is not None:
            rows.append(r)
        for r in (results.get("writepath_replicas") or {}).get("rows", []):
            rows.append({**r, "run": f"{results.get('name')}: {r['run']}"})
    out = ROOT / "var" / "bench" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"name": name, "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "sources": [str(p) for p in paths], "rows": rows}, indent=2, ensure_ascii=False))
    print(show("Write path, run by run (ratio against each run's own raw INSERT rate)", rows))
    print(f"\nwritten: {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.writepath", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="var/bench/<run>.json files, oldest first")
    parser.add_argument("--name", default=datetime.now(UTC).strftime("writepath-%Y%m%d-%H%M%S"))
    args = parser.parse_args(argv)
    compare(args.runs, args.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
