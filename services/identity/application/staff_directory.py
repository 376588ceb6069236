"""Who holds a role in a tenant: ``staff_with_role(tenant, role)`` (issue #16: an overdue
case's notice goes to the tenant's team leads).

Why this read model: identity's event store keeps grants inside each Account stream, so
"every team lead of Vechta" would otherwise mean loading every account. The notification
log is read on, topic-filtered, from where the last call stopped, into an in-memory index
(tenant → accounts that ever asked for or got a role there); the candidates' Account
aggregates then decide — current grants, active, not locked, address verified — so a
revoked role, a lock or a deletion after indexing never slips through. Nothing more is
written on a grant; a restarted service reads the log again (a few events per staff member).
"""

from __future__ import annotations

from typing import Any

from eventsourcing.utils import get_topic

from services.common.authz import ROLES
from services.identity.application.base import IdentityBase
from services.identity.domain import STAFF_KINDS, Account, AccountNotFound, InvalidGrant

#: Events that name the tenant of a role (an approval names only its request: the request named it).
GRANT_TOPICS = sorted(get_topic(cls) for cls in (Account.RoleGranted, Account.GrantRequested))
PAGE = 500


class StaffDirectoryQueries(IdentityBase):
    _staff_read = 0  # the last notification id folded into the index
    _staff_index: dict[str, set[str]]

    def staff_with_role(self, tenant: str, role: str) -> list[dict[str, str]]:
        """Active, verified staff accounts holding ``role`` in ``tenant`` now: ``[{"account_id",
        "email"}]``, by account id. Only for the platform's own processes (RPC), never a caller."""
        if role not in ROLES:
            raise InvalidGrant(f"unknown role {role!r}")
        now, found = self._now(), []
        for account_id in sorted(self._staff_candidates().get(tenant, ())):
            try:
                account = self._get_account(account_id)
            except AccountNotFound:
                continue
            if (account.kind not in STAFF_KINDS or account.is_closed or account.status != "active"
                    or not account.email_verified or account.is_locked(now)
                    or role not in account.grants.get(tenant, {})):
                continue
            personal = self._get_personal(account)
            if personal is not None and personal.email:
                found.append({"account_id": account_id, "email": personal.email})
        return found

    def _staff_candidates(self) -> dict[str, set[str]]:
        """Tenant → account ids that ever asked for or got a role there, read on from the log."""
        if not hasattr(self, "_staff_index"):
            self._staff_index = {}
        while True:
            notes = self.recorder.select_notifications(self._staff_read + 1, PAGE, topics=GRANT_TOPICS)
            for note in notes:
                event: Any = self.mapper.to_domain_event(note)
                self._staff_index.setdefault(event.tenant, set()).add(str(note.originator_id))
                self._staff_read = note.id
            if len(notes) < PAGE:
                return self._staff_index
