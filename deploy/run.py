"""Start the whole platform with one command; Ctrl-C stops every process cleanly.

    .venv/bin/python deploy/run.py

Processes: catalog, identity, submissions, gateway, payments, notifications, rules, council (nameko services),
the web front end (portals and clerk workspace, http://127.0.0.1:8080),
the submissions relay (one per case partition, CASE_PARTITIONS) and projector, the payments relay, the payment saga's two consumers, the
PSP simulator, the notifications consumer, the rules consumer and the development SMTP sink with its page at
http://127.0.0.1:8025 (plain processes). Storage: SQLite under var/ unless POSTGRES_* is set;
the PSP simulator keeps its own SQLite file under var/ always.
A process that exits is restarted with a growing backoff, logged and counted (a crash loop stops
the platform with a message naming the process). A development setup, and it says so on start; with VR_ENV=production it refuses to start
(services/common/production.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.common.amqp import check_broker  # noqa: E402
from services.common.config import (  # noqa: E402
    OparlServerSettings,
    PaymentsSettings,
    WebSettings,
    postgres_configured,
    settings,
)
from services.common.production import refuse_unsafe_start  # noqa: E402
from services.payments.merchants import development_simulator_file  # noqa: E402

PYTHON = sys.executable
TENANTS_CSV = ROOT / "services" / "catalog" / "data" / "tenants.csv"
DEVELOPMENT_NOTICE = (
    "[run] this is a development setup: eID simulator, login cookies over plain HTTP, signing key and "
    "secret generated under var/, RabbitMQ guest account; never expose it. Production: configure the "
    "platform and start each process with VR_ENV=production, which refuses all of these."
)


def nameko(service: str) -> list[str]:
    return [PYTHON, "-m", "services.common.launch", service]


PROCESSES: list[tuple[str, list[str]]] = [
    ("catalog", nameko("catalog")),
    ("identity", nameko("identity")),
    ("submissions", nameko("submissions")),
    ("gateway", nameko("gateway")),
    ("notifications", nameko("notifications")),
    ("relay", [PYTHON, "-m", "services.submissions.relay"]),
    ("projector", [PYTHON, "-m", "services.submissions.projector", "run"]),
    ("payments", nameko("payments")),
    ("payments-relay", [PYTHON, "-m", "services.payments.relay"]),
    ("payments-saga", [PYTHON, "-m", "services.payments.saga"]),
    ("submissions-payments", [PYTHON, "-m", "services.submissions.payment_consumer"]),
    ("psp_simulator", [PYTHON, "-m", "services.payments.psp_simulator"]),
    ("notifications-consumer", [PYTHON, "-m", "services.notifications.consumer"]),
    ("rules", nameko("rules")),
    ("rules-consumer", [PYTHON, "-m", "services.rules.consumer"]),
    ("mail-sink", [PYTHON, "-m", "services.notifications.sink"]),  # development SMTP sink
    ("web", [PYTHON, "-m", "services.web"]),  # citizen portals and clerk workspace
    ("oparl_server", [PYTHON, "-m", "services.council.oparl_server"]),  # development council information system
    ("council", nameko("council")),
    ("council-sync", [PYTHON, "-m", "services.council.sync"]),
    ("insights", nameko("insights")),
    ("insights-projector", [PYTHON, "-m", "services.insights.projector"]),
    ("handover", nameko("handover")),
    ("handover-consumer", [PYTHON, "-m", "services.handover.consumer"]),
]


def with_gateway_replicas(processes: list[tuple[str, list[str]]], names: list[str]) -> list[tuple[str, list[str]]]:
    """The process list with the extra gateway replicas (``gateway-2`` …) after ``gateway``."""
    out = []
    for name, command in processes:
        out.append((name, command))
        if name == "gateway":
            out.extend((replica, nameko("gateway")) for replica in names[1:])
    return out


def process_env(name: str, env: dict[str, str]) -> dict[str, str]:
    """A gateway replica's own /metrics port (the others read theirs from the configuration)."""
    if name.startswith("gateway-") and not os.environ.get("METRICS_PORT"):
        return {**env, "METRICS_PORT": str(settings().metrics_port_for(name))}
    return env


def partition_relays(partitions: int) -> list[tuple[str, list[str]]]:
    """One relay per case partition beyond 0 (``CASE_PARTITIONS``; partition 0's is ``relay``)."""
    return [(f"relay-p{k}", [PYTHON, "-m", "services.submissions.relay", "--partition", str(k)])
            for k in range(1, partitions)]


def development_merchants(env: dict[str, str]) -> None:
    """Development: every tenant of the catalog is a merchant at the PSP simulator, with the
    credentials the payments service derives when no merchants file is configured."""
    if env.get("PAYMENTS_MERCHANTS_FILE") or env.get("PSP_SIMULATOR_MERCHANTS_FILE"):
        return
    path = development_simulator_file(settings(), TENANTS_CSV)
    env["PSP_SIMULATOR_MERCHANTS_FILE"] = str(path)


def wait_ready(url: str, procs: dict[str, subprocess.Popen], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"[run] {name} exited with code {proc.returncode}", file=sys.stderr)
                return False
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


def stop_all(procs: dict[str, subprocess.Popen], grace: float = 10.0) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"[run] {name} did not stop in time; killing it", file=sys.stderr)
            proc.kill()
            proc.wait()


def start(name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen:
    # own process group: Ctrl-C reaches only this supervisor, which stops the rest in order
    return subprocess.Popen(command, cwd=ROOT, env=process_env(name, env), start_new_session=True)


class Supervisor:
    """Restarts a process that exited while the platform runs, after a backoff that doubles
    with each crash (``base`` s up to ``cap`` s), logs and counts it. A process that crashes
    ``limit`` times within ``window`` seconds is in a crash loop: :meth:`check` says so once,
    clearly, and returns False so that the platform stops instead of restarting forever."""

    def __init__(self, procs: dict[str, subprocess.Popen], restart: Callable[[str], subprocess.Popen],
                 base: float = 0.5, cap: float = 30.0, limit: int = 5, window: float = 120.0):
        self.procs, self.restart = procs, restart
        self.base, self.cap, self.limit, self.window = base, cap, limit, window
        self.restarts: dict[str, int] = {}
        self.crashes: dict[str, list[float]] = {}
        self.due: dict[str, float] = {}  # name → when to start it again

    def check(self) -> bool:
        now = time.monotonic()
        for name, proc in self.procs.items():
            if name in self.due or proc.poll() is None:
                continue
            recent = [t for t in self.crashes.get(name, []) if now - t < self.window] + [now]
            self.crashes[name] = recent
            if len(recent) >= self.limit:
                print(f"[run] {name} crashed {len(recent)} times within {self.window:.0f} s (last exit code "
                      f"{proc.returncode}): a crash loop — not restarting it; its log lines are above", file=sys.stderr)
                return False
            delay = min(self.base * 2 ** (len(recent) - 1), self.cap)
            print(f"[run] {name} exited with code {proc.returncode}; restarting it in {delay:.1f} s "
                  f"(crash {len(recent)} of {self.limit} allowed within {self.window:.0f} s)", file=sys.stderr)
            self.due[name] = now + delay
        for name, when in list(self.due.items()):
            if now >= when:
                del self.due[name]
                self.procs[name] = self.restart(name)
                self.restarts[name] = self.restarts.get(name, 0) + 1
                print(f"[run] {name} restarted (restart {self.restarts[name]})", file=sys.stderr)
        return True


def main() -> int:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        # development defaults: the clearly named eID simulator, cookies over plain http
        "IDENTITY_EID_PROVIDER": os.environ.get("IDENTITY_EID_PROVIDER", "simulated"),
        "COOKIE_SECURE": os.environ.get("COOKIE_SECURE", "0"),
        "WEB_GATEWAY_URL": os.environ.get("WEB_GATEWAY_URL", f"http://127.0.0.1:{settings().gateway_port}"),
        # development: the portal's registration page links to the SMTP sink's page
        "WEB_DEV_MAIL_SINK_URL": os.environ.get("WEB_DEV_MAIL_SINK_URL", f"http://127.0.0.1:{settings().mail_sink_port}"),
    }
    # development: Cloppenburg's council information comes from the local OParl server
    env["COUNCIL_SEED_SOURCES"] = os.environ.get(
        "COUNCIL_SEED_SOURCES", f"03453004={OparlServerSettings.from_env(env).public_url}/oparl/v1/system")
    refuse_unsafe_start("make run", env)  # VR_ENV=production: these defaults are refused
    print(DEVELOPMENT_NOTICE, file=sys.stderr)
    check_broker()
    development_merchants(env)
    storage = "PostgreSQL" if postgres_configured() else f"SQLite in {settings().var_dir}"
    print(f"[run] storage: {storage}", file=sys.stderr)
    print(f"[run] every mail (development SMTP sink): http://127.0.0.1:{settings().mail_sink_port}", file=sys.stderr)
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    processes = [*with_gateway_replicas(PROCESSES, settings().gateway_processes()), *partition_relays(settings().case_partitions)]
    commands = dict(processes)
    for name, command in processes:
        procs[name] = start(name, command, env)
        if name == "catalog":
            time.sleep(1.0)
    base = f"http://127.0.0.1:{settings().gateway_port}"
    if wait_ready(f"{base}/health/ready", procs):
        print(f"[run] Virtuelles Rathaus is ready: {base}  (Ctrl-C stops everything)", file=sys.stderr)
        print(f"[run] PSP simulator (test provider, no real money): {PaymentsSettings.from_env().psp_base_url}", file=sys.stderr)
        web = WebSettings.from_env(env).public_url
        print(f"[run] portals: {web}/ (e.g. {web}/vechta/, {web}/cloppenburg/, {web}/landkreis-vechta/); "
              f"clerks: {web}/verwaltung/", file=sys.stderr)
    else:
        print("[run] the platform did not become ready; stopping", file=sys.stderr)
        stop_all(procs)
        return 1
    supervisor = Supervisor(procs, lambda name: start(name, commands[name], env))
    code = 0
    while not stopping:
        if not supervisor.check():
            code = 1
            break
        time.sleep(0.5)
    print("[run] stopping …", file=sys.stderr)
    stop_all(procs)
    if supervisor.restarts:
        print("[run] restarts: " + ", ".join(f"{n} {c}" for n, c in sorted(supervisor.restarts.items())), file=sys.stderr)
    print("[run] stopped", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
