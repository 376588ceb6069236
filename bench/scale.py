"""``make bench-scale``: the platform with all ~10,800 German municipalities as tenants and a
million cases (issue #12). Figures, ratios and progress; no assertions.

    python -m bench.scale [--cases 1000000] [--tenants 10800] [--before 10000] [--quick] [--name NAME]

1. a synthetic Germany (:mod:`bench.scale_data`) registered in the catalog (tenants, offerings);
2. the platform started; a citizen and a clerk (authorised for three services of the village
   and the town) log in; the relay is stopped while the history is loaded;
3. stage A: the village's cases and ``--before`` others through ``submit_batch`` with their
   status events (:mod:`bench.scale_load`); rebuild; the village's worklist timed ("before");
4. stage B: the rest up to ``--cases`` (progress: cases/s, ETA);
5. ``python -m services.submissions.projector rebuild`` (events/s, peak RSS) and per tenant;
   the relay resumes at the event store's head (the history is not re-sent to the other
   consumers: they would mail a million citizens);
6. through HTTP: worklist pages (village, town; before/after for the village), "Meine
   Anträge", search on random portals of the 10,800; RSS of every platform process.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import httpx

from bench import report
from bench.common import ROOT, BenchPlatform, latency_summary
from bench.run import Bench
from bench.scale_data import case_counts, generate, own_cases, pick, plan_cases
from bench.scale_load import load_cases, register_germany, say
from bench.scale_measure import SERVICE_KEYS, direct_queries, rss_mb, timed_get
from services.catalog.reference import DATA_DIR, read_csv
from tests import support

TARGETS = {"worklist_p99_ms": 50, "rebuild_events_per_s": 20_000, "rss_mb": 300}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=os.environ.get("BENCH_NAME") or datetime.now(UTC).strftime("scale-%Y%m%d-%H%M%S"))
    parser.add_argument("--cases", type=int, default=int(os.environ.get("SCALE_CASES", "1000000")))
    parser.add_argument("--tenants", type=int, default=int(os.environ.get("SCALE_TENANTS", "10800")), help="municipalities")
    parser.add_argument("--before", type=int, default=10_000, help="cases loaded before the 'before' measurement")
    parser.add_argument("--repeats", type=int, default=200, help="requests per latency figure")
    parser.add_argument("--quick", action="store_true", help="20,000 cases, to try the bench itself")
    parser.add_argument("--keep", action="store_true", help="keep the bench schemas (default: drop them)")
    args = parser.parse_args(argv)
    if args.quick:
        args.cases, args.before, args.repeats = min(args.cases, 20_000), 2_000, 100
    args.only = []
    return args


class ScaleBench(Bench):
    def run(self) -> int:
        args = self.args
        hosted = read_csv(DATA_DIR / "tenants.csv")
        germany = generate(args.tenants, taken_prefixes=frozenset(r["ags"][:5] for r in hosted),
                           taken_codes=frozenset(r["code"] for r in hosted))
        counts = case_counts(germany, args.cases)
        village, town = pick(counts, 50), pick(counts, 50_000)
        self.chosen = {"village": village, "town": town}
        self.results["plan"] = {
            "municipalities": len(germany.gemeinden), "districts": len(germany.districts),
            "laender": len({t.land for t in germany.tenants}),
            "village": {"ags": village, "portal_cases": counts[village], "own_worklist_planned": own_cases(counts[village])},
            "town": {"ags": town, "portal_cases": counts[town], "own_worklist_planned": own_cases(counts[town])},
            "largest_portal_cases": max(counts.values()), "median_portal_cases": sorted(counts.values())[len(counts) // 2],
        }
        self.show(f"[scale] plan: {self.results['plan']}")
        self.platform_env = {
            **self.env, "AMQP_URI": support.fresh_vhost("vr_bench"), "VR_SCHEMA_PREFIX": self.prefix,
            "VR_VAR_DIR": str(self.out_dir / f"{args.name}-var"), "IDENTITY_EID_PROVIDER": "simulated",
            "IDENTITY_ARGON2_TIME_COST": "1", "IDENTITY_ARGON2_MEMORY_COST": "8192", "IDENTITY_ACCESS_TOKEN_TTL": "14400",
        }
        log_dir = self.out_dir / f"{args.name}-logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        plat = BenchPlatform(self.platform_env, log_dir)
        try:
            from services.submissions.application import open_submissions

            self.step("catalog", lambda: self.catalog(germany))
            if not self.start_platform(plat):
                return 1
            self.login(plat)
            plat.kill("relay", 15)
            app = open_submissions()
            principal = self.principal
            rest = {ags: n for ags, n in counts.items() if ags != village}
            first = min(args.before, sum(rest.values()))
            stage_a = chain(plan_cases({village: counts[village]}, seed=1), plan_cases(rest, stop=first))
            self.step("load_a", lambda: self.load(app, stage_a, counts[village] + first, "A", principal))
            self.step("rebuild_a", lambda: self.rebuild("rebuild_a"))
            self.step("before", lambda: self.measure(plat, "before"))
            self.step("load_b", lambda: self.load(app, plan_cases(rest, start=first), sum(rest.values()) - first, "B", principal))
            self.step("rebuild", lambda: self.rebuild("rebuild"))
            for name in ("village", "town"):
                self.step(f"rebuild_{name}", lambda name=name: self.rebuild(f"rebuild_{name}", self.chosen[name]))
            self.resume_relay(app, plat)
            self.step("after", lambda: self.measure(plat, "after"))
            self.step("search", lambda: self.search(plat, germany))
            self.step("rss", lambda: self.rss(plat))
        finally:
            plat.stop_all()
            if not args.keep:
                support.drop_schemas(self.prefix)
        self.show(self.figures())
        return self.finish()

    def finish(self) -> int:
        self.results["machine"]["loadavg_at_end"] = os.getloadavg()
        path = self.save()
        print(f"\nwritten: {path} (+ .txt) in {self.results['elapsed_s']} s")
        return 0

    def principal(self, applicant: int) -> str:
        return self.citizen_ref if applicant == 0 else f"synth-applicant-{applicant}"

    # -- steps ------------------------------------------------------------------------------
    def catalog(self, germany: Any) -> None:
        from services.common.db import ensure_schema

        ensure_schema("catalog")
        self.results["catalog"] = register_germany(germany)
        self.show(f"[scale] catalog: {self.results['catalog']}")

    def login(self, plat: BenchPlatform) -> None:
        from tests.e2e.accounts import Accounts

        with httpx.Client(base_url=plat.base_url, timeout=60) as http:
            accounts = Accounts(self.platform_env, http)
            citizen = accounts.citizen()
            grants = [(self.chosen[k], "clerk", SERVICE_KEYS) for k in ("village", "town")]
            clerk = accounts.staff(grants)
        self.citizen_ref, self.citizen_headers, self.clerk_headers = citizen.account_id, citizen.headers, clerk.headers

    def load(self, app: Any, plan: Any, total: int, tag: str, principal: Any) -> None:
        say(f"[scale] stage {tag}: {total:,} cases (load average {os.getloadavg()[0]:.1f})")
        result = load_cases(app, plan, total, f"scale-{tag}", principal)
        result["loadavg_after"] = os.getloadavg()
        self.results[f"load_{tag.lower()}"] = result
        self.show(f"[scale] stage {tag} loaded: {result}")

    def rebuild(self, key: str, tenant: str | None = None) -> None:
        """The rebuild command as an operator runs it, timed, with its peak RSS."""
        command = [sys.executable, "-m", "services.submissions.projector", "rebuild", *(["--tenant", tenant] if tenant else [])]
        env = {**os.environ, **self.platform_env, "PYTHONPATH": str(ROOT)}
        began, peak, cpu = time.perf_counter(), 0.0, resource.getrusage(resource.RUSAGE_CHILDREN)
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        while proc.poll() is None:
            peak = max(peak, rss_mb(proc.pid) or 0.0)
            time.sleep(0.2)
        seconds = time.perf_counter() - began
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime
        output = proc.stdout.read() if proc.stdout else ""
        found = re.search(r"from (\d+) events", output)
        events = int(found.group(1)) if found else None
        head = self._head()
        self.results[key] = {
            "tenant": tenant, "returncode": proc.returncode, "seconds": round(seconds, 1), "events_applied": events,
            "event_store_head": head, "events_per_s": round(events / seconds) if events and not tenant else None,
            "notifications_read_per_s": round(head / seconds) if head else None, "peak_rss_mb": peak,
            # the box is shared: the command's own CPU, without the time it waited for a core
            "cpu_s": round(cpu_s, 1), "events_per_cpu_s": round(events / cpu_s) if events and cpu_s and not tenant else None,
        }
        self.show(f"[scale] {key}: {self.results[key]}")

    def _head(self) -> int:
        from services.submissions.application import open_submissions

        app = open_submissions()
        try:
            return app.recorder.max_notification_id() or 0
        finally:
            app.close()

    def resume_relay(self, app: Any, plat: BenchPlatform) -> None:
        """The read models were rebuilt from the store: the relay goes on from its head."""
        from services.common.db import ReadStore

        with ReadStore("submissions").transaction() as cur:
            cur.execute("INSERT INTO relay_position (source, position) VALUES (?, ?) ON CONFLICT (source) "
                        "DO UPDATE SET position = excluded.position", ("submissions", app.recorder.max_notification_id() or 0))
        plat.start("relay")
        time.sleep(15)  # the relay's start and first empty polls are not what the queries measure

    def measure(self, plat: BenchPlatform, when: str) -> None:
        repeats = self.args.repeats
        out: dict[str, Any] = {"loadavg": os.getloadavg()}
        with httpx.Client(base_url=plat.base_url, timeout=60, headers=self.clerk_headers) as http:
            for name, ags in self.chosen.items():
                if when == "before" and name == "town":
                    continue
                path = f"/api/v1/tenants/{ags}/worklist"
                out[f"worklist_{name}"] = timed_get(http, path, repeats)
                out[f"worklist_{name}_in_review"] = timed_get(http, path, repeats // 2, {"status": "in_review"})
                out[f"worklist_{name}_closed"] = timed_get(http, path, repeats // 2, {"state": "closed"})
        with httpx.Client(base_url=plat.base_url, timeout=60, headers=self.citizen_headers) as http:
            out["my_cases"] = timed_get(http, "/api/v1/me/cases", repeats)
        out.update(direct_queries(self.chosen, repeats, when == "before"))
        self.results[when] = out
        self.show(report.table(f"scale: {when}", ["query", "n", "p50 ms", "p99 ms", "rows", "statuses"],
                               [[k, v["n"], v["p50_ms"], v["p99_ms"], v["rows"], str(v["statuses"])]
                                for k, v in out.items() if isinstance(v, dict)]))

    def search(self, plat: BenchPlatform, germany: Any) -> None:
        from services.catalog.search import load_cases as search_cases

        queries = [c for c in search_cases() if c["lang"] == "de"]
        rng = random.Random(5)
        portals = [t.ags for t in germany.gemeinden]
        times, statuses = [], set()
        with httpx.Client(base_url=plat.base_url, timeout=60) as http:
            for _ in range(self.args.repeats * 2):
                query, portal = rng.choice(queries), rng.choice(portals)
                began = time.perf_counter()
                response = http.get(f"/api/v1/tenants/{portal}/services", params={"q": query["query"]})
                times.append(time.perf_counter() - began)
                statuses.add(response.status_code)
        self.results["search"] = {**latency_summary(times), "statuses": sorted(statuses), "portals": len(portals)}
        self.show(f"[scale] search: {self.results['search']}")

    def rss(self, plat: BenchPlatform) -> None:
        self.results["rss_mb"] = {name: rss_mb(pid) for name, pid in sorted(plat.pids().items())}
        self.show(report.table("scale: RSS of every platform process (MB)", ["process", "VmRSS MB"],
                               [[k, v] for k, v in self.results["rss_mb"].items()]))

    def figures(self) -> str:
        """The issue's figures next to their targets."""
        r = self.results

        def get(*path: str) -> Any:
            value: Any = r
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            return value

        rss = {k: v for k, v in (r.get("rss_mb") or {}).items() if v is not None}
        worst = max(rss.items(), key=lambda kv: kv[1], default=(None, None))
        village_before, village_after = get("before", "worklist_village", "p99_ms"), get("after", "worklist_village", "p99_ms")
        rows = [
            ["worklist p99, village (HTTP, clerk's filter)", village_after, "≤ 50 ms"],
            ["worklist p99, town (HTTP, clerk's filter)", get("after", "worklist_town", "p99_ms"), "≤ 50 ms"],
            ["village p99 before the big load", village_before, "flat"],
            ["  after / before", round(village_after / village_before, 2) if village_before and village_after else None, "≈ 1"],
            ["worklist p99 in-process (read model only): village before", get("before", "direct_village", "p99_ms"), "–"],
            ["  village after / town after", f"{get('after', 'direct_village', 'p99_ms')} / {get('after', 'direct_town', 'p99_ms')}",
             "flat"],
            ["Meine Anträge p99 (HTTP)", get("after", "my_cases", "p99_ms"), "–"],
            ["full rebuild, case events/s", get("rebuild", "events_per_s"), "≥ 20,000"],
            ["full rebuild, case events per CPU-second of the command", get("rebuild", "events_per_cpu_s"), "–"],
            ["full rebuild, seconds", get("rebuild", "seconds"), "–"],
            ["rebuild peak RSS MB", get("rebuild", "peak_rss_mb"), "–"],
            ["per-tenant rebuild (village), s", get("rebuild_village", "seconds"), "–"],
            ["per-tenant rebuild (town), s", get("rebuild_town", "seconds"), "–"],
            [f"largest RSS ({worst[0]}), MB", worst[1], "≤ 300 MB"],
            ["search p99 (HTTP, random portal)", get("search", "p99_ms"), "–"],
            ["cases/s loading (stage B)", get("load_b", "cases_per_s"), "–"],
        ]
        self.results["figures"] = {row[0]: {"value": row[1], "target": row[2]} for row in rows}
        return report.table(f"Scale figures ({self.args.cases:,} cases, {self.args.tenants:,} municipalities)",
                            ["figure", "value", "target"], rows)


def main(argv: list[str] | None = None) -> int:
    return ScaleBench(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
