"""Payments: fees paid online through a payment service provider (PSP), per tenant as its own
merchant; signed webhooks, refunds and reconciliation with the municipal cash office. See
README.md in this package."""
