"""The simulator's Prometheus metrics (served by services.common.metrics on its own port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PAYMENTS = Counter("vr_psp_sim_payments_total", "Payments created or moved to a status", ["status"])
REFUNDS = Counter("vr_psp_sim_refunds_total", "Refunds created or settled", ["status"])
WEBHOOK_ATTEMPTS = Counter("vr_psp_sim_webhook_attempts_total", "Webhook delivery attempts", ["result"])
WEBHOOKS_PENDING = Gauge("vr_psp_sim_webhooks_pending_messages", "Webhook deliveries not yet answered with a 2xx")
CHAOS_INJECTED = Counter("vr_psp_sim_chaos_injected_total", "Faults injected by the chaos switches", ["kind"])
