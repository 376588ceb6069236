"""The payments application: owns the payments event store (payments, receivables,
Kassenzeichen sequences, the webhook inbox, reconciliations). Commands load → decide →
save and return plain values; :func:`open_payments` builds it on the configured store with
the provider's HTTP adapter and the configured merchants (service, workers and CLI alike).

Its parts, one concern each: ``base`` (stores, loading, saving with retry), ``cases``
(request, start, close), ``provider_state`` (webhook inbox, polling, expiry), ``refunds``,
``reconcile``; ``views`` shape the answers.
"""

from __future__ import annotations

from services.common.config import PaymentsSettings, settings
from services.common.db import open_application
from services.payments.application.cases import CasePayments
from services.payments.application.reconcile import Reconciling
from services.payments.merchants import Merchants
from services.payments.psp.http import HttpProvider


class PaymentsApp(CasePayments, Reconciling):
    """Every command of the payments service (see the parts named in the module docstring)."""

    name = "payments"


def open_payments() -> PaymentsApp:
    """The payments application on the configured store, provider and merchants."""
    payments, platform = PaymentsSettings.from_env(), settings()
    merchants = Merchants.from_settings(payments, platform)
    provider = HttpProvider(payments.psp_base_url, timeout=payments.psp_timeout)
    return open_application(
        lambda env: PaymentsApp(env, provider=provider, merchants=merchants, settings=payments), "payments"
    )


__all__ = ["PaymentsApp", "open_payments"]
