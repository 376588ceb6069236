"""Delivery over SMTP (smtplib), and what an SMTP answer means for the message.

Why this shape: the outcome decides the message's next state: a 5xx answer (e.g. 550,
no such mailbox) is a permanent failure; a 4xx answer, a refused or broken connection or a
timeout is temporary (retried later); anything else is ours (technical failure).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from services.common.config import Settings

DELIVERED, TEMPORARY, PERMANENT = "delivered", "temporary", "permanent"
KIND_HEADER = "X-Message-Kind"


class SmtpTransport:
    def __init__(self, settings: Settings, timeout: float = 10.0):
        self.settings = settings
        self.timeout = timeout

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
        s = self.settings
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=self.timeout) as client:
                if s.smtp_starttls:
                    client.starttls(context=ssl.create_default_context())
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password)
                client.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code = min(code for code, _ in exc.recipients.values())
            return (PERMANENT if code >= 500 else TEMPORARY), f"smtp {code}"
        except smtplib.SMTPResponseException as exc:
            return (PERMANENT if exc.smtp_code >= 500 else TEMPORARY), f"smtp {exc.smtp_code}"
        except (OSError, smtplib.SMTPException) as exc:
            return TEMPORARY, exc.__class__.__name__
        return DELIVERED, ""
