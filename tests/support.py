"""Test support: real RabbitMQ vhosts, real PostgreSQL schemas, the real platform as processes."""

from __future__ import annotations

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from services.common import config, db
from services.common.config import Settings
from services.common.launch import SERVICES
from services.payments.merchants import WEBHOOK_PATH, development_simulator_file

ROOT = Path(__file__).resolve().parents[1]
TENANTS_CSV = ROOT / "services" / "catalog" / "data" / "tenants.csv"

# -- PostgreSQL --------------------------------------------------------------------------------
# The one place the tests and the bench learn where PostgreSQL is: POSTGRES_DSN, or
# POSTGRES_DBNAME/HOST/PORT/USER/PASSWORD, read by the same rules as the services
# (services.common.config). Credentials come only from the environment (`make test` sets them).
DEFAULT_DBNAME = "vr_test"
PG_KEYS = ("POSTGRES_DSN", "POSTGRES_DBNAME", "POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_USER", "POSTGRES_PASSWORD")


def pg_parts(default_dbname: str = DEFAULT_DBNAME) -> dict[str, str]:
    """dbname, host, port, user and password as the services would connect now;
    ``default_dbname`` when neither POSTGRES_DSN nor POSTGRES_DBNAME names a database."""
    with mock.patch.dict(os.environ, {} if config.postgres_configured() else {"POSTGRES_DBNAME": default_dbname}):
        parts = db.postgres_parts()  # the services' own reading of the variables
    return {key: str(parts.get(key) or "") for key in ("dbname", "host", "port", "user", "password")}


def pg_env(default_dbname: str = DEFAULT_DBNAME) -> dict[str, str]:
    """The same settings as POSTGRES_* variables, for :func:`isolate` and child processes."""
    return {f"POSTGRES_{key.upper()}": value for key, value in pg_parts(default_dbname).items()}


def conninfo(dbname: str | None = None, default_dbname: str = DEFAULT_DBNAME) -> str:
    """A libpq conninfo for ``dbname`` (default: the configured database) on the configured
    server, with the configured user and password."""
    parts = {**pg_parts(default_dbname), **({"dbname": dbname} if dbname else {})}
    return make_conninfo(**{key: value for key, value in parts.items() if value != ""})


def admin_conninfo() -> str:
    """The configured server's maintenance database, same host/port/user/password."""
    return conninfo(db.MAINTENANCE_DB)


def ensure_database(name: str) -> None:
    with psycopg.connect(admin_conninfo(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_schemas(prefix: str, dbname: str | None = None) -> None:
    """Drop every schema whose name starts with ``prefix`` (in the configured database)."""
    with psycopg.connect(conninfo(dbname), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix.replace("_", r"\_") + "%",)
        ).fetchall()
        for (schema,) in rows:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _rabbitmqctl() -> str:
    return shutil.which("rabbitmqctl") or "/usr/sbin/rabbitmqctl"


def _delete_vhost(name: str) -> None:
    subprocess.run([_rabbitmqctl(), "-q", "delete_vhost", name], capture_output=True, timeout=60)


def fresh_vhost(base: str) -> str:
    """A RabbitMQ vhost of this run's own (via rabbitmqctl), deleted when the run ends, so
    tests never see another run's messages or services — even when two runs overlap."""
    name = f"{base}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    ctl = _rabbitmqctl()
    if os.path.exists(ctl):
        atexit.register(_delete_vhost, name)
        subprocess.run([ctl, "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
        subprocess.run(
            [ctl, "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
            check=True, capture_output=True, timeout=60,
        )
        return f"amqp://guest:guest@127.0.0.1:5672/{name}"
    raise RuntimeError("rabbitmqctl is needed to give the tests their own RabbitMQ vhost")


RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves (the /usr/sbin wrappers switch user)


class PrivateRabbit:
    """A RabbitMQ node of a test's own (own node name, ports, cookie, data and logs under
    ``base``, no plugins), for tests that stop and start the broker: the machine's shared
    broker serves other runs and must never be restarted. Default vhost ``/``, guest/guest."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.name = f"vrtest{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.amqp_uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        home = base / "home"
        for sub in ("home", "mnesia", "log"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"  # this node's own; rabbitmqctl reads it from the same HOME
        cookie.write_text(uuid.uuid4().hex.upper())
        cookie.chmod(0o400)
        (base / "enabled_plugins").write_text("[].\n")  # no management plugin: nothing else listens
        self.env = {
            **os.environ, "HOME": str(home), "RABBITMQ_NODENAME": self.name, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"), "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
            "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
        }
        self.proc: subprocess.Popen | None = None

    def ctl(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run([str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args], env=self.env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {result.stdout[-500:]} {result.stderr[-1000:]}")
        return result.stdout

    def start(self) -> None:
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([str(RABBITMQ_BIN / "rabbitmq-server")], cwd=self.base, env=self.env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_running()

    def wait_running(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("private RabbitMQ exited: " + (self.base / "server.log").read_text(errors="replace")[-2000:])
            try:
                self.ctl("await_startup", "--timeout", "5", timeout=20)
                with socket.create_connection(("127.0.0.1", self.port), timeout=2):
                    return
            except (RuntimeError, OSError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def stop_app(self) -> None:
        """The broker goes down (every connection is cut, the node stays up)."""
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.wait_running()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.ctl("stop", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None


@contextmanager
def private_rabbitmq(base: Path) -> Iterator[PrivateRabbit]:
    """A RabbitMQ node started for the caller and stopped (its data removed with ``base``) after."""
    node = PrivateRabbit(base)
    try:
        node.start()
        yield node
    finally:
        node.stop()


PG_BIN = Path("/usr/lib/postgresql/15/bin")  # Debian's server binaries (initdb, pg_ctl)


class PrivatePostgres:
    """A PostgreSQL cluster of a test's own (Debian's initdb/pg_ctl, own port, data and socket
    under ``base``; trust auth on 127.0.0.1), for tests that stop and start the database: the
    machine's shared server serves other runs and must never be stopped. initdb refuses root,
    so the cluster runs as the ``postgres`` system user when the tests run as root."""

    def __init__(self, base: Path, dbname: str = "vr_chaos", max_connections: int = 300) -> None:
        self.base, self.dbname, self.port = base, dbname, free_port()
        self.data = base / "data"
        base.mkdir(parents=True, exist_ok=True)
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:  # pytest's tmp dirs are root's own (0700): the cluster lives beside them
            base = self.base = Path(tempfile.mkdtemp(prefix="vr-pg-"))
            os.chmod(base, 0o755)
            shutil.chown(base, self.user)
            self.data = base / "data"
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync", timeout=180)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.data}'\n"
                       f"max_connections = {max_connections}\nfsync = off\nsynchronous_commit = off\n"
                       "full_page_writes = off\n")
        self.env = {"POSTGRES_DBNAME": dbname, "POSTGRES_HOST": "127.0.0.1", "POSTGRES_PORT": str(self.port),
                    "POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": "postgres"}

    def _run(self, *args: str, timeout: float = 120) -> str:
        command = ["runuser", "-u", self.user, "--", *args] if self.user else list(args)
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, cwd=self.base)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])}: {result.stdout[-800:]} {result.stderr[-800:]}")
        return result.stdout

    def conninfo(self, dbname: str | None = None) -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname or self.dbname)

    def start(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "server.log"), "-w", "-t", "120",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        """The database goes down (``fast``: every connection is cut)."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "120", "stop")


@contextmanager
def private_postgres(base: Path, dbname: str = "vr_chaos") -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster started for the caller with ``dbname`` created, stopped after."""
    cluster = PrivatePostgres(base, dbname)
    cluster.start()
    try:
        with psycopg.connect(cluster.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        yield cluster
    finally:
        with suppress(RuntimeError, subprocess.TimeoutExpired):
            cluster.stop("immediate")
        if cluster.base != base:
            shutil.rmtree(cluster.base, ignore_errors=True)


def isolate(monkeypatch, tmp_path: Path, pg_env: dict[str, str] | None) -> str:
    """Give a test its own schema prefix and var dir; PostgreSQL if ``pg_env``, else SQLite.
    Returns the prefix (drop its schemas afterwards with :func:`drop_schemas`)."""
    prefix = unique_prefix()
    monkeypatch.setenv("VR_SCHEMA_PREFIX", prefix)
    monkeypatch.setenv("VR_VAR_DIR", str(tmp_path / "var"))
    for key in PG_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in (pg_env or {}).items():
        monkeypatch.setenv(key, value)
    return prefix


#: Ports handed out by this process (never twice), from below Linux's ephemeral range
#: (32768–60999): a port the kernel chose for us there could be taken by any outgoing
#: connection (RabbitMQ, PostgreSQL, HTTP clients of a test part running alongside) before
#: the server binds it — the gateway then died with "Address already in use".
_PORTS_GIVEN: set[int] = set()
_PORT_RANGE = (20000, 32000)


def free_port() -> int:
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(*_PORT_RANGE)
        if port in _PORTS_GIVEN:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _PORTS_GIVEN.add(port)
        return port
    raise RuntimeError(f"no free port in {_PORT_RANGE}")


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}_"


class Platform:
    """The whole platform as real processes (as `make run` starts it), on its own port,
    schema prefix and vhost."""

    NAMEKO = SERVICES
    PLAIN = {
        "relay": ["-m", "services.submissions.relay"],
        "projector": ["-m", "services.submissions.projector", "run"],
        "psp_simulator": ["-m", "services.payments.psp_simulator"],
        "payments-relay": ["-m", "services.payments.relay"],
        "payments-saga": ["-m", "services.payments.saga"],
        "submissions-payments": ["-m", "services.submissions.payment_consumer"],
        "notifications-consumer": ["-m", "services.notifications.consumer"],
        "rules-consumer": ["-m", "services.rules.consumer"],
        "mail-sink": ["-m", "services.notifications.sink"],
        "web": ["-m", "services.web"],
        "oparl_server": ["-m", "services.council.oparl_server"],
        "council-sync": ["-m", "services.council.sync"],
        "insights-projector": ["-m", "services.insights.projector"],
        "handover-consumer": ["-m", "services.handover.consumer"],
    }

    def __init__(self, env: dict[str, str], log_dir: Path):
        self.port = free_port()
        self.psp_port = free_port()
        self.psp_url = f"http://127.0.0.1:{self.psp_port}"
        self.psp_admin_token = f"admin-{uuid.uuid4().hex}"
        self.sink_port = free_port()  # the development SMTP sink's JSON API
        self.web_port = free_port()  # the web front end (portals, clerk workspace)
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.oparl_port = free_port()  # the development OParl server (Cloppenburg's council information)
        self.oparl_url = f"http://127.0.0.1:{self.oparl_port}"
        self.env = {
            **os.environ,
            **env,
            "GATEWAY_PORT": str(self.port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",  # its own origin (CSRF) and return URLs
            "PSP_BASE_URL": self.psp_url,
            "PSP_SIMULATOR_PORT": str(self.psp_port),
            "PSP_SIMULATOR_ADMIN_TOKEN": self.psp_admin_token,
            "IDENTITY_EID_PROVIDER": "simulated",
            "COOKIE_SECURE": "0",
            "METRICS_PORT": "0",
            "PYTHONPATH": str(ROOT),
            "PYTHONWARNINGS": "ignore::DeprecationWarning",
            "SMTP_PORT": str(free_port()),
            "MAIL_SINK_PORT": str(self.sink_port),
            "NOTIFICATIONS_SEND_INTERVAL": "1",
            "WEB_PORT": str(self.web_port),
            "WEB_PUBLIC_URL": self.web_url,
            "ALLOWED_ORIGINS": self.web_url,  # the web's return address after paying is the gateway's to allow
            "WEB_GATEWAY_URL": f"http://127.0.0.1:{self.port}",
            "OPARL_SERVER_PORT": str(self.oparl_port),
            "COUNCIL_SEED_SOURCES": f"03453004={self.oparl_url}/oparl/v1/system",
            "COUNCIL_SYNC_INTERVAL": "2",
        }
        if not self.env.get("PSP_SIMULATOR_MERCHANTS_FILE"):  # every tenant a merchant, as `make run` does
            merchants = development_simulator_file(
                Settings.from_env(self.env), TENANTS_CSV, webhook_url=f"http://127.0.0.1:{self.port}{WEBHOOK_PATH}"
            )
            self.env["PSP_SIMULATOR_MERCHANTS_FILE"] = str(merchants)
        # one relay per case partition beyond 0 (CASE_PARTITIONS, services/common/partitions.py)
        self.PLAIN = {**self.PLAIN, **{f"relay-p{k}": ["-m", "services.submissions.relay", "--partition", str(k)]
                                       for k in range(1, int(self.env.get("CASE_PARTITIONS") or 1))}}
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: Counter[str] = Counter()  # by the supervisor, as deploy/run.py does
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None
        # GATEWAY_REPLICAS: gateway-2 … on the same port (SO_REUSEPORT), as deploy/run.py starts them
        self.gateway_replicas = Settings.from_env(self.env).gateway_processes()[1:]
        self.metrics_ports = {name: free_port() for name in self.names()}
        self.base_url = f"http://127.0.0.1:{self.port}"

    def names(self) -> tuple[str, ...]:
        return (*self.NAMEKO, *self.gateway_replicas, *self.PLAIN)

    def command(self, name: str) -> list[str]:
        if name in self.NAMEKO or name in self.gateway_replicas:
            return [sys.executable, "-m", "services.common.launch", name.partition("-")[0]]
        return [sys.executable, *self.PLAIN[name]]

    def start(self, name: str) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        # PGAPPNAME: libpq names each PostgreSQL connection after its process (pg_stat_activity)
        env = {**self.env, "METRICS_PORT": str(self.metrics_ports[name]), "PGAPPNAME": f"vr-{name}"}
        self.procs[name] = subprocess.Popen(
            self.command(name), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_all(self) -> None:
        for name in self.names():
            self.start(name)
        self.wait_ready()
        self._supervisor = threading.Thread(target=self._supervise, name="platform-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self, backoff: float = 0.5) -> None:
        """Start again a process that exited while the platform runs (e.g. a nameko service
        after a broker outage, services.common.broker_watch), as deploy/run.py's supervisor
        does; one that a test kills (:meth:`kill`) stays down."""
        while not self._stopping.wait(backoff):
            with self._lock:
                for name, proc in list(self.procs.items()):
                    if proc.poll() is not None and not self._stopping.is_set():
                        self.restarts[name] += 1
                        self.start(name)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited: {self.tail(name)}")
            try:
                ready = [f"{self.base_url}/health/ready", *([f"{self.psp_url}/health"] if "psp_simulator" in self.procs else []),
                         *([f"{self.web_url}/health"] if "web" in self.procs else [])]
                if all(httpx.get(url, timeout=3).status_code == 200 for url in ready):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError("platform not ready: " + " | ".join(self.tail(n) for n in self.procs))

    def tail(self, name: str, size: int = 2000) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""

    def logs(self) -> dict[str, bytes]:
        """Every process's log so far, by file name."""
        return {path.name: path.read_bytes() for path in sorted(self.log_dir.glob("*.log"))}

    def mail(self, to: str, template: str, timeout: float = 30.0) -> dict[str, Any]:
        """The newest mail of that kind (identity's template, e.g. ``verify_email``) to that
        address, from the development SMTP sink, with the link it carries (``link``) — the
        notifications service sends in the background, so this waits up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                params = {"to": to, "kind": template}
                found = httpx.get(f"http://127.0.0.1:{self.sink_port}/api/messages", params=params, timeout=3).json()
            except httpx.HTTPError:
                found = []
            if found:
                mail = found[-1]
                links = re.findall(r"https?://\S+", mail["text"])
                return {**mail, "link": next((u for u in links if "token=" in u), links[0] if links else None)}
            if time.monotonic() > deadline:
                raise LookupError(f"no {template} mail to {to}")
            time.sleep(0.2)

    def sink_mails(self, to: str, timeout: float = 30.0, count: int = 1) -> list[dict[str, Any]]:
        """The mails the development SMTP sink received for ``to``, once there are ``count``
        (the notifications service sends in the background, so this waits up to ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = httpx.get(f"http://127.0.0.1:{self.sink_port}/api/messages", params={"to": to}, timeout=3).json()
            except httpx.HTTPError:
                found = []
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        with self._lock:
            proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        self._stopping.set()
        with self._lock:
            pass  # a restart under way has finished
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


@contextmanager
def platform(env: dict[str, str], log_dir: Path) -> Iterator[Platform]:
    running = Platform(env, log_dir)
    try:
        running.start_all()
        yield running
    finally:
        running.stop_all()


@contextmanager
def own_platform_env(pg_env: dict[str, str], var_dir: Path, vhost: str, amqp_uri: str | None = None,
                     **extra: str) -> Iterator[dict[str, str]]:
    """The environment of a test module's own platform: own schemas, files and vhost (or the
    broker at ``amqp_uri``, e.g. a :class:`PrivateRabbit`), the simulated eID and cheap
    password hashing; ``extra`` settings on top. Schemas dropped after."""
    prefix = unique_prefix()
    yield {
        **pg_env, "AMQP_URI": amqp_uri or fresh_vhost(vhost), "VR_SCHEMA_PREFIX": prefix, "VR_VAR_DIR": str(var_dir),
        "IDENTITY_EID_PROVIDER": "simulated", "IDENTITY_ARGON2_TIME_COST": "1", "IDENTITY_ARGON2_MEMORY_COST": "8192",
        **extra,
    }
    drop_schemas(prefix)


class Clock:
    """A real, hand-advanced clock for the applications under test (aware UTC datetimes,
    plus a monotonic view for rate limiters)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2030, 3, 4, 9, 30, tzinfo=UTC)
        self._start = self.now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return (self.now - self._start).total_seconds()


def eventually(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    """Poll until ``check`` returns a truthy value (projections, webhooks: eventually consistent)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        time.sleep(interval)


class OparlServer:
    """The development OParl server (``python -m services.council.oparl_server``) as a real
    process on a port of its own; ``chaos`` and ``touch`` are its development switches."""

    def __init__(self, log_dir: Path, **settings: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.system_url = f"{self.url}/oparl/v1/system"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "METRICS_PORT": "0", "OPARL_SERVER_PORT": str(self.port),
               **{f"OPARL_SERVER_{k.upper()}": v for k, v in settings.items()}}
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"oparl-{self.port}.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "services.council.oparl_server"], cwd=ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        eventually(self._up, timeout=20)

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the OParl server exited with {self.proc.returncode}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def chaos(self, **switches: Any) -> dict[str, Any]:
        return httpx.post(f"{self.url}/_chaos", json=switches, timeout=5).json()

    def touch(self, kind: str, number: int, name: str) -> dict[str, Any]:
        return httpx.post(f"{self.url}/_touch", json={"kind": kind, "number": number, "name": name}, timeout=5).json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def oparl_server(log_dir: Path, **settings: str) -> Iterator[OparlServer]:
    server = OparlServer(log_dir, **settings)
    try:
        yield server
    finally:
        server.stop()
class AppCases:
    """The rules consumer's case commands on a submissions application in the same process
    (what ``services.rules.consumer.RpcCases`` does over RPC): the real application, no mock."""

    def __init__(self, submissions: Any) -> None:
        self.submissions = submissions

    def rule_facts(self, case_id: str) -> dict[str, Any]:
        return self.submissions.rule_facts(case_id)

    def decide_automatically(self, case_id: str, outcome: str, reason: str, rule: str) -> str:
        return self.submissions.decide_automatically(case_id, outcome, reason, rule, "corr-rules")

    def assign(self, case_id: str, clerk: str, rule: str) -> str:
        self.submissions.act(case_id, "reassign", {"clerk": clerk}, rule, "corr-rules")
        return "assigned"


def case_envelopes(submissions: Any, after: int = 0) -> list[dict[str, Any]]:
    """The submissions application's integration events after ``after`` (what its relay publishes)."""
    from services.submissions.integration import map_notification

    found = []
    for notification in submissions.recorder.select_notifications(after + 1, 10_000):
        mapped = map_notification(submissions, notification)
        if mapped is not None:
            found.append(mapped)
    return found
