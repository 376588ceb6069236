"""The rules consumer's own metrics (registered once, in the process that imports them)."""

from prometheus_client import Counter

#: Overdue notices by who got them: ``team_lead`` (each lead one), or ``authority_fallback``
#: (the tenant has no team lead: the authority's own address from the catalog).
OVERDUE_NOTICES = Counter(
    "vr_rules_overdue_notices_total", "Overdue-case notices handed to notifications, by who got them", ["outcome"]
)
