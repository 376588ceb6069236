"""Usage and acceptance KPIs: a projection of the integration events of submissions and
payments (``python -m services.insights.projector``) and a read-only RPC service over it."""
