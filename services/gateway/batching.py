"""Group commit on the gateway side: submissions arriving at the same time travel to the
submissions service in one RPC.

Each pipeline is a greenthread that owns its RPC proxy (a standalone proxy cannot be
shared between greenthreads). It takes whatever requests are queued — no fixed wait
window: under light load a batch holds one submission, under heavy load hundreds —
sends them in one ``submit_batch`` call and wakes every waiting request with its result.
"""

from __future__ import annotations

from typing import Any

import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from nameko.standalone.rpc import ClusterRpcProxy

from services.common import logs, metrics


class SubmitBatcher(DependencyProvider):
    def __init__(self, pipelines: int = 2, max_batch: int = 500, timeout: float = 20.0):
        self.pipelines = pipelines
        self.max_batch = max_batch
        self.timeout = timeout

    def setup(self) -> None:
        self.queue: LightQueue = LightQueue()
        self.running = True
        self.pipelines = int(self.container.config.get("SUBMIT_PIPELINES", self.pipelines))
        self.log = logs.get_logger("batcher")

    def start(self) -> None:
        for n in range(self.pipelines):
            self.container.spawn_managed_thread(self._pipeline, identifier=f"submit-pipeline-{n}")

    def stop(self) -> None:
        """Let every pipeline finish its batch and end (one sentinel each)."""
        self.running = False
        for _ in range(self.pipelines):
            self.queue.put(None)

    def kill(self) -> None:
        self.stop()

    def _take_batch(self) -> list[tuple[dict[str, Any], Event]]:
        """Whatever is queued (at least one request); empty when the container stops."""
        first = self.queue.get()
        if first is None:
            return []
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                item = self.queue.get_nowait()
            except Empty:
                break
            if item is None:
                self.queue.put(None)  # for the next pipeline; finish this batch first
                break
            batch.append(item)
        return batch

    def _pipeline(self) -> None:
        while self.running:
            try:
                with ClusterRpcProxy(self.container.config, timeout=self.timeout) as proxy:
                    while self.running:
                        batch = self._take_batch()
                        if not batch:
                            return
                        metrics.BATCH_SIZE.labels("gateway").observe(len(batch))
                        try:
                            results = proxy.submissions.submit_batch([command for command, _ in batch])
                        except Exception as exc:
                            for _, waiter in batch:
                                waiter.send_exception(exc)
                            raise
                        for (_, waiter), result in zip(batch, results, strict=True):
                            waiter.send(result)
            except Exception as exc:  # noqa: BLE001 - reconnect after a broker or service failure
                self.log.warning("submit_pipeline_restarting", error=repr(exc))
                eventlet.sleep(0.5)

    def submit(self, command: dict[str, Any]) -> dict[str, Any]:
        waiter = Event()
        self.queue.put((command, waiter))
        with eventlet.Timeout(self.timeout + 5):
            return waiter.wait()

    def get_dependency(self, worker_ctx: Any) -> Any:
        return self.submit
