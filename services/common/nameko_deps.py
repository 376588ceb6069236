"""nameko dependency providers shared by every service: a ready application per container,
correlation ids carried through RPC and events, and entrypoint metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nameko.exceptions import RemoteError
from nameko.extensions import DependencyProvider
from nameko.timer import Timer

from services.common import logs, metrics
from services.common.config import Settings
from services.common.problems import DomainError


class Provided(DependencyProvider):
    """Builds one object per container at setup (e.g. an eventsourcing Application)
    and hands the same ready object to every worker."""

    def __init__(self, factory: Callable[[], Any]):
        self.factory = factory
        self.instance: Any = None

    def setup(self) -> None:
        self.instance = self.factory()

    def stop(self) -> None:
        close = getattr(self.instance, "close", None)
        if callable(close):
            close()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.instance


class Config(DependencyProvider):
    """The platform settings (:class:`~services.common.config.Settings`), read from the
    environment once when the container starts."""

    def setup(self) -> None:
        self.settings = Settings.from_env()

    def get_dependency(self, worker_ctx: Any) -> Settings:
        return self.settings


class Observability(DependencyProvider):
    """Configures JSON logging and starts the process's /metrics endpoint (its port from
    :data:`services.common.config.METRICS_PORTS`)."""

    def __init__(self, service: str):
        self.service = service

    def setup(self) -> None:
        logs.configure(self.service)
        metrics.serve(self.service)


class Correlation(DependencyProvider):
    """Binds the correlation id of the incoming call (or a new one) to the worker's log
    context and to its context data, from where nameko copies it into every outgoing
    RPC call and event as the ``nameko.correlation_id`` header."""

    KEY = "correlation_id"

    def worker_setup(self, worker_ctx: Any) -> None:
        cid = logs.valid_correlation_id(worker_ctx.data.get(self.KEY))
        worker_ctx.data[self.KEY] = logs.bind_correlation_id(cid, service=worker_ctx.service_name)

    def get_dependency(self, worker_ctx: Any) -> Callable[[str | None], str]:
        def rebind(correlation_id: str | None) -> str:
            valid = logs.valid_correlation_id(correlation_id)
            if valid is None and worker_ctx.data.get(self.KEY):  # keep the new id worker_setup bound
                return worker_ctx.data[self.KEY]
            cid = logs.bind_correlation_id(valid, service=worker_ctx.service_name)
            worker_ctx.data[self.KEY] = cid
            return cid

        return rebind


class EntrypointMetrics(DependencyProvider):
    """Latency histogram and error counter for every entrypoint of the service."""

    def setup(self) -> None:
        self._started: dict[str, float] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        self._started[worker_ctx.call_id] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._started.pop(worker_ctx.call_id, None)
        name = worker_ctx.entrypoint.method_name
        service = worker_ctx.service_name
        if started is not None:
            metrics.ENTRYPOINT_LATENCY.labels(service, name).observe(time.perf_counter() - started)
        if exc_info is not None:
            metrics.ENTRYPOINT_ERRORS.labels(service, name, exc_info[0].__name__).inc()


class SettingTimer(Timer):
    """nameko's timer with its interval from a setting, read when the container starts
    (``@SettingTimer.decorator(interval_from=lambda: …)``, a keyword: nameko takes a lone
    function argument for the decorated method), not at import."""

    def __init__(self, interval_from: Callable[[], float], **kwargs: Any):
        self.interval_from = interval_from
        super().__init__(interval=0, **kwargs)

    def setup(self) -> None:
        self.interval = float(self.interval_from())


def domain_error(exc: RemoteError) -> DomainError | None:
    """The DomainError (of any subclass) a remote service raised, recognised by the marker
    its serialised value carries; None for anything else (a bug: a 500 at the edge)."""
    return DomainError.from_json(str(exc.value))


#: Errors a remote service raises while its database is away or restarting (psycopg's and
#: eventsourcing's, by class name as nameko serialises them): the caller should try again
#: later (503 service_unavailable), it is not a bug.
DATABASE_UNAVAILABLE = frozenset({
    "OperationalError", "InterfaceError", "ConnectionUnavailableError", "ConnectionPoolClosedError", "PoolTimeout",
    "PoolClosed", "TooManyRequests", "ConnectionTimeout", "AdminShutdown", "CrashShutdown", "CannotConnectNow",
    "ConnectionFailure", "ConnectionException", "SqlclientUnableToEstablishSqlconnection",
    "SqlserverRejectedEstablishmentOfSqlconnection", "ConnectionDoesNotExist", "TooManyConnections",
})


def database_unavailable(exc: RemoteError) -> bool:
    """The remote service could not reach its database (try again later), not a bug."""
    return exc.exc_type in DATABASE_UNAVAILABLE


def declare_rpc_queues_as(queue_type: str) -> None:
    """Make nameko declare each service's durable RPC queue (``rpc-<service>``) with
    ``x-queue-type`` (``AMQP_QUEUE_TYPE``, e.g. ``quorum`` on a RabbitMQ cluster). nameko 2
    has no setting for queue arguments, so its consumer's setup is wrapped once, before any
    container starts. Its reply and broadcast queues are transient (auto-delete, TTL) and
    stay classic: a quorum queue cannot be either."""
    from nameko.rpc import RpcConsumer

    original = getattr(RpcConsumer.setup, "original", RpcConsumer.setup)
    if not queue_type:  # as nameko declares them (also undoes an earlier call)
        RpcConsumer.setup = original  # type: ignore[method-assign]
        return

    def setup(self: Any) -> None:
        original(self)
        if self.queue is not None:
            self.queue.queue_arguments = {**(self.queue.queue_arguments or {}), "x-queue-type": queue_type}

    setup.original = original  # type: ignore[attr-defined]
    RpcConsumer.setup = setup  # type: ignore[method-assign]
