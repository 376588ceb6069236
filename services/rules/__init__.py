"""Rules as data: routing, reminders and automatic decisions per tenant and service,
versioned and audited, tried in shadow mode before they act (issue #16)."""
