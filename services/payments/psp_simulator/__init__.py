"""A payment service provider (PSP) simulator: its own HTTP process, another company as far
as the platform is concerned (the platform talks to it over HTTP only and imports none of
it). The contract is services/payments/psp_simulator/README.md.

Modules: ``store`` (SQLite state), ``provider`` (payments and refunds), ``webhooks``
(signed, retried deliveries), ``chaos`` (fault injection), ``settlement`` (daily CSV),
``merchants`` (registry and authentication), ``api``/``admin``/``paypage`` (HTTP), ``app``.
"""
