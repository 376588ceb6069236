"""A citizen's notification preferences (language de/en, e-mail per message kind on/off),
and the short-lived secrets of identity's account mails.

Why tables and not events: both are current settings, not history — a preference is
overwritten, and an account mail's address and link (with its one-time token) must be gone
once the mail is delivered (or failed for good, or expired), and all of a person's rows
once their account is deleted. Neither is ever logged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.common.db import ReadStore
from services.common.problems import DomainError
from services.notifications.kinds import CASE_KINDS
from services.notifications.rendering import DEFAULT_LANGUAGE, LANGUAGES

DDL = """
CREATE TABLE IF NOT EXISTS preferences (account_id TEXT PRIMARY KEY, language TEXT NOT NULL,
    email TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mail_secrets (message_id TEXT PRIMARY KEY, recipient TEXT NOT NULL,
    address TEXT NOT NULL, link TEXT, expires_at TEXT NOT NULL)
"""


def defaults() -> dict[str, Any]:
    return {"language": DEFAULT_LANGUAGE, "email": dict.fromkeys(CASE_KINDS, True)}


class Preferences:
    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def get(self, account_id: str) -> dict[str, Any]:
        """The citizen's preferences; every kind is listed (new kinds default to on)."""
        rows = self.store.query("SELECT language, email FROM preferences WHERE account_id = ?", (account_id,))
        found = defaults()
        if rows:
            found["language"] = rows[0][0]
            found["email"].update({k: v for k, v in json.loads(rows[0][1]).items() if k in CASE_KINDS})
        return found

    def put(self, account_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change what ``body`` names (language, some kinds); the rest stays."""
        language = body.get("language")
        email = body.get("email", {})
        if language is not None and language not in LANGUAGES:
            raise DomainError("invalid_parameter", name="language", detail=", ".join(LANGUAGES))
        if not isinstance(email, dict) or any(k not in CASE_KINDS or not isinstance(v, bool) for k, v in email.items()):
            raise DomainError("invalid_parameter", name="email", detail=", ".join(CASE_KINDS))
        current = self.get(account_id)
        changed = {"language": language or current["language"], "email": {**current["email"], **email}}
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO preferences (account_id, language, email, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account_id) DO UPDATE SET language = excluded.language, email = excluded.email, "
                "updated_at = excluded.updated_at",
                (account_id, changed["language"], json.dumps(changed["email"]), datetime.now(UTC).isoformat()),
            )
        return changed

    def delete(self, account_id: str) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM preferences WHERE account_id = ?", (account_id,))


class MailSecrets:
    """An account mail's address and link until it is delivered, failed for good or expired."""

    def __init__(self, store: ReadStore):
        self.store = store
        store.executescript(DDL)

    def keep(self, message_id: str, recipient: str, address: str, link: str | None, expires_at: str) -> None:
        with self.store.transaction() as cur:
            cur.execute(
                "INSERT INTO mail_secrets (message_id, recipient, address, link, expires_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (message_id) DO NOTHING",
                (message_id, recipient, address, link, expires_at),
            )

    def get(self, message_id: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT address, link, expires_at FROM mail_secrets WHERE message_id = ?", (message_id,))
        return {"email": rows[0][0], "link": rows[0][1], "expires_at": rows[0][2]} if rows else None

    def forget(self, message_id: str) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM mail_secrets WHERE message_id = ?", (message_id,))

    def forget_recipient(self, recipient: str) -> None:
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM mail_secrets WHERE recipient = ?", (recipient,))

    def forget_expired(self, now: str) -> int:
        """Links past their token's expiry are worthless: the messages fail when due."""
        with self.store.transaction() as cur:
            return cur.execute("DELETE FROM mail_secrets WHERE expires_at <= ?", (now,)).rowcount
