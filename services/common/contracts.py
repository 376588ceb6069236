"""The machine-readable contracts in ``contracts/``: the gateway's OpenAPI document, the
JSON Schemas of the integration events (``contracts/events/<type>.json``) and the list of
Prometheus metrics (``contracts/metrics.yaml``)."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import yaml
from jsonschema import Draft202012Validator, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
EVENTS_DIR = CONTRACTS_DIR / "events"
ENVELOPE = "envelope.v1"


@cache
def load_openapi() -> dict[str, Any]:
    """``contracts/openapi.yaml`` as a dict (parsed once)."""
    with open(CONTRACTS_DIR / "openapi.yaml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@cache
def metric_catalog() -> dict[str, dict[str, Any]]:
    """``contracts/metrics.yaml``: every exported metric by name (type, unit, labels, help)."""
    with open(CONTRACTS_DIR / "metrics.yaml", encoding="utf-8") as handle:
        return {entry["name"]: entry for entry in yaml.safe_load(handle)["metrics"]}


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    """Every event schema by its file name without ``.json`` (which is the event type)."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(EVENTS_DIR.glob("*.json"))
    }


@cache
def _registry() -> Registry:
    """The schemas under their ``$id``s, so relative refs (``envelope.v1.json``) resolve locally."""
    return Registry().with_resources(
        (schema["$id"], DRAFT202012.create_resource(schema)) for schema in _schemas().values()
    )


def event_types() -> list[str]:
    """Every event type published today, e.g. ``case.submitted.v1`` (not the retired ones)."""
    return [name for name, schema in _schemas().items() if name != ENVELOPE and not schema.get("deprecated")]


def retired_event_types() -> list[str]:
    """Event types no longer published; their schemas stay for consumers of older messages."""
    return [name for name, schema in _schemas().items() if name != ENVELOPE and schema.get("deprecated")]


@cache
def event_validator(event_type: str) -> Draft202012Validator:
    """A validator for one event type (or ``envelope.v1``), with formats asserted."""
    schema = _schemas().get(event_type)
    if schema is None:
        raise KeyError(f"no schema for event type {event_type!r} in {EVENTS_DIR}")
    return Draft202012Validator(schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def validate_event(envelope: Any) -> None:
    """Raise :class:`jsonschema.ValidationError` unless ``envelope`` matches the schema of its type."""
    event_type = envelope.get("type") if isinstance(envelope, dict) else None
    if event_type == ENVELOPE or event_type not in _schemas():
        event_validator(ENVELOPE).validate(envelope)  # the precise error if the envelope is malformed
        raise ValidationError(f"unknown event type {event_type!r}", validator="enum", instance=event_type)
    event_validator(event_type).validate(envelope)


@cache
def snake_name(cls: type) -> str:
    """``RefundRequested`` → ``refund_requested`` (once per class: a rebuild maps millions of events)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


def event_type(aggregate: str, domain_event: Any) -> str:
    """``<aggregate>.<event name in snake case>.v1``, e.g. ``payment.refund_requested.v1``."""
    return f"{aggregate}.{snake_name(type(domain_event))}.v1"


def event_id(aggregate_id: UUID, version: int) -> str:
    """Deterministic, so a re-published event keeps its id and consumers can deduplicate."""
    return str(uuid5(aggregate_id, str(version)))


def envelope(domain_event: Any, event_type: str, data: dict[str, Any], position: int | None) -> dict[str, Any]:
    """The integration event (``envelope.v1``) of a domain event that carries tenant,
    service_id, actor and correlation_id, with its type-specific ``data``."""
    return {
        "event_id": event_id(domain_event.originator_id, domain_event.originator_version),
        "type": event_type,
        "occurred_at": domain_event.timestamp.isoformat(),
        "tenant": domain_event.tenant,
        "service_id": domain_event.service_id,
        "aggregate_id": str(domain_event.originator_id),
        "aggregate_version": domain_event.originator_version,
        "position": position,
        "actor": domain_event.actor,
        "correlation_id": domain_event.correlation_id,
        "causation_id": None,
        "data": data,
    }
