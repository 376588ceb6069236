"""Development SMTP sink: receives every mail on SMTP_PORT and shows it — a page at
http://127.0.0.1:MAIL_SINK_PORT and ``GET /api/messages`` (JSON: to, subject, text, kind,
received_at; ``?to=`` and ``?kind=`` filter) for scripts and tests that follow a link in a
mail (e.g. the verification link: kind ``verify_email``).

    python -m services.notifications.sink

Development only (``make run`` and the e2e platform start it): it keeps mails in memory and
shows them to anyone who can reach the port. A recipient under the reserved ``.invalid``
domain is refused with ``550`` so a permanent failure can be tried out.
"""

from __future__ import annotations

import html
import logging
import sys
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from services.common import logs
from services.common.config import settings
from services.common.production import EXIT_REFUSED, refuse_unsafe_start
from services.notifications.smtp import KIND_HEADER


class Mailbox:
    """The aiosmtpd handler: keeps what it accepted, refuses ``*.invalid`` with 550."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        if address.rpartition("@")[2].lower().endswith(".invalid"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        body = parsed.get_body(preferencelist=("plain",))
        html_part = parsed.get_body(preferencelist=("html",))
        received_at = datetime.now(UTC).isoformat()
        with self._lock:
            for to in envelope.rcpt_tos:
                self._messages.append({
                    "to": to, "subject": str(parsed.get("Subject", "")),
                    "text": body.get_content() if body else "", "html": html_part.get_content() if html_part else "",
                    "kind": str(parsed.get(KIND_HEADER, "")),
                    "received_at": received_at,
                })
        return "250 Message accepted"

    def messages(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._messages]


def web_app(mailbox: Mailbox) -> Starlette:
    async def api_messages(request: Request) -> JSONResponse:
        to, kind = request.query_params.get("to"), request.query_params.get("kind")
        found = [
            {key: m[key] for key in ("to", "subject", "text", "kind", "received_at")}
            for m in mailbox.messages() if to in (None, m["to"]) and kind in (None, m["kind"])
        ]
        return JSONResponse(found)

    async def page(request: Request) -> HTMLResponse:
        rows = "".join(
            f"<tr><td>{html.escape(m['received_at'])}</td><td>{html.escape(m['to'])}</td>"
            f"<td>{html.escape(m['subject'])}</td><td><pre>{html.escape(m['text'])}</pre></td></tr>"
            for m in reversed(mailbox.messages())
        )
        return HTMLResponse(
            "<!doctype html><html lang='de'><head><meta charset='utf-8'><title>Mail-Sink</title></head><body>"
            "<h1>Empfangene Mails (Entwicklung)</h1><table border='1' cellpadding='4'>"
            f"<tr><th>Empfangen</th><th>An</th><th>Betreff</th><th>Text</th></tr>{rows}</table></body></html>"
        )

    return Starlette(routes=[Route("/", page), Route("/api/messages", api_messages)])


def start_smtp(mailbox: Mailbox, host: str, port: int) -> Controller:
    # aiosmtpd logs every SMTP command at INFO, recipients included: the mails stay in the
    # sink (its page and API), never in its log
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    # a fixed greeting name: otherwise every connection asks DNS for this host's FQDN
    controller = Controller(mailbox, hostname=host, port=port, server_hostname="mail-sink.localhost")
    controller.start()
    return controller


def main() -> int:
    refuse_unsafe_start("mail-sink")
    current = settings()
    if current.vr_env == "production":  # it shows every mail to whoever reaches its port
        print("mail-sink: a development tool; not started with VR_ENV=production", file=sys.stderr)
        return EXIT_REFUSED
    import uvicorn

    logs.configure("mail-sink")
    mailbox = Mailbox()
    controller = start_smtp(mailbox, current.smtp_host, current.smtp_port)
    logs.get_logger("mail-sink").info("mail_sink_started", smtp_port=current.smtp_port, http_port=current.mail_sink_port)
    try:
        uvicorn.run(web_app(mailbox), host="127.0.0.1", port=current.mail_sink_port, log_level="warning")
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
