"""Helpers for the PSP simulator tests: the simulator as a real process, a real HTTP server
that receives its webhooks, and the README's signature check written here from the README
(not imported from the simulator, as the platform's own verifier will be)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.support import ROOT, eventually, free_port

#: Fast retries and ticks so the tests need not wait for the production backoff.
FAST = {
    "PSP_SIMULATOR_TICK": "0.05",
    "PSP_SIMULATOR_WEBHOOK_RETRY_BASE": "0.05",
    "PSP_SIMULATOR_WEBHOOK_RETRY_MAX": "0.5",
    "PSP_SIMULATOR_WEBHOOK_TIMEOUT": "5",
}
TOLERANCE = 300


def verify_signature(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """The README's scheme: ``t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>``,
    within 300 s of now, compared in constant time."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if not parts.get("t", "").isdigit() or "v1" not in parts:
        return False
    timestamp = int(parts["t"])
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE:
        return False
    expected = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server standing in for the platform's webhook endpoint: records every
    request and answers the statuses queued with :meth:`answer`, then ``fallback`` (200;
    503 stands for a platform that is down)."""

    def __init__(self) -> None:
        self.fallback = 200
        self.requests: list[Received] = []
        self._statuses: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    status = receiver._statuses.popleft() if receiver._statuses else receiver.fallback
                    receiver.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/psp"

    def answer(self, *statuses: int) -> None:
        with self._lock:
            self._statuses.extend(statuses)

    def received(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def accepted(self, payment_id: str | None = None) -> list[dict[str, Any]]:
        """Events answered with a 2xx, in arrival order (of one payment)."""
        events = [r.event for r in self.received() if 200 <= r.answered < 300]
        return [e for e in events if payment_id is None or _payment_id(e) == payment_id]

    def wait_for(self, count: int, payment_id: str | None = None, timeout: float = 20) -> list[dict[str, Any]]:
        return eventually(lambda: (got := self.accepted(payment_id)) and len(got) >= count and got, timeout=timeout)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _payment_id(event: dict[str, Any]) -> str:
    return event["data"]["payment"]["id"]


@dataclass
class Merchant:
    merchant_id: str
    api_key: str
    webhook_secret: str
    http: httpx.Client
    psp_url: str
    keys: list[str] = field(default_factory=list)

    def create(self, key: str | None = None, **changes: Any) -> httpx.Response:
        body = {"amount": 1300, "currency": "EUR", "purpose": "Fuehrungszeugnis", "merchant_reference": "KZ-1",
                "return_url": "http://127.0.0.1:8000/zahlung/zurueck", **changes}
        return self.http.post("/v1/payments", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})

    def payment(self, **changes: Any) -> dict[str, Any]:
        response = self.create(**changes)
        assert response.status_code == 201, response.text
        return response.json()

    def status(self, payment_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/payments/{payment_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def pay(self, payment: dict[str, Any], outcome: str = "success", method: str = "card") -> httpx.Response:
        """The payer's choice on the hosted pay page."""
        return httpx.post(payment["pay_url"], data={"method": method, "outcome": outcome}, timeout=10)

    def paid(self, **changes: Any) -> dict[str, Any]:
        payment = self.payment(**changes)
        assert self.pay(payment).status_code == 303
        return self.status(payment["id"])


class PspProcess:
    """``python -m services.payments.psp_simulator`` on a free port with its own state file."""

    def __init__(self, var_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = f"admin-{uuid.uuid4().hex}"
        self.log = var_dir / "psp-simulator.log"
        self.env = {
            **os.environ, **FAST, "PYTHONPATH": str(ROOT), "VR_VAR_DIR": str(var_dir), "METRICS_PORT": "0",
            "PSP_SIMULATOR_PORT": str(self.port), "PSP_SIMULATOR_ADMIN_TOKEN": self.admin_token, **env,
        }
        self.proc: subprocess.Popen | None = None
        self.admin = httpx.Client(base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {self.admin_token}"})

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "services.payments.psp_simulator"], cwd=ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-3000:])
            try:
                return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        eventually(up, timeout=30)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        return code

    def merchant(self, receiver: Receiver) -> Merchant:
        merchant_id = f"m_{uuid.uuid4().hex[:10]}"
        response = self.admin.put(f"/admin/merchants/{merchant_id}", json={"name": "Stadt Cloppenburg", "webhook_url": receiver.url})
        assert response.status_code == 201, response.text
        shown = response.json()
        http = httpx.Client(base_url=self.url, timeout=10, headers={"Authorization": f"Bearer {shown['api_key']}"})
        return Merchant(merchant_id, shown["api_key"], shown["webhook_secret"], http, self.url)

    def chaos(self, **switches: float) -> dict[str, float]:
        response = self.admin.put("/admin/chaos", json=switches)
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, payment_id: str) -> list[dict[str, Any]]:
        return self.admin.get("/admin/events", params={"payment_id": payment_id}).json()["events"]

    def close(self) -> None:
        if self.proc is not None:
            self.stop()
        self.admin.close()


@contextmanager
def psp_process(var_dir: Path, **env: str) -> Iterator[PspProcess]:
    process = PspProcess(var_dir, **env)
    try:
        process.start()
        yield process
    finally:
        process.close()
