"""The payments service's own Prometheus metrics (served on its process's /metrics port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WEBHOOKS = Counter("vr_payments_webhooks_total", "Provider webhooks by result", ["result"])
NOTICES = Counter("vr_payments_notices_total", "Provider notices applied, by outcome", ["outcome"])
REFUNDS = Counter("vr_payments_refunds_total", "Refunds requested", ["kind"])
MISMATCHES = Counter("vr_payments_reconciliation_mismatches_total", "Reconciliation mismatches found", ["problem"])
PROVIDER_ERRORS = Counter("vr_payments_provider_errors_total", "Calls to the provider that failed", ["call", "kind"])

#: Payments by their state now (a refunded payment stays ``paid``), counted from the read model
#: every worker round; every state has its series, 0 when none is in it.
STATES = ("created", "open", "paid", "failed", "cancelled", "expired")
BY_STATE = Gauge("vr_payments_state_payments", "Payments by state, from the read model", ["state"])


def count_states(rows: list[tuple]) -> None:
    counts = dict.fromkeys(STATES, 0) | {str(state): int(count) for state, count in rows}
    for state, count in counts.items():
        BY_STATE.labels(state).set(count)
