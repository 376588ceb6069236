"""Every setting of the platform, in one place: the environment variable, its default,
and what it is for. Read when a process (or an application object) starts, never at
import time, so tests and the launcher can set the environment first.

Platform settings (:class:`Settings`)

=========================  ===================================  ==========================================
variable                   default                              meaning
=========================  ===================================  ==========================================
``AMQP_URI``               ``amqp://guest:guest@127.0.0.1:5672/``  RabbitMQ
``AMQP_QUEUE_TYPE``        (empty: the broker's default)        ``quorum`` for the event queues in a cluster
``CASE_PARTITIONS``        ``1``                                case event store partitions (:mod:`.partitions`)
``CASE_PARTITION_MAP``     (empty: hash of the AGS)             ``AGS-prefix:partition,…`` pins tenants or Länder
``CASE_PARTITION_DSN_<k>`` (empty: POSTGRES_*)                  the PostgreSQL server of case partition k ≥ 1
``REBUILD_WORKERS``        ``2``                                processes decoding the log in a large rebuild
``VR_VAR_DIR``             ``<repo>/var``                       SQLite files, signing keys (development)
``VR_SCHEMA_PREFIX``       (empty)                              prefix of schemas / SQLite files (tests)
``LOG_LEVEL``              ``INFO``                             structlog JSON lines on stderr
``METRICS_ADDR``           ``127.0.0.1``                        where /metrics listens
``METRICS_PORT``           per process, :data:`METRICS_PORTS`   ``0`` switches /metrics off
``PUBLIC_BASE_URL``        ``http://127.0.0.1:8000``            links in mails
``GATEWAY_HOST``/``_PORT``   ``127.0.0.1`` / ``8000``           the HTTP API
``GATEWAY_MAX_WORKERS``    ``200``                              concurrent HTTP requests
``SUBMIT_PIPELINES``       ``2``                                submit batches in flight at once
``GATEWAY_REPLICAS``       ``1``                                gateway processes on GATEWAY_PORT (SO_REUSEPORT)
``GATEWAY_REFRESH_INTERVAL`` ``60``                             s between reloads of identity's keys and revocations
``GATEWAY_REQUEST_TIMEOUT`` ``30``                              s an API call may wait for the services (then 503)
``BROKER_WATCH_INTERVAL``  ``1``                                s between a process's probes of RabbitMQ (:mod:`.broker_watch`)
``SERVICE_MAX_WORKERS``    ``10``                               concurrent RPCs of an RPC service
``COOKIE_SECURE``          ``1``                                ``0`` allows login cookies over plain HTTP
``TRUSTED_PROXIES``        (empty)                              comma-separated reverse-proxy addresses
``ALLOWED_ORIGINS``        ``http://127.0.0.1:8080``            browser origins besides PUBLIC_BASE_URL's (CSRF)
``CATALOG_DEFINITIONS_DIR`` ``services/catalog/definitions``    service definitions (JSON)
``BLOB_DIR``               ``<VR_VAR_DIR>/<prefix>blobs``       uploaded attachments (content-addressed files)
``ATTACHMENT_MAX_BYTES``   ``10000000``                         largest attachment accepted (413 beyond)
``VR_SECRET_KEY``          (generated under ``VR_VAR_DIR``)     secret of keyed hashes (≥ 32 bytes)
``VR_ENV``                 ``development``                      ``production`` refuses unsafe settings (:mod:`.production`)
``SMTP_HOST``/``_PORT``     ``127.0.0.1`` / ``1025``             where notifications deliver mails (dev: the sink)
``SMTP_STARTTLS``          ``0``                                ``1``: STARTTLS before authenticating
``SMTP_USERNAME``/``_PASSWORD`` (empty: no login)                SMTP credentials
``MAIL_FROM``              ``noreply@rathaus.example``          sender address of mails
``MAIL_SINK_PORT``         ``8025``                             development SMTP sink's page and JSON API
``NOTIFICATIONS_SEND_INTERVAL`` ``1``                           s between the notifications sender's rounds
``NOTIFICATIONS_RATE_LIMIT`` ``20``                             mails to one recipient per window (more wait: deferred)
``NOTIFICATIONS_RATE_WINDOW`` ``3600``                          s of that window
``RULES_REVERSAL_WINDOW``  ``259200``                         s a clerk may reverse a rule's automatic decision
``SHUTDOWN_SECONDS``       ``20``                               bound of a plain process's SIGTERM: then it exits 1
``POSTBOX_COMPOSE_ATTEMPTS`` ``8``                              tries to compose a postbox item, then its dead letter
``POSTBOX_COMPOSE_BACKOFF_CAP`` ``300``                         s, longest wait between two tries (doubling)
``HANDOVER_LEASE_SECONDS`` ``300``                             s a back-office client holds a fetched submission
``HANDOVER_EXPORT_DIR``    ``<VR_VAR_DIR>/handover-export``     the hand-over file export (JSON/XML)
``IDENTITY_*``             see :class:`IdentitySettings`        accounts, tokens, keys, eID
``PSP_SIMULATOR_*``        see :class:`PspSimulatorSettings`    the PSP simulator process (another company)
``WEB_*``                  see :class:`WebSettings`             the web front end (citizen portals, clerk workspace)
``COUNCIL_*``              see :class:`CouncilSettings`         the OParl sync worker (council information)
``OPARL_SERVER_*``         see :class:`OparlServerSettings`     the development OParl server
``PAYMENTS_*``, ``PSP_BASE_URL``  see :class:`PaymentsSettings`  merchants, expiry, webhook tolerance, the PSP
``POSTGRES_DSN`` or ``POSTGRES_DBNAME``/``HOST``/``PORT``/``USER``/``PASSWORD``: PostgreSQL instead of SQLite
``POSTGRES_LOCK_TIMEOUT``/``POSTGRES_POOL_SIZE`` ``5`` / ``4``  event-store connection settings
``POSTGRES_MAX_OVERFLOW``  ``2``                                event-store connections beyond the pool, per application
``POSTGRES_CONNECT_TIMEOUT`` ``5``                              seconds an event store waits for a connection (then 503)
=========================  ===================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_AMQP_URI = "amqp://guest:guest@127.0.0.1:5672/"

#: The /metrics port of each process (``METRICS_PORT`` overrides it for one process).
METRICS_PORTS: Mapping[str, int] = {
    "gateway": 9100,
    "catalog": 9101,
    "submissions": 9102,
    "relay": 9103,
    "projector": 9104,
    "identity": 9105,
    "psp_simulator": 9106,
    "payments": 9107,
    "payments-relay": 9108,
    "payments-saga": 9109,
    "submissions-payments": 9110,
    "notifications": 9111,
    "notifications-consumer": 9112,
    "web": 9113,
    "council": 9114,
    "council-sync": 9115,
    "oparl_server": 9116,
    "rules": 9117,
    "rules-consumer": 9118,
    "insights": 9119,
    "insights-projector": 9120,
    "handover": 9121,
    "handover-consumer": 9122,
    "relay-p1": 9123,  # the relay of case partition 1 (further partitions: METRICS_PORT per process)
}

#: Gateway replica k ≥ 2 (GATEWAY_REPLICAS) serves /metrics on this + k: gateway-2 on 9202, …
GATEWAY_REPLICA_METRICS_BASE = 9200

_TRUE = {"1", "y", "yes", "true", "on"}


@dataclass(frozen=True)
class CouncilSettings:
    """The OParl sync worker's settings: ``COUNCIL_<FIELD>``; durations in seconds
    (services/council/README.md)."""

    #: Seconds between two syncs of one source (after a failure: backoff up to 8x this).
    sync_interval: float = 300.0
    #: Timeout of one HTTP request to a source.
    request_timeout: float = 10.0
    #: A whole sync run of one source ends (as failed) after this long.
    run_deadline: float = 120.0
    #: Attempts per request (5xx, timeouts, broken connections), with doubling backoff.
    attempts: int = 3
    backoff: float = 0.5
    #: Least seconds between two requests to one source (a polite rate).
    request_interval: float = 0.1
    #: ``elementsPerPage`` asked for (a source may send fewer or more; more are cut at 200).
    page_size: int = 50
    #: Pages followed per list and run at most.
    max_pages: int = 200
    #: Development: ``AGS=URL,AGS=URL`` recorded as sources at start where a tenant has none.
    seed_sources: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CouncilSettings:
        return _from_env(cls, os.environ if env is None else env, prefix="COUNCIL_")

    def seeds(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.seed_sources.split(",") if "=" in item)
        return {ags.strip(): url.strip() for ags, url in pairs}


@dataclass(frozen=True)
class OparlServerSettings:
    """The development OParl server: ``OPARL_SERVER_<FIELD>``. Its chaos switches start
    here and can be changed while it runs (``POST /_chaos``)."""

    host: str = "127.0.0.1"
    port: int = 8095
    #: Base of the object ids (URLs) it serves; empty: ``http://<host>:<port>``.
    public_url: str = ""
    #: Seconds every answer waits.
    delay: float = 0.0
    #: Share (0 to 1) of requests answered with HTTP 500.
    fail_rate: float = 0.0
    #: Share (0 to 1) of list pages answered with broken JSON.
    malformed_rate: float = 0.0
    #: Add invalid objects to the lists (an agenda-less meeting without id, a paper with a number as name).
    bad_objects: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OparlServerSettings:
        loaded = _from_env(cls, os.environ if env is None else env, prefix="OPARL_SERVER_")
        return dataclasses.replace(loaded, public_url=(loaded.public_url or f"http://{loaded.host}:{loaded.port}").rstrip("/"))


def _convert(raw: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in _TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    if isinstance(default, frozenset):
        return frozenset(p.strip() for p in raw.split(",") if p.strip())
    if name == "verification_key_files":  # "kid1=/path/a.pem,kid2=/path/b.pem"
        return dict(item.split("=", 1) for item in raw.split(",") if "=" in item)
    return raw


def _from_env(cls: type, env: Mapping[str, str], prefix: str = "", names: Mapping[str, str] | None = None) -> Any:
    """An instance of the settings dataclass ``cls``: each field from its variable
    (``names[field]`` or ``PREFIX_FIELD``), the default where it is unset or empty."""
    base = cls()
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        raw = env.get((names or {}).get(spec.name) or f"{prefix}{spec.name.upper()}")
        if raw is not None and raw != "":
            values[spec.name] = _convert(raw, getattr(base, spec.name), spec.name)
    return dataclasses.replace(base, **values)


#: Platform settings whose variable is not simply the field's name in capitals.
PLATFORM_VARIABLES: Mapping[str, str] = {
    "var_dir": "VR_VAR_DIR",
    "schema_prefix": "VR_SCHEMA_PREFIX",
    "eid_provider": "IDENTITY_EID_PROVIDER",
    "token_issuer": "IDENTITY_TOKEN_ISSUER",
    "token_audience": "IDENTITY_TOKEN_AUDIENCE",
}


@dataclass(frozen=True)
class Settings:
    """Platform-wide settings (see the module docstring for each variable): each field from
    the variable of its upper-cased name, or from :data:`PLATFORM_VARIABLES`."""

    amqp_uri: str = DEFAULT_AMQP_URI
    #: x-queue-type of the event queues and their dead-letter queues (``quorum`` on a
    #: RabbitMQ cluster, deploy/k8s); empty declares them without it, as they always were.
    amqp_queue_type: str = ""
    #: How many partitions the case event store has (services.common.partitions): each its own
    #: schema ``submissions`` (0), ``submissions_p1`` … with its own relay. 1: one store, as always.
    case_partitions: int = 1
    #: ``AGS-prefix:partition`` pairs, comma-separated (``03460009:1,09:1``: a tenant, a Land);
    #: the longest matching prefix wins, unmapped tenants go by a stable hash of their AGS.
    case_partition_map: str = ""
    #: Processes that read and decode the event log while a rebuild folds (decoding is most of
    #: its CPU; services/submissions/reading.py); 1 decodes in the rebuilding process itself.
    rebuild_workers: int = 2
    var_dir: Path = ROOT / "var"
    schema_prefix: str = ""
    log_level: str = "INFO"
    metrics_addr: str = "127.0.0.1"
    metrics_port: str = ""
    #: A plain process that got SIGTERM finishes its batch and closes its connections within
    #: this many seconds, or is ended (exit 1; unacked messages come back): services/common/shutdown.py.
    shutdown_seconds: float = 20.0
    public_base_url: str = "http://127.0.0.1:8000"
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    gateway_max_workers: int = 200
    submit_pipelines: int = 2
    #: Gateway processes sharing GATEWAY_PORT: each listens with SO_REUSEPORT (eventlet sets
    #: it) and the kernel spreads the connections; the gateway keeps no state a request needs
    #: from an earlier one, so any replica can answer any request. Started by deploy/run.py
    #: and the test platform as ``gateway``, ``gateway-2``, …
    gateway_replicas: int = 1
    #: Seconds between the gateway's reloads of identity's public keys and revocations
    #: (a key removed from identity's set stops verifying within this time).
    gateway_refresh_interval: int = 60
    #: Seconds an API call may wait for the services behind the gateway; then 503 with
    #: Retry-After instead of a request that hangs (e.g. RabbitMQ went away mid-call).
    gateway_request_timeout: float = 30.0
    #: Seconds between a process's probes of RabbitMQ: a nameko service that saw the broker
    #: go away restarts once it is back (services.common.broker_watch).
    broker_watch_interval: float = 1.0
    service_max_workers: int = 10
    cookie_secure: bool = True
    trusted_proxies: frozenset[str] = frozenset()
    #: Origins whose pages may send state-changing requests with our cookies, besides
    #: PUBLIC_BASE_URL's (comma-separated ``scheme://host[:port]``); default: the web portal.
    allowed_origins: frozenset[str] = frozenset({"http://127.0.0.1:8080"})
    catalog_definitions_dir: Path = ROOT / "services" / "catalog" / "definitions"
    #: Where the file blob store keeps uploaded attachments; empty: ``<var_dir>/<prefix>blobs``.
    blob_dir: str = ""
    #: The largest attachment a citizen may upload, in bytes (PDF, JPEG, PNG).
    attachment_max_bytes: int = 10_000_000
    postgres_dsn: str = ""
    postgres_dbname: str = ""
    postgres_host: str = "127.0.0.1"
    postgres_port: str = "5432"
    postgres_user: str = "postgres"
    postgres_password: str = ""
    postgres_lock_timeout: str = "5"
    postgres_pool_size: str = "4"
    #: eventsourcing's overflow beyond the pool, per application (its default, 10, let one
    #: process of several applications open dozens of connections under load).
    postgres_max_overflow: str = "2"
    #: Seconds an event store waits for a pooled connection (eventsourcing's default, 30, kept
    #: every request waiting that long while the database was down: the caller gets a 503 sooner).
    postgres_connect_timeout: str = "5"
    eid_provider: str = ""
    token_issuer: str = "virtuelles-rathaus/identity"
    token_audience: str = "virtuelles-rathaus"
    #: The deployment secret for keyed hashes (services.common.secrets); empty: development
    #: secret generated under the var dir.
    vr_secret_key: str = ""
    #: ``production`` makes every process refuse development settings (services.common.production).
    vr_env: str = "development"
    #: The notifications service's SMTP server (development: the sink, services/notifications/sink.py).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "noreply@rathaus.example"
    #: Development SMTP sink: its page and ``GET /api/messages`` (it receives SMTP on SMTP_PORT).
    mail_sink_port: int = 8025
    #: Seconds between the notifications service's rounds of sending what is due.
    notifications_send_interval: int = 1
    #: At most this many mails to one recipient per window (seconds); more are deferred to
    #: the window's end (status ``deferred``), never dropped: a mail loop cannot flood an inbox.
    notifications_rate_limit: int = 20
    notifications_rate_window: int = 3600
    #: Seconds during which a clerk may reverse a rule's automatic decision (default 72 h).
    rules_reversal_window: int = 259200
    #: A postbox item that cannot be composed (a service refusing, e.g. its case not found) is
    #: tried this often, waiting twice as long each time (from NOTIFICATIONS_SEND_INTERVAL up to
    #: POSTBOX_COMPOSE_BACKOFF_CAP seconds), then parked in notifications.events.dead.
    postbox_compose_attempts: int = 8
    postbox_compose_backoff_cap: float = 300.0
    #: Seconds a back-office client holds a fetched submission; unacknowledged, it is
    #: offered again after that (services/handover).
    handover_lease_seconds: int = 300
    #: Where the hand-over file export writes (JSON/XML per submission); empty: ``<var_dir>/handover-export``.
    handover_export_dir: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        return _from_env(cls, os.environ if env is None else env, names=PLATFORM_VARIABLES)

    @property
    def postgres_configured(self) -> bool:
        """PostgreSQL instead of SQLite: POSTGRES_DSN or POSTGRES_DBNAME is set."""
        return bool(self.postgres_dsn or self.postgres_dbname)

    def metrics_port_for(self, process: str) -> int:
        """METRICS_PORT, else the process's fixed port: gateway replica k ≥ 2 on
        GATEWAY_REPLICA_METRICS_BASE + k; a relay of case partition 2 or higher has none (0: no
        /metrics) unless METRICS_PORT gives it one."""
        if self.metrics_port != "":
            return int(self.metrics_port)
        if process.startswith("gateway-") and process.removeprefix("gateway-").isdigit():
            return GATEWAY_REPLICA_METRICS_BASE + int(process.removeprefix("gateway-"))
        return METRICS_PORTS.get(process, 0) if process.startswith("relay-p") else METRICS_PORTS[process]

    def gateway_processes(self) -> list[str]:
        """The names of the gateway replicas: ``gateway``, ``gateway-2``, …"""
        return ["gateway", *(f"gateway-{k}" for k in range(2, max(1, self.gateway_replicas) + 1))]


def settings() -> Settings:
    """The platform settings from the current environment."""
    return Settings.from_env()


@dataclass(frozen=True)
class IdentitySettings:
    """The identity service's settings: ``IDENTITY_<FIELD>``; durations in seconds.

    Failed logins are throttled, not counted towards a lock: the budgets (per account
    and client address, per account, per client address) are in
    ``services/identity/ratelimit.py``; only an administrator locks an account."""

    token_issuer: str = Settings.token_issuer
    token_audience: str = Settings.token_audience
    access_token_ttl: int = 600
    refresh_token_ttl: int = 2 * 3600  # idle timeout of a session
    session_max_age: int = 12 * 3600  # absolute lifetime of a session
    verification_ttl: int = 48 * 3600
    reset_ttl: int = 3600
    email_change_ttl: int = 24 * 3600
    invitation_ttl: int = 72 * 3600
    #: A role request not approved within this many seconds expires: it can only be rejected.
    grant_request_ttl: int = 7 * 24 * 3600
    eid_ttl: int = 15 * 60
    reset_request_interval: int = 60
    #: Registrations and verification resends one client address may send before it is
    #: slowed down (a town hall's terminals or an office behind NAT share one address).
    mail_free_per_ip: int = 30
    #: Seconds between the identity service's retries of unfinished account deletions, and
    #: how long one attempt waits for the erasure of the applicant's cases.
    deletion_retry_interval: int = 60
    deletion_erasure_timeout: int = 30
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    argon2_parallelism: int = 4
    #: Development key directory (generated on first start); empty: ``<VR_VAR_DIR>/keys``.
    keys_dir: str = ""
    signing_key_file: str = ""
    signing_key_id: str = ""
    signing_key_password: str = ""
    verification_key_files: Mapping[str, str] = field(default_factory=dict)
    eid_provider: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IdentitySettings:
        env = os.environ if env is None else env
        loaded = _from_env(cls, env, prefix="IDENTITY_")
        if not loaded.keys_dir:
            loaded = dataclasses.replace(loaded, keys_dir=str(Settings.from_env(env).var_dir / "keys"))
        return loaded


def identity_settings() -> IdentitySettings:
    """The identity settings from the current environment."""
    return IdentitySettings.from_env(os.environ)


@dataclass(frozen=True)
class PspSimulatorSettings:
    """The PSP simulator's settings: ``PSP_SIMULATOR_<FIELD>``; durations in seconds, rates
    (``CHAOS_*_RATE``) a share from 0 to 1. Documented in services/payments/psp_simulator/README.md."""

    host: str = "127.0.0.1"
    port: int = 8090
    #: Base of the pay-page URLs it hands out; empty: ``http://<host>:<port>``.
    public_url: str = ""
    #: Its SQLite file; empty: ``<VR_VAR_DIR>/<VR_SCHEMA_PREFIX>psp-simulator.sqlite``.
    state: str = ""
    #: Bearer token of /admin; empty: generated once into ``psp-simulator-admin.token`` beside the state file.
    admin_token: str = ""
    #: JSON file of merchants upserted at start (empty: none).
    merchants_file: str = ""
    payment_ttl: int = 5400
    refund_delay: float = 0.0
    tick: float = 0.2
    webhook_retry_base: float = 5.0
    webhook_retry_max: float = 3600.0
    webhook_timeout: float = 10.0
    #: Attempts per delivery before it is given up; 0: retried until a 2xx.
    webhook_max_attempts: int = 0
    webhook_concurrency: int = 16
    chaos_duplicate_rate: float = 0.0
    chaos_delay: float = 0.0
    chaos_out_of_order_rate: float = 0.0
    chaos_out_of_order_delay: float = 5.0
    chaos_drop_rate: float = 0.0
    chaos_status_error_rate: float = 0.0
    chaos_late_success_rate: float = 0.0
    chaos_late_success_delay: float = 5.0
    chaos_refund_failure_rate: float = 0.0
    #: Seed of the chaos dice (empty: a new one per start).
    chaos_seed: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PspSimulatorSettings:
        env = os.environ if env is None else env
        loaded = _from_env(cls, env, prefix="PSP_SIMULATOR_")
        platform = Settings.from_env(env)
        return dataclasses.replace(
            loaded,
            public_url=(loaded.public_url or f"http://{loaded.host}:{loaded.port}").rstrip("/"),
            state=loaded.state or str(platform.var_dir / f"{platform.schema_prefix}psp-simulator.sqlite"),
        )


@dataclass(frozen=True)
class PaymentsSettings:
    """The payments service's settings: ``PAYMENTS_<FIELD>``, the provider's address ``PSP_BASE_URL``."""

    psp_base_url: str = "http://127.0.0.1:8090"
    #: JSON list of merchants (each tenant is one): merchant_id, api_key, webhook_secret and
    #: optionally tenant (default: the merchant_id), name, kassenzeichen_pattern. Empty:
    #: development merchants, their credentials derived from the deployment secret.
    merchants_file: str = ""
    #: An unpaid payment expires after this long (the pay page closes then, too).
    expiry_minutes: int = 90
    #: Seconds a webhook signature's timestamp may be off.
    webhook_tolerance: int = 300
    #: Default Kassenzeichen pattern ({code} {ags} {year} {yy} {seq}); empty: CODE-KYYYY-NNNNNN.
    kassenzeichen_pattern: str = ""
    psp_timeout: int = 10
    #: Seconds between the worker rounds: expire unpaid payments, poll unfinished ones, retry
    #: pending webhook notices and refunds.
    worker_interval: float = 30.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> PaymentsSettings:
        return _from_env(cls, os.environ if env is None else env, prefix="PAYMENTS_", names={"psp_base_url": "PSP_BASE_URL"})


@dataclass(frozen=True)
class WebSettings:
    """The web front end's settings: ``WEB_<FIELD>``. It is a client of the gateway's public
    API (``WEB_GATEWAY_URL``); its own address ``WEB_PUBLIC_URL`` decides whether its session
    cookie is ``Secure`` (https) and which ``Origin`` its forms may come from, and is where
    the links in account mails (verification, password reset) lead."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: Where the web reaches the gateway's JSON API.
    gateway_url: str = "http://127.0.0.1:8000"
    #: The portal's public address (``Origin`` of its forms; https makes the cookie Secure).
    public_url: str = ""
    #: Seconds a web session lives without a request.
    session_idle: int = 2 * 3600
    #: Key of the encrypted session cookie (>= 32 bytes; comma-separated: the first encrypts,
    #: every one decrypts, for rotation). Empty: a development key generated once under
    #: ``VR_VAR_DIR`` (``web-session.key``); production must set it, the same on every replica.
    session_secret: str = ""
    #: Pooled connections to the gateway.
    gateway_connections: int = 50
    gateway_timeout: float = 30.0
    #: Development: the SMTP sink's JSON API, to show the verification mail's link (empty: off).
    dev_mail_sink_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WebSettings:
        loaded = _from_env(cls, os.environ if env is None else env, prefix="WEB_")
        public = (loaded.public_url or f"http://{loaded.host}:{loaded.port}").rstrip("/")
        return dataclasses.replace(loaded, public_url=public, gateway_url=loaded.gateway_url.rstrip("/"))

    @property
    def cookie_secure(self) -> bool:
        return self.public_url.startswith("https://")


def amqp_uri() -> str:
    return settings().amqp_uri


def postgres_configured() -> bool:
    return settings().postgres_configured


def case_partition_dsn(partition: int, env: Mapping[str, str] | None = None) -> str:
    """``CASE_PARTITION_DSN_<k>``: where case partition k ≥ 1 lives (a libpq conninfo or URI;
    its database must exist), so partitions can be spread over several PostgreSQL servers.
    Empty: the platform's own database (POSTGRES_DSN / POSTGRES_*)."""
    if partition < 1:
        return ""
    return (os.environ if env is None else env).get(f"CASE_PARTITION_DSN_{partition}", "").strip()


# -- nameko ----------------------------------------------------------------------------------
def nameko_config(service: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The nameko container configuration of ``service`` (no YAML files to keep in step)."""
    current = Settings.from_env(env)
    config: dict[str, Any] = {
        "AMQP_URI": current.amqp_uri,
        "serializer": "json",
        "max_workers": current.service_max_workers,
    }
    if service == "gateway":
        config["WEB_SERVER_ADDRESS"] = f"{current.gateway_host}:{current.gateway_port}"
        config["max_workers"] = current.gateway_max_workers
        config["SUBMIT_PIPELINES"] = current.submit_pipelines
    return config
