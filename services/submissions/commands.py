"""What arrives at the submissions service: submit commands, the offering in force for
them, and the checks of their input (form validation with errors per field)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jsonschema import FormatChecker

from services.common.authz import TRUST_LEVELS, trust_rank
from services.common.problems import DomainError, text
from services.common.secrets import keyed_hex
from services.common.validation import CompiledValidator

_FORMAT_CHECKER = FormatChecker()
#: Compiled form validators per (service, form version): a version never changes, and the
#: offering cache asks the catalog again every few seconds.
_VALIDATORS: dict[tuple[str, int], CompiledValidator] = {}


def form_validator(service_id: str, version: int, form: dict[str, Any]) -> CompiledValidator:
    """The compiled validator of one form version (built once; rebuilt should a catalog
    ever answer a different schema under the same version)."""
    key = (service_id, version)
    cached = _VALIDATORS.get(key)
    if cached is None or cached.schema != form:
        if len(_VALIDATORS) > 1000:
            _VALIDATORS.clear()
        cached = _VALIDATORS[key] = CompiledValidator(form, format_checker=_FORMAT_CHECKER)
    return cached


@dataclass(frozen=True)
class Offering:
    """What the catalog says about a service at one portal, at submission time."""

    tenant: str  # responsible authority (AGS)
    tenant_code: str  # reference prefix, e.g. VEC
    service_id: str
    ozg_id: str
    leika_key: str
    form_version: int
    fee_cents: int
    processing_days: int
    trust_level: str
    form_schema: dict[str, Any]
    validator: CompiledValidator = field(compare=False, repr=False)

    @classmethod
    def from_catalog(cls, data: dict[str, Any]) -> Offering:
        return cls(
            tenant=data["tenant"],
            tenant_code=data["tenant_code"],
            service_id=data["service_id"],
            ozg_id=data["ozg_id"],
            leika_key=data["leika_key"],
            form_version=data["form_version"],
            fee_cents=data["fee_cents"],
            processing_days=data["processing_days"],
            trust_level=data.get("trust_level", "basic"),
            form_schema=data["form"],
            validator=form_validator(data["service_id"], data["form_version"], data["form"]),
        )


@dataclass
class SubmitCommand:
    portal: str
    service_id: str
    form_data: dict[str, Any]
    applicant: dict[str, Any]
    principal: str
    idempotency_key: str
    correlation_id: str
    form_version: int | None = None
    actor: str | None = None  # who typed it in: the applicant, or a clerk assisting them
    trust_level: str = "basic"
    assisted: bool = False
    draft_id: str | None = None  # submit this draft of the principal's (form data, portal, service from it)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmitCommand:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})

    def check_trust(self, required: str) -> None:
        """A service may demand identity proof (BundID-like levels). A clerk who assisted
        at the counter has seen the citizen's ID, which is what the level stands for."""
        if self.assisted:
            return
        needed = trust_rank(required) if required in TRUST_LEVELS else trust_rank("high")
        if trust_rank(self.trust_level) < needed:
            raise DomainError("trust_level_insufficient", required=required, current=self.trust_level)

    def fingerprint(self, secret: bytes | None = None) -> str:
        """Tells a retry (same key, same request) from a reused key. Keyed with the
        deployment secret (default: the configured one), so the stored value cannot
        confirm a guessed name or form."""
        canonical = json.dumps(
            {
                "portal": self.portal,
                "service_id": self.service_id,
                "form_data": self.form_data,
                "applicant": self.applicant,
                "form_version": self.form_version,
            },
            sort_keys=True, separators=(",", ":"), ensure_ascii=False,
        )
        return keyed_hex("request-fingerprint", canonical, secret)


def field_errors(validator: CompiledValidator, data: Any) -> list[dict[str, Any]]:
    """jsonschema errors as one entry per field (JSON pointer); the message is rendered in
    the caller's language at the edge."""
    errors = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        path = "/" + "/".join(str(p) for p in error.absolute_path)
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = path.rstrip("/") + "/" + missing
            message = text("field_required")
        elif error.validator == "additionalProperties":
            message = text("field_unknown")
        else:
            message = text("field_invalid", rule=str(error.validator), detail=error.message)
        errors.append({"field": path, "code": str(error.validator), "message": message})
    return errors


def text_field(payload: dict[str, Any]) -> Callable[..., str]:
    def get(name: str, limit: int, required: bool = False) -> str:
        value = payload.get(name, "")
        if not isinstance(value, str) or len(value) > limit or (required and not value.strip()):
            raise DomainError(
                "invalid_parameter", name=name, detail=text("text_length", limit=limit)
            )
        return value.strip()

    return get


def int_field(payload: dict[str, Any], name: str, default: int) -> int:
    value = payload.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DomainError("invalid_parameter", name=name, detail=text("integer_min_0"))
    return value


def date_field(value: Any) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise DomainError("invalid_parameter", name="due_date", detail=text("iso_date")) from None
