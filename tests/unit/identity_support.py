"""Moved to :mod:`tests.identity_support` (shared by tests/unit and tests/integration);
this name stays only until tests/unit/test_identity_domain.py imports the new one."""

from tests.identity_support import *  # noqa: F403
