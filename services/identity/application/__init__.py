"""The identity application: accounts, credentials, sessions, trust, grants, privacy.

``IdentityApplication`` is an eventsourcing ``Application``: every command loads
aggregates, lets them decide, and saves the new events; it returns plain values
(dicts and the dataclasses in :mod:`.results`), never aggregates. The command groups
live in sibling modules to keep each short; this class only composes them.

    app = IdentityApplication()                                   # POPO, in memory
    app = IdentityApplication(env=eventstore_env("identity"))     # SQLite / PostgreSQL

Constructor keywords (all optional) inject the clock, token keys, eID provider,
password service and login throttle — tests use them instead of mocks.
"""

from __future__ import annotations

from .accounts import AccountCommands
from .privacy import PrivacyCommands
from .results import Accepted, Created, LoginResult, MailToSend, TokenPair
from .sessions import SessionCommands
from .settings import IdentitySettings
from .staff import StaffCommands
from .trust import TrustCommands


class IdentityApplication(AccountCommands, SessionCommands, StaffCommands, TrustCommands, PrivacyCommands):
    name = "identity"


__all__ = [
    "Accepted",
    "Created",
    "IdentityApplication",
    "IdentitySettings",
    "LoginResult",
    "MailToSend",
    "TokenPair",
]
