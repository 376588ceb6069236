"""From what submissions tells about a case (``submissions.rule_facts``/``past_cases``) to
the facts a rule's conditions may test. The registry is asked only here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.rules.domain.evaluation import CaseFacts
from services.rules.registry import Registry, demo_registry


def case_facts(item: dict[str, Any], now: datetime, registry: Registry | None = None,
               ask_registry: bool = True) -> CaseFacts:
    """``ask_registry=False`` when no condition tests ``registry_address_match`` (it is then
    None, never true): the registry is the costly fact."""
    form = item.get("form_data") or {}
    submitted = datetime.fromisoformat(item["submitted_at"])
    fee = int(item.get("fee_cents") or 0)
    facts = {
        "trust_level": item.get("trust_level") or "basic",
        "fee_cents": fee,
        "fee_paid": fee == 0 or int(item.get("paid_cents") or 0) >= fee,
        "age_days": max(0, (now - submitted).days),
        "postcode": form.get("postal_code") or form.get("holder_postal_code"),
        "registry_address_match": (registry or demo_registry()).address_matches(form) if ask_registry else None,
        "weekday": now.isoweekday(),
    }
    return CaseFacts(item["case_id"], item["tenant"], item["service_id"], item["status"], form, facts,
                     item.get("reference") or "")
