"""The identity application: accounts, credentials, sessions, trust, grants, privacy.

``IdentityApplication`` is an eventsourcing ``Application``: every command loads
aggregates, lets them decide, and saves the new events; it returns plain values
(dicts and the dataclasses in :mod:`.results`), never aggregates. The command groups
live in sibling modules to keep each short; this class only composes them.

    app = IdentityApplication()                                   # POPO, in memory
    app = open_identity()                                          # SQLite / PostgreSQL

Constructor keywords (all optional) inject the clock, token keys, eID provider,
password service, login throttle and mail throttle — tests use them instead of mocks.
"""

from __future__ import annotations

from services.common.config import IdentitySettings
from services.common.db import open_application
from services.identity.application.accounts import AccountCommands
from services.identity.application.privacy import PrivacyCommands
from services.identity.application.results import Accepted, Created, LoginResult, MailToSend, TokenPair
from services.identity.application.revocations import RevocationQueries
from services.identity.application.sessions import SessionCommands
from services.identity.application.staff import StaffCommands
from services.identity.application.staff_directory import StaffDirectoryQueries
from services.identity.application.trust import TrustCommands


class IdentityApplication(
    AccountCommands, SessionCommands, RevocationQueries, StaffCommands, StaffDirectoryQueries, TrustCommands,
    PrivacyCommands,
):
    name = "identity"


def open_identity() -> IdentityApplication:
    """The identity application on the configured store (SQLite under var/ or PostgreSQL)."""
    return open_application(IdentityApplication, "identity")


__all__ = [
    "Accepted",
    "Created",
    "IdentityApplication",
    "IdentitySettings",
    "LoginResult",
    "MailToSend",
    "TokenPair",
    "open_identity",
]
