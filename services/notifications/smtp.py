"""Delivery over SMTP (smtplib), and what an SMTP answer means for the message.

Why this shape: a send round keeps one connection (a new one per mail costs a TCP and
SMTP handshake each). The outcome decides the message's next state: a 5xx answer (e.g. 550,
no such mailbox) is a permanent failure; a 4xx answer, a refused or broken connection or a
timeout is temporary (retried later); anything else is ours (technical failure).
"""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from services.common.config import Settings

DELIVERED, TEMPORARY, PERMANENT = "delivered", "temporary", "permanent"
KIND_HEADER = "X-Message-Kind"


@functools.cache
def local_hostname() -> str:
    """The name we greet with (EHLO): looked up once per process, not per mail (smtplib
    would ask DNS again for every connection)."""
    return socket.getfqdn()


class SmtpTransport:
    """One connection for a send round: opened at the first mail, kept for the next ones,
    closed by :meth:`close` (or dropped after an error; the next mail opens a new one)."""

    def __init__(self, settings: Settings, timeout: float = 10.0):
        self.settings = settings
        self.timeout = timeout
        self._client: smtplib.SMTP | None = None

    def _connected(self) -> smtplib.SMTP:
        if self._client is None:
            s = self.settings
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, local_hostname=local_hostname(), timeout=self.timeout)
            try:
                if s.smtp_starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password)
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def send(self, to: str, subject: str, text: str, html: str, kind: str = "") -> tuple[str, str]:
        """Send one mail; (outcome, error) with outcome DELIVERED, TEMPORARY or PERMANENT.
        ``kind`` goes along as ``X-Message-Kind`` (scripts and filters tell mails apart by it)."""
        mail = EmailMessage()
        mail["From"] = self.settings.mail_from
        mail["To"] = to
        mail["Subject"] = subject
        mail["Message-ID"] = make_msgid(domain=self.settings.mail_from.rpartition("@")[2] or None)
        if kind:
            mail[KIND_HEADER] = kind
        mail.set_content(text)
        mail.add_alternative(html, subtype="html")
        reused = self._client is not None
        try:
            try:
                self._connected().send_message(mail)
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if not reused:
                    raise
                self._connected().send_message(mail)  # the kept connection had gone: once more, fresh
        except smtplib.SMTPRecipientsRefused as exc:  # the connection stays usable (smtplib reset it)
            code = min(code for code, _ in exc.recipients.values())
            return (PERMANENT if code >= 500 else TEMPORARY), f"smtp {code}"
        except smtplib.SMTPResponseException as exc:
            self._drop()
            return (PERMANENT if exc.smtp_code >= 500 else TEMPORARY), f"smtp {exc.smtp_code}"
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            return TEMPORARY, exc.__class__.__name__
        return DELIVERED, ""
