"""Raising an account's trust level through an identity provider (eID)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from services.identity import onetime
from services.identity.application.base import IdentityBase
from services.identity.domain import NotPermitted, OneTimeTokenInvalid
from services.identity.eid import IdentityProvider


class TrustCommands(IdentityBase):
    def _provider(self) -> IdentityProvider:
        if self.eid_provider is None:
            raise NotPermitted("no eID provider configured (IDENTITY_EID_PROVIDER)")
        return self.eid_provider

    def start_eid_verification(self, account_id: str | UUID, return_url: str) -> dict[str, Any]:
        """Begin identity proofing; returns where to send the browser."""
        provider = self._provider()
        account = self._get_account(account_id)
        now = self._now()
        redirect = provider.start(str(account.id), return_url)
        expires = now + self._seconds(self.settings.eid_ttl)
        account.start_eid_verification(onetime.hash_secret(redirect.state), redirect.provider, expires, now)
        self.save(account)
        return {"redirect_url": redirect.url, "provider": redirect.provider, "expires_at": expires.isoformat()}

    def complete_eid_verification(self, account_id: str | UUID, callback_params: Mapping[str, str]) -> dict[str, Any]:
        """Finish identity proofing with the provider's callback parameters.

        The ``state`` must be the one issued to *this* account (single use, expiring)
        before the provider's answer is even looked at. Verified attributes go to the
        account's PersonalData; the level goes to the Account (TrustLevelRaised).
        Raises OneTimeTokenInvalid or eid.EidError.
        """
        provider = self._provider()
        account = self._get_account(account_id)
        state = callback_params.get("state")
        if not isinstance(state, str) or not state:
            raise OneTimeTokenInvalid("missing eID state")
        state_hash = onetime.hash_secret(state)
        now = self._now()
        account.check_eid_state(state_hash, now)  # before trusting the callback at all
        identity = provider.complete(callback_params)
        personal = self._get_personal(account)
        if personal is None:
            raise OneTimeTokenInvalid("account has no personal data")
        raised = account.complete_eid_verification(state_hash, identity.level, identity.provider, now)
        personal.record_eid(
            provider=identity.provider,
            level=identity.level,
            subject=identity.subject,
            attributes=dict(identity.attributes),
            now=now,
        )
        self._save_personal(personal)
        self.save(account)
        return {"trust_level": account.trust_level, "raised": raised}
