"""The chaos suite (`make chaos`, not `make test`): under a steady load of submissions through
the gateway's HTTP API, each fault in turn — ``kill -9`` of every process of the platform (the
supervisor starts it again, as deploy/run.py does), the platform's own RabbitMQ node stopped
for 60 s, its own PostgreSQL cluster stopped for 30 s — and afterwards, read from the stores:

- every submission that got a 201 exists exactly once (its case id is the one its
  Idempotency-Key maps to; one case per key), is in the worklist exactly once with the status
  of its last event, and its integration events were applied exactly once (the worklist and
  case-status read models at the case's last version; the notifications' confirmation once);
- no submission without a 201 exists twice: every new case belongs to a key the load tried;
- the platform has caught up within 60 s of recovery;
- while PostgreSQL is down the API answers 503 problem+json with Retry-After (never a 500).

Broker and database are the test's own (tests.support.PrivateRabbit / PrivatePostgres): the
machine's shared ones serve other runs. Settings: VR_CHAOS_SUBMISSIONS (whole run, default
10,000, split over the faults), VR_CHAOS_FAULTS (comma-separated subset), VR_CHAOS_BROKER_S (60),
VR_CHAOS_DB_S (30), VR_CHAOS_WORKERS (16), VR_CHAOS_RATE (40 submissions/s offered). The table is printed and written to
``$VR_VAR_DIR/chaos/<run>.json`` (var/chaos/ by default).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from services.common.cases import Status
from services.submissions.domain import case_id_for
from tests import support
from tests.e2e.accounts import Accounts
from tests.examples import form

TOTAL = int(os.environ.get("VR_CHAOS_SUBMISSIONS", "10000"))
BROKER_S = float(os.environ.get("VR_CHAOS_BROKER_S", "60"))
DB_S = float(os.environ.get("VR_CHAOS_DB_S", "30"))
WORKERS = int(os.environ.get("VR_CHAOS_WORKERS", "16"))
#: Submissions per second the load offers (a steady load: a fault meets it mid-stream, not after
#: a burst has ended); 0: as fast as the platform answers.
RATE = float(os.environ.get("VR_CHAOS_RATE", "40"))
CATCH_UP_S = 60.0
STATUSES = frozenset(Status)
#: The gateway's bound on a request: a 503 while the database is down comes within it (after
#: POSTGRES_CONNECT_TIMEOUT when a worker is free; under a full load the workers all wait that
#: long, so the bound is what a caller sees), never a hang.
REQUEST_TIMEOUT_S = 15
TENANT = "03460009"  # Vechta: takes the Hundeanmeldung online
FAULTS = ["kill:" + name for name in (*support.Platform.NAMEKO, *support.Platform.PLAIN)] + ["rabbitmq", "postgresql"]
SELECTED = [f for f in FAULTS if not os.environ.get("VR_CHAOS_FAULTS")
            or f.split(":")[-1] in os.environ["VR_CHAOS_FAULTS"].split(",") or f in os.environ["VR_CHAOS_FAULTS"].split(",")]
PER_FAULT = max(1, TOTAL // max(1, len(SELECTED)))
BUDGET_S = 900 + len(SELECTED) * (60 + PER_FAULT / (RATE or 20)) + 2 * (BROKER_S + DB_S + 180)
VAR = Path(os.environ.get("VR_VAR_DIR", support.ROOT / "var"))


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.PrivatePostgres]:
    with support.private_postgres(tmp_path_factory.mktemp("pg")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.PrivateRabbit]:
    with support.private_rabbitmq(tmp_path_factory.mktemp("rabbit")) as node:
        yield node


@pytest.fixture(scope="module")
def env(database: support.PrivatePostgres, broker: support.PrivateRabbit,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The platform's settings: the own cluster and node (nothing to drop after: both go away)."""
    yield {**database.env, "AMQP_URI": broker.amqp_uri, "VR_SCHEMA_PREFIX": support.unique_prefix(),
           "VR_VAR_DIR": str(tmp_path_factory.mktemp("chaos-var")), "IDENTITY_EID_PROVIDER": "simulated",
           "IDENTITY_ARGON2_TIME_COST": "1", "IDENTITY_ARGON2_MEMORY_COST": "8192", "GATEWAY_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT_S),
           "IDENTITY_ACCESS_TOKEN_TTL": "7200", "POSTGRES_POOL_SIZE": "1"}


@pytest.fixture(scope="module")
def running(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[support.Platform]:
    with support.platform(env, tmp_path_factory.mktemp("chaos-logs")) as plat:
        yield plat


# -- the load -----------------------------------------------------------------------------------
@dataclass
class Load:
    """Submissions through the gateway by a pool of threads, each key retried (same key) on a
    503 or a broken connection as a client would; every 201 and its case id recorded."""

    base_url: str
    headers: dict[str, str]
    tag: str
    count: int
    deadline: float
    principal: str = ""
    rate: float = RATE  # submissions per second offered (0: as fast as answered)  # whose submissions: a key's case id is derived from portal, principal and key
    accepted: dict[str, str] = field(default_factory=dict)  # key -> case id
    tried: list[str] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # 5xx other than 503, with their body
    progress: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.next = iter(range(self.count))
        self.body = json.dumps({"service_id": "hundeanmeldung", "form_data": form()})
        self.threads = [threading.Thread(target=self.worker, daemon=True) for _ in range(WORKERS)]
        self.next_at = time.monotonic()

    def start(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=max(1.0, self.deadline - time.monotonic() + 60))

    def worker(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30, headers=self.headers) as http:
            while time.monotonic() < self.deadline:
                with self.lock:
                    number = next(self.next, None)
                    slot = max(time.monotonic(), self.next_at)
                    self.next_at = slot + (1 / self.rate if self.rate else 0)
                if number is None:
                    return
                time.sleep(max(0.0, slot - time.monotonic()))
                key = f"{self.tag}-{number}"
                with self.lock:
                    self.tried.append(key)
                self.submit(http, key)
                with self.lock:
                    self.progress += 1

    def submit(self, http: httpx.Client, key: str) -> None:
        while time.monotonic() < self.deadline:  # a client that keeps trying (same key) until it gets an answer
            try:
                response = http.post(f"/api/v1/tenants/{TENANT}/cases", content=self.body,
                                     headers={"Idempotency-Key": key, "Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                self.count_answer(type(exc).__name__)
                time.sleep(1.0)
                continue
            self.count_answer(str(response.status_code))
            if response.status_code == 201:
                with self.lock:
                    self.accepted[key] = response.json()["case_id"]
                return
            if response.status_code >= 500 and response.status_code != 503:
                with self.lock:
                    self.bad.append(f"{response.status_code} {response.text[:300]}")
            elif response.status_code < 500 and response.status_code != 429:
                with self.lock:
                    self.bad.append(f"{response.status_code} {response.text[:300]}")
                return
            time.sleep(min(2.0, float(response.headers.get("Retry-After") or 1)))

    def count_answer(self, what: str) -> None:
        with self.lock:
            self.answers[what] += 1

    def wait_progress(self, share: float) -> None:
        while self.progress < self.count * share and time.monotonic() < self.deadline and any(
                t.is_alive() for t in self.threads):
            time.sleep(0.1)


# -- what the stores say -------------------------------------------------------------------------
class Stores:
    """Reads the truth from the platform's own PostgreSQL: event store, read models, outbox."""

    def __init__(self, database: support.PrivatePostgres, prefix: str) -> None:
        self.database = database
        self.submissions, self.notifications = prefix + "submissions", prefix + "notifications"
        self.events_table: str | None = None

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.database.conninfo(), connect_timeout=5) as conn:
            if self.events_table is None:
                row = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                                   "AND table_name LIKE %s ORDER BY table_name LIMIT 1",
                                   (self.submissions, "%events")).fetchone()
                assert row, "no event table in the submissions schema"
                self.events_table = f'"{self.submissions}"."{row[0]}"'
            return conn.execute(sql.format(events=self.events_table, s=f'"{self.submissions}"',
                                           n=f'"{self.notifications}"'), params).fetchall()

    def cases(self) -> dict[str, int]:
        """Every case in the event store (not the store's other aggregates: reference sequences,
        applicants' case lists) with its last version and how often it was created."""
        self.query("SELECT 1")
        rows = self.query("SELECT originator_id::text, max(originator_version), sum(CASE WHEN originator_version = 1 "
                          "THEN 1 ELSE 0 END) FROM {events} GROUP BY originator_id "
                          "HAVING bool_or(originator_version = 1 AND topic LIKE %s)", ("%:Case.Submitted",))
        return {case_id: (int(last), int(created)) for case_id, last, created in rows}

    def worklist(self, ids: list[str]) -> dict[str, list[tuple[str, int]]]:
        found: dict[str, list[tuple[str, int]]] = {}
        for case_id, status, version in self.query("SELECT case_id, status, version FROM {s}.worklist "
                                                   "WHERE case_id = ANY(%s)", (ids,)):
            found.setdefault(case_id, []).append((status, version))
        return found

    def case_status(self, ids: list[str]) -> dict[str, int]:
        return dict(self.query("SELECT case_id, version FROM {s}.case_status WHERE case_id = ANY(%s)", (ids,)))

    def confirmations(self, ids: list[str]) -> Counter[tuple[str, str, str]]:
        rows = self.query("SELECT case_id, kind, channel FROM {n}.outbox WHERE case_id = ANY(%s)", (ids,))
        return Counter(rows)


def verify(stores: Stores, load: Load, before: set[str]) -> dict[str, Any]:
    """lost: a 201 whose case is missing, or not (yet) folded into every read model at its last
    version, or without its confirmation; duplicated: a case created twice, a key that gave two
    case ids, a case no key of the load maps to, or an event applied twice."""
    ids = sorted(set(load.accepted.values()))
    cases = stores.cases()
    worklist, status_rows = stores.worklist(ids), stores.case_status(ids)
    notes = stores.confirmations(ids)
    per_case = Counter(case_id for case_id, _, _ in notes)
    lost = {"store": [], "worklist": [], "case_status": [], "notifications": []}
    duplicated: dict[str, list[str]] = {"created_twice": [], "worklist": [], "notifications": [], "unknown_new_cases": []}
    for case_id in ids:
        if case_id not in cases:
            lost["store"].append(case_id)
            continue
        last, created = cases[case_id]
        if created != 1:
            duplicated["created_twice"].append(case_id)
        rows = worklist.get(case_id, [])
        if len(rows) > 1:
            duplicated["worklist"].append(case_id)
        if not rows or rows[0][1] != last or rows[0][0] not in STATUSES:
            lost["worklist"].append(case_id)
        if status_rows.get(case_id) != last:
            lost["case_status"].append(case_id)
        if not per_case[case_id]:
            lost["notifications"].append(case_id)
    duplicated["key_gave_other_id"] = [key for key, case_id in load.accepted.items() if case_id != str(
        case_id_for(TENANT, load.principal, key))]
    duplicated["notifications"] = sorted({c for (c, _, _), n in notes.items() if n > 1})
    # a new case the load's keys cannot explain: a submission stored twice under another id
    new = set(cases) - before
    duplicated["unknown_new_cases"] = sorted(new - set(ids) - set(expected_ids(load, new)))
    return {"lost": {k: v for k, v in lost.items() if v}, "duplicated": {k: v for k, v in duplicated.items() if v},
            "new_cases": len(new)}


def expected_ids(load: Load, new: set[str]) -> set[str]:
    """Case ids of keys that got no 201 but whose case was stored (the answer was lost on the
    way: a retry of the same key then answers 201 with the same id — or the run ended first)."""
    return {str(case_id_for(TENANT, load.principal, key)) for key in load.tried} & new


# -- the faults ------------------------------------------------------------------------------------
def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(running: support.Platform, timeout: float = 180) -> float:
    began = time.monotonic()
    support.eventually(lambda: http_ok(f"{running.base_url}/health/ready"), timeout=timeout, interval=0.5)
    return time.monotonic() - began


class OutageProbe:
    """Posts a submission every half second while the database is away and keeps the answers."""

    def __init__(self, running: support.Platform, headers: dict[str, str]) -> None:
        self.running, self.headers = running, headers
        self.answers: list[tuple[int, str | None, str, str, float]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.running.base_url, timeout=40, headers=self.headers) as http:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    response = http.post(f"/api/v1/tenants/{TENANT}/cases", headers={"Idempotency-Key": uuid.uuid4().hex},
                                         json={"service_id": "hundeanmeldung", "form_data": form()})
                    self.answers.append((response.status_code, response.headers.get("Retry-After"),
                                         response.headers.get("content-type", ""), response.text[:200],
                                         round(time.monotonic() - began, 1)))
                except httpx.HTTPError as exc:
                    self.answers.append((0, None, "", repr(exc), round(time.monotonic() - began, 1)))
                time.sleep(0.5)


def inject(fault: str, running: support.Platform, broker: support.PrivateRabbit, database: support.PrivatePostgres,
           headers: dict[str, str]) -> dict[str, Any]:
    """The fault and the recovery; returns when the platform is back (what came back, and when)."""
    notes: dict[str, Any] = {}
    if fault.startswith("kill:"):
        name = fault.split(":", 1)[1]
        proc = running.procs[name]
        os.kill(proc.pid, signal.SIGKILL)  # kill -9; the supervisor starts it again
        support.eventually(lambda: running.procs[name] is not proc and running.procs[name].poll() is None,
                           timeout=30, interval=0.2)
        notes["restarted_pid"] = running.procs[name].pid
    elif fault == "rabbitmq":
        broker.stop_app()
        time.sleep(BROKER_S)
        broker.start_app()
    elif fault == "postgresql":
        probe = OutageProbe(running, headers)
        database.stop("fast")
        time.sleep(3)  # the pools notice
        probe.thread.start()
        time.sleep(max(0.0, DB_S - 3))
        probe.stop.set()
        probe.thread.join(timeout=60)
        database.start()
        notes["outage_answers"] = Counter(a[0] for a in probe.answers)
        notes["outage_slowest_s"] = max((a[4] for a in probe.answers), default=None)
        notes["outage_bad"] = [a for a in probe.answers if a[0] != 503 or not a[1] or a[4] > REQUEST_TIMEOUT_S + 3
                               or "application/problem+json" not in a[2] or "service_unavailable" not in a[3]][:5]
        notes["outage_bad"] += [] if probe.answers else [(0, None, "", "no answer while the database was down", 0)]
    return notes


def caught_up(stores: Stores, load: Load, since: float) -> float | None:
    """Seconds from recovery until every accepted case is in every read model and confirmed."""
    deadline = time.monotonic() + CATCH_UP_S + 30  # observe a little past the limit, to report it
    while time.monotonic() < deadline:
        try:
            result = verify(stores, load, set())
            if not result["lost"]:
                return time.monotonic() - since
        except psycopg.Error:
            pass
        time.sleep(0.5)
    return None


@pytest.mark.timeout(BUDGET_S)
def test_faults_under_load_lose_nothing(running: support.Platform, env: dict[str, str], broker: support.PrivateRabbit,
                                        database: support.PrivatePostgres) -> None:
    with httpx.Client(base_url=running.base_url, timeout=30) as http:
        citizen = Accounts(env, http).citizen()
    stores = Stores(database, env["VR_SCHEMA_PREFIX"])
    run = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for fault in SELECTED:
        wait_ready(running)
        before = set(stores.cases())
        outage = {"rabbitmq": BROKER_S, "postgresql": DB_S}.get(fault)
        # an outage meets the load mid-stream: the load outlasts it (and rabbitmqctl's start-up)
        rate = min(RATE or 1e9, PER_FAULT / (outage + 30)) if outage else RATE
        load = Load(running.base_url, citizen.headers, f"{fault}-{uuid.uuid4().hex[:6]}", PER_FAULT, rate=rate,
                    deadline=time.monotonic() + 180 + PER_FAULT / (RATE or 20) + BROKER_S + DB_S, principal=citizen.account_id)
        load.start()
        load.wait_progress(0.3)
        began = time.monotonic()
        notes = inject(fault, running, broker, database, citizen.headers)
        recovered = time.monotonic()
        ready_s = wait_ready(running)
        load.join()
        load_ended = time.monotonic()
        since_recovery = caught_up(stores, load, recovered)
        # the load goes on after a recovery (clients retrying what the outage refused): caught up
        # counts from the later of the recovery and the load's last answer
        catch_up = None if since_recovery is None else max(0.0, recovered + since_recovery - max(recovered, load_ended))
        result = verify(stores, load, before)
        lost = sum(len(v) for v in result["lost"].values())
        duplicated = sum(len(v) for v in result["duplicated"].values())
        row = {"fault": fault, "load": len(load.tried), "accepted": len(load.accepted), "lost": lost,
               "duplicated": duplicated, "catch_up_s": None if catch_up is None else round(catch_up, 1),
               "outage_s": round(recovered - began, 1),
               "since_recovery_s": None if since_recovery is None else round(since_recovery, 1), "ready_after_s": round(ready_s, 1),
               "answers": dict(load.answers), "bad_answers": load.bad[:5], "details": result, **notes}
        rows.append(row)
        print(f"\n{fault}: load {row['load']} accepted {row['accepted']} lost {lost} duplicated {duplicated} "
              f"catch-up {row['catch_up_s']} s answers {dict(load.answers)}"
              + (f" {json.dumps(result, default=str)[:600]}" if lost or duplicated else "")
              + (f" outage {dict(notes['outage_answers'])}, slowest {notes['outage_slowest_s']} s, {notes['outage_bad'][:2]}"
                 if "outage_answers" in notes else ""),
              flush=True)
        if lost or duplicated or catch_up is None or catch_up > CATCH_UP_S or load.bad or notes.get("outage_bad") \
                or len(load.accepted) < len(load.tried) * 0.5:
            failures.append(f"{fault}: {json.dumps(row, default=str)[:1500]}")
    out = VAR / "chaos" / f"{run}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=2, default=str))
    print(support_table(rows), f"\n(written to {out})")
    assert not failures, "\n".join(failures)


def support_table(rows: list[dict[str, Any]]) -> str:
    header = ["fault", "load", "accepted", "lost", "duplicated", "catch_up_s"]
    cells = [[str(row[h]) for h in header] for row in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    lines = ["", "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
              for row in cells]
    return "\n".join(lines)
