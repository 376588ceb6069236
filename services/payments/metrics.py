"""The payments service's own Prometheus metrics (served on its process's /metrics port)."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOKS = Counter("vr_payments_webhooks_total", "Provider webhooks by result", ["result"])
NOTICES = Counter("vr_payments_notices_total", "Provider notices applied, by outcome", ["outcome"])
REFUNDS = Counter("vr_payments_refunds_total", "Refunds requested", ["kind"])
MISMATCHES = Counter("vr_payments_reconciliation_mismatches_total", "Reconciliation mismatches found", ["problem"])
PROVIDER_ERRORS = Counter("vr_payments_provider_errors_total", "Calls to the provider that failed", ["call", "kind"])
